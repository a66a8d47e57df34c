"""Issue 13's goals on the worst inputs of the hostile-input suite, at normal priority: time from the input to
its message (or its result) and peak memory above the idle interpreter, each input in a fresh subprocess
(``tests.hostile.measure``; the inputs are the suite's own builders). Goals: ≤ 5 s and ≤ 1.5 GiB each.

The KNN page rows drive the page itself in AppTest: the upload of a 20,000-row tie-heavy CSV, then seven
split/scaling/metric/weights/K changes; the row shows the slowest step and the peak over all of them.
"""

from __future__ import annotations

import ast
import os
import statistics
import sys
import threading
import time

from services import budget
from tests import test_hostile_knn as knn
from tests.hostile import measure

GIB = 2**30
IMAGE = "from tests.test_hostile_imaging import gif_with_screen, png_bomb\nfrom services.imaging import load_image\n"
WEIGHTS = "from tests.test_hostile_cam import zip_bomb, GIB, MIB\nfrom services.cam import load_model\n"
GEOJSON = "from services.geo.places import read_geojson_points\n"
AFFINE_LINK = "mode=direct&m02=1000000&padding=reflection&engine=opencv"


def _knn_page(rows: str, says: str) -> tuple[str, str]:
    return (knn.PAGE_SETUP.format(rows=rows, n=budget.KNN_MAX_CSV_ROWS),
            knn.PAGE_BODY.format(changes=knn.PAGE_CHANGES, says=says, limit=budget.REQUEST_SECONDS_TO_MESSAGE))


def cases() -> dict[str, tuple[str, str]]:
    """Name -> (setup, body): the input is built in ``setup``, before the baseline."""
    return {
        "KNN page: 20,000 identical rows (0, 0), two classes (the issue's file)": _knn_page(
            "0,0,{'ab'[i % 2]}\\n", "share one location"),
        "KNN page: 20,000 rows on two spots, three classes": _knn_page(
            "{i % 2},0,{'abc'[i % 3]}\\n", "share one location"),
        "KNN page: 20,000 rows on a lattice (equal distances), three classes": _knn_page(
            "{i % 142},{i // 142},{'abc'[(i * 7919) % 3]}\\n", "distance evaluations"),
        "KNN services: identical rows, distance weights, whole pipeline (grid, CV, learning curve)": (
            knn.PIPELINE + "raw = csv([(0.0, 0.0, 'ab'[i % 2]) for i in range(20_000)])\n",
            "page(raw, weights='distance')"),
        "image: 51-byte GIF declaring 65535 × 1800": (IMAGE + "data = gif_with_screen(65535, 1800)\n",
                                                     "load_image(data)"),
        "image: RGBA PNG 11000 × 10900 (refused)": (IMAGE + "data = png_bomb(11000, 10900)\n", "load_image(data)"),
        "image: RGBA PNG 5000 × 5000 (decoded, the largest RGBA accepted)": (
            IMAGE + "data = png_bomb(5000, 5000)\n", "load_image(data)"),
        "image: grey PNG 10000 × 10000 (decoded)": (IMAGE + "data = png_bomb(10000, 10000, 'L')\n",
                                                    "load_image(data)"),
        "weights: zip bomb inflating to 2 GiB": (WEIGHTS + "data = zip_bomb(2 * GIB)\n",
                                                 "load_model('resnet18', weights_file=data)"),
        "weights: 1 GiB bomb whose directory claims 200 MiB (inflated in chunks to the lie)": (
            WEIGHTS + "data = zip_bomb(1 * GIB, declared=200 * MIB)\n", "load_model('resnet18', weights_file=data)"),
        "CSV (map): a header of 2,500,000 columns (was 4.8 GB and 144 s)": (
            "from services.geo.places import read_table\n"
            "data = (','.join(f'c{i}' for i in range(2_500_000)) + '\\n1,2\\n').encode()\n", "read_table(data)"),
        "GeoJSON: MultiPoint with 2,600,000 positions": (
            GEOJSON + "data = ('{\"type\": \"MultiPoint\", \"coordinates\": [' + ','.join(['[1.5,2.5]'] * 2_600_000)"
                      " + ']}').encode()\n", "read_geojson_points(data)"),
        "affine page: ?" + AFFINE_LINK + " with the engine check": (
            "from tests.conftest import page_test\nat = page_test('affine_playground', timeout=120)\n"
            "warm = page_test('affine_playground', timeout=120)\nwarm.session_state['affine_check_open'] = True\n"
            "warm.run()\n"
            f"for name, value in (item.split('=') for item in {AFFINE_LINK!r}.split('&')):\n"
            "    at.query_params[name] = value\nat.session_state['affine_check_open'] = True\n",
            "at.run()\nassert not at.exception\n"),
    }


def main() -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores\n")
    print("| input | outcome | time to message | slowest page step | peak above idle |")
    print("| --- | --- | ---: | ---: | ---: |")
    worst_s = worst_bytes = 0.0
    for name, (setup, body) in cases().items():
        cost = measure(setup, body, timeout=600)
        steps = next((ast.literal_eval(line.removeprefix("STEPS ")) for line in cost.stdout.splitlines()
                      if line.startswith("STEPS ")), None)
        slowest = max(steps.values()) if steps else cost.wall_seconds
        outcome = "ok" if cost.outcome == "ok" else cost.outcome.split(":")[0].rsplit(".", 1)[-1]
        print(f"| {name} | {outcome} | {cost.wall_seconds:.2f} s | {f'{slowest:.2f} s' if steps else '—'} | "
              f"{cost.extra_bytes / 2**20:,.0f} MiB |", flush=True)
        worst_s, worst_bytes = max(worst_s, slowest), max(worst_bytes, cost.extra_bytes)
    print(f"\nworst time to a message or result {worst_s:.2f} s (goal ≤ {budget.REQUEST_SECONDS_TO_MESSAGE:g} s); "
          f"worst peak {worst_bytes / 2**20:,.0f} MiB (goal ≤ {budget.REQUEST_PEAK_BYTES / 2**20:,.0f} MiB)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def training_contention(reruns: int = 15) -> None:
    """Does one visitor's STN training hold the others? In one process, as on the server: the STN page's
    training (``Training.run_epoch`` under the page's one torch thread, epoch after epoch, on its own thread like
    a session's script thread) while the KNN page's K slider is moved in AppTest on another; idle, one training,
    two trainings (two visitors), idle again. Training never enters the heavy-work pool (it runs in the
    session's script thread), so the pool is not measured here."""
    from services.stn import DigitSettings, StnSettings, Training, make_digits
    from services.stn.training import torch_threads
    from tests.conftest import page_test

    digits = make_digits(DigitSettings())
    page = page_test("knn_boundaries", timeout=120).run()

    def k_changes() -> list[float]:
        seconds = []
        for index in range(reruns):
            started = time.perf_counter()
            page.slider(key="knn_k").set_value(7 + 2 * (index % 2)).run()
            seconds.append(time.perf_counter() - started)
            assert not page.exception
        return seconds

    def train(stop: threading.Event, epochs: list[float]) -> None:
        run = Training(StnSettings(epochs=budget.STN_MAX_EPOCHS), digits)
        with torch_threads(1):
            while not stop.is_set():
                started = time.perf_counter()
                run.run_epoch()
                epochs.append(time.perf_counter() - started)

    k_changes()  # warm
    rows = []
    for trainings in (0, 1, 2, 0):
        stop, epochs = threading.Event(), []
        threads = [threading.Thread(target=train, args=(stop, epochs)) for _ in range(trainings)]
        for thread in threads:
            thread.start()
        time.sleep(3 if trainings else 0)  # into the first epoch
        load = os.getloadavg()[0]
        seconds = k_changes()
        stop.set()
        for thread in threads:
            thread.join()
        rows.append((trainings, seconds, epochs, load))
    base = statistics.median(rows[0][1])
    print("\n| STN trainings running | KNN K change p50 / p95 | p50 × idle | epoch seconds (median) | load |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for trainings, seconds, epochs, load in rows:
        p50, p95 = statistics.median(seconds), statistics.quantiles(seconds, n=20)[-1]
        epoch = f"{statistics.median(epochs):.1f} s" if epochs else "—"
        print(f"| {trainings} | {p50:.3f} / {p95:.3f} s | {p50 / base:.2f}x | {epoch} | {load:.2f} |", flush=True)


if __name__ == "__main__":  # ``python -m bench.bench_hostile stn``: the training-contention rows alone
    if sys.argv[1:] == ["stn"]:
        training_contention()
    else:
        main()
