"""The affine page in headless Chromium: slider -> painted time, and the bytes one rerun sends.

``python -m bench.affine_browser [rounds] [other_checkout ...]`` starts ``streamlit run app.py`` for this
checkout (and for each other checkout named, e.g. an export of an older commit, plus this checkout with
``--runner.postScriptGC false``), opens /affine at 1440 x 1000 in each, and then, round by round and
interleaved so that a busy machine slows every variant alike, moves the last step slider (the rotation) one
degree further with the keyboard. Each move is timed from the key press to the output picture's new source
decoded, and the websocket messages and /media/ bodies received are counted. Not part of ``python -m bench``
(it needs Chromium and servers); the numbers go in the issue 17 closing note.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import RECEIVED_BYTES_COUNTER, streamlit_run
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, settle

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = '[data-testid="stImage"] img'
RECEIVED = """() => ({websocket: window.__wsBytes, media: performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/media/')).reduce((total, e) => total + e.encodedBodySize, 0)})"""


def _output_source(tab) -> str:
    return tab.eval_on_selector_all(OUTPUT, "els => els.map(e => e.currentSrc).join('|')")


def move_once(tab) -> tuple[float, int, int]:
    """One slider step: (ms to painted, websocket bytes, media bytes)."""
    before, already = _output_source(tab), tab.evaluate(RECEIVED)
    thumb = tab.locator('[data-testid="stSlider"] input[type="range"]').last
    thumb.focus()
    started = time.perf_counter()
    tab.keyboard.press("ArrowRight")  # always a new angle: Streamlit resends no message the tab has cached
    while time.perf_counter() - started < 30:
        if _output_source(tab) != before and tab.eval_on_selector_all(OUTPUT, "els => els.every(e => e.complete)"):
            break
        time.sleep(0.01)
    elapsed = (time.perf_counter() - started) * 1000
    time.sleep(1.0)  # the rerun's late messages
    now = tab.evaluate(RECEIVED)
    return elapsed, now["websocket"] - already["websocket"], now["media"] - already["media"]


def measure(variants: dict[str, tuple[Path, tuple[str, ...]]], rounds: int) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tabs, first = {}, {}
        for name, (root, extra) in variants.items():
            url = stack.enter_context(streamlit_run(_free_port(), root, *extra))
            tab = browser.new_page(viewport={"width": 1440, "height": 1000})
            tab.add_init_script(RECEIVED_BYTES_COUNTER)
            tab.goto(f"{url}/affine")
            settle(tab)
            move_once(tab)  # warm caches and imports
            tabs[name], first[name] = tab, tab.evaluate(RECEIVED)
        samples: dict[str, list[tuple[float, int, int]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, tab in tabs.items():
                samples[name].append(move_once(tab))
        browser.close()
    report = {}
    for name, rows in samples.items():
        times = sorted(row[0] for row in rows)
        report[name] = {
            "p50 ms": round(statistics.median(times)),
            "p95 ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]),
            "websocket B/rerun": round(statistics.median(row[1] for row in rows)),
            "media B/rerun": round(statistics.median(row[2] for row in rows)),
        }
    return report


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    variants = {"this checkout": (ROOT, ()),
                "this checkout, postScriptGC off": (ROOT, ("--runner.postScriptGC", "false"))}
    for other in sys.argv[2:]:
        variants[other] = (Path(other), ())
    report = measure(variants, rounds)
    columns = ["p50 ms", "p95 ms", "websocket B/rerun", "media B/rerun"]
    print("| variant | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for name, row in report.items():
        print(f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
