"""Run one hostile input in a fresh interpreter and measure what it cost: peak RSS above the interpreter's
own baseline (after the imports the code needs), CPU and wall time, and what it raised.

A subprocess is the only honest way to measure peak memory of one call: the child's peak resident set
(``VmHWM``) covers every allocation, numpy's and C libraries' included, and nothing the test process did.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

from tests.conftest import ROOT

_HARNESS = """
import json, sys, time
def peak_kib():
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec, so a
    # child of a big test process would start with the parent's peak and see nothing below it.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
{setup}
baseline = peak_kib()
start, cpu_start = time.perf_counter(), time.process_time()
outcome = "ok"
try:
{body}
except Exception as exc:  # the outcome is reported, and the test decides whether that type was expected
    outcome = f"{{type(exc).__module__}}.{{type(exc).__qualname__}}: {{exc}}"
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak = peak_kib()
print("HOSTILE" + json.dumps({{"outcome": outcome, "seconds": cpu, "wall": elapsed, "extra_kib": peak - baseline}}))
"""


@dataclass(frozen=True)
class Cost:
    outcome: str  # "ok", or "module.ExceptionType: message"
    #: CPU seconds of the call (every thread of the child: AppTest's script thread and pool workers too). The
    #: tests bound this, not wall time: on the shared test machine at nice 19 a neighbour's load stretched
    #: wall time 5-10x, while a stall of the kind the suite guards against (113 s of OpenCV border loops,
    #: 118 s of tie-breaking) is CPU work either way. bench/bench_hostile.py reports wall time.
    seconds: float
    wall_seconds: float
    extra_bytes: int  # peak RSS above the baseline taken after ``setup``
    stdout: str = ""  # what the child printed (e.g. per-step times), for reports

    def raised(self, error: type[BaseException]) -> bool:
        return self.outcome.startswith(f"{error.__module__}.{error.__qualname__}:")


def measure(setup: str, body: str, *, timeout: float = 600.0) -> Cost:
    """Run ``setup`` (imports, building the input) then ``body`` (the call under test) in a child process.

    The child's address space is not capped, so a regression shows as a number in the assertion rather
    than as a MemoryError; ``timeout`` only guards the suite against a hang.
    """
    code = _HARNESS.format(setup=textwrap.dedent(setup), body=textwrap.indent(textwrap.dedent(body), "    "))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("HOSTILE")), None)
    if line is None:
        raise AssertionError(f"the child died (rc {done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(line.removeprefix("HOSTILE"))
    return Cost(report["outcome"], report["seconds"], report["wall"], report["extra_kib"] * 1024, done.stdout)
