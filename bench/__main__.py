"""Run every benchmark module (or those named on the command line): ``python -m bench [name ...]``."""

import importlib
import pkgutil
import sys
import time

import bench


def main(selected: list[str]) -> None:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    for name in names:
        print(f"\n## {name.removeprefix('bench_')}\n", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"\n({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
