"""Which numeric code path is this process on? CI runs the suite twice, the second time with numpy's
dispatched SIMD kernels switched off, and uses this probe to show that the two runs really differ.

``python -m scripts.numeric_probe features`` prints the dispatched features this CPU enables (the value for
``NPY_DISABLE_CPU_FEATURES``); ``python -m scripts.numeric_probe digest`` prints a digest of last-bit results
(exp, power, arcsin over a fixed array: kernels numpy dispatches per CPU) and the kernels in use.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__


def enabled_dispatch_features() -> list[str]:
    """Dispatch targets that this CPU supports and this process has not disabled."""
    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def digest() -> str:
    x = np.linspace(-50.0, 50.0, 200_001)
    h = hashlib.sha256()
    for values in (np.exp(x / 10.0), np.power(np.abs(x), 1.0 / 3.0), np.arcsin(x / 51.0), np.sin(x)):
        h.update(values.tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str]) -> int:
    if argv == ["features"]:
        print(" ".join(enabled_dispatch_features()))
    elif argv == ["digest"]:
        print(f"{digest()} (dispatched kernels in use: {' '.join(enabled_dispatch_features()) or 'none'})")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
