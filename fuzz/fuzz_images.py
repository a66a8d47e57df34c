"""Fuzz target for ``services.imaging.load_image``: any exception other than ``ImageInputError`` is a bug.

``one_input(data)`` is the whole contract (the lead's ``make fuzz`` wraps it with atheris); running this file
directly replays the files named on the command line, e.g. a crash atheris wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.imaging import ImageInputError, load_image  # noqa: E402

#: Small enough that a fuzzer's thousands of inputs per second stay cheap; the limits scale with it.
MAX_SIDE = 256


def one_input(data: bytes) -> None:
    """Decode ``data`` as an upload would be; only a clear refusal is an acceptable failure."""
    try:
        loaded = load_image(data, max_side=MAX_SIDE)
    except ImageInputError:
        return
    pixels = loaded.pixels
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype.name != "uint8" or max(pixels.shape[:2]) > MAX_SIDE:
        raise AssertionError(f"load_image returned an unusable picture: {pixels.shape} {pixels.dtype}")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        one_input(Path(name).read_bytes())
        print(f"{name}: ok")
