"""``python -m fuzz NAME [SECONDS]``: fuzz one reader with atheris (libFuzzer) for a bounded time.

Each run starts from seeds built in ``fuzz.targets``, keeps its corpus in ``test-artifacts/fuzz/NAME`` (so a
later run continues from it) and stops at the time limit or at the first crash, which libFuzzer writes next to
the corpus as ``crash-*`` (the traceback is in ``test-artifacts/fuzz/NAME.log``; an image crash replays with
``python fuzz/fuzz_images.py FILE``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in _names():
        sys.exit(f"usage: python -m fuzz NAME [SECONDS]; NAME is one of {', '.join(_names())}")
    name, seconds = argv[0], int(argv[1]) if len(argv) > 1 else 60
    from fuzz.targets import target

    with atheris.instrument_imports(include=["services"]):  # our readers only: libraries stay fast
        chosen = target(name)
    corpus = ROOT / "test-artifacts" / "fuzz" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(chosen.seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)
    args = [sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=10",
            f"-artifact_prefix={corpus}/", "-print_final_stats=1"]
    atheris.Setup(args, chosen.one_input)
    atheris.Fuzz()


def _names() -> tuple[str, ...]:
    from fuzz.targets import NAMES

    return NAMES


if __name__ == "__main__":
    main(sys.argv[1:])
