"""Hostile inputs to the KNN page's services, each run in a subprocess: a clear message (or a sized-down job),
bounded peak memory and bounded time. The page's own path is followed: CSV bytes -> table -> dataset ->
split -> boundary plan -> grid votes -> scores -> cross-validation (issue 13, items 4, 9, 13, 14, 15)."""

from __future__ import annotations

import re

import pytest

from services import budget
from services.knn import CsvError, DatasetError, SettingsError, SplitError
from services.knn.errors import WorkloadError
from services.knn.figures import escape_markdown, explanation_text
from tests.hostile import measure

#: The page's path for one uploaded CSV, as a function the child process calls.
PIPELINE = """
import numpy as np
from services.knn import dataset_from_frame, read_csv_table, max_cv_k
from services.knn.settings import (
    KnnSettings, affordable_curve_ks, cv_curve, grid_votes, make_split, odd_ks, plan_boundary, split_predictors,
)


def page(raw, k=7, scaling="none", weights="uniform"):
    frame = read_csv_table(raw, "hostile.csv")
    dataset = dataset_from_frame(frame, "x", "y", "label")
    settings = KnnSettings(scaling=scaling, weights=weights)
    split = make_split(dataset, settings)
    plan = plan_boundary(split, k, 200)
    grid, predictor = grid_votes(split, settings, plan.resolution, plan.depth)
    predictor.votes(k)
    split_predictors(split, settings, plan.depth).scores(k)
    sized = affordable_curve_ks(split, odd_ks(1, min(49, max_cv_k(split.y_train, 10))))
    cv_curve(split, settings, sized.ks, 10)
    print("PLAN", plan.resolution, repr(plan.reason), len(sized.ks), repr(sized.note))


def csv(rows):
    return ("x,y,label\\n" + "".join(f"{x!r},{y!r},{label}\\n" for x, y, label in rows)).encode()
"""


def _within_budget(cost) -> None:
    assert cost.seconds < budget.REQUEST_SECONDS_TO_MESSAGE, cost
    assert cost.extra_bytes < budget.REQUEST_PEAK_BYTES, cost


@pytest.mark.parametrize(
    "rows",
    [
        "[(0.0, 0.0, 'a' if i % 2 else 'b') for i in range(20_000)]",  # the file: one spot, two classes
        "[(float(i % 2), 0.0, 'abc'[i % 3]) for i in range(20_000)]",  # two spots, three classes each
        "[(0.0, 0.0, 'ab'[i % 2]) for i in range(15_000)] + [(i * 1e-3, 1.0, 'ab'[i % 2]) for i in range(5_000)]",
    ],
    ids=["one-spot", "two-spots", "crowd-plus-spread"],
)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_tie_heavy_data_is_sized_down_not_stalled(rows, weights):
    cost = measure(PIPELINE + f"raw = csv({rows})\n", f"page(raw, weights={weights!r})")
    assert cost.outcome == "ok", cost.outcome
    _within_budget(cost)


def test_the_sized_down_plan_says_why(capfd):
    cost = measure(PIPELINE + "raw = csv([(0.0, 0.0, 'ab'[i % 2]) for i in range(20_000)])\n", "page(raw)")
    assert cost.outcome == "ok"
    from services.knn import dataset_from_frame, read_csv_table
    from services.knn.settings import KnnSettings, make_split, plan_boundary

    raw = ("x,y,label\n" + "".join(f"0,0,{'ab'[i % 2]}\n" for i in range(20_000))).encode()
    split = make_split(dataset_from_frame(read_csv_table(raw), "x", "y", "label"), KnnSettings())
    plan = plan_boundary(split, 7, 200)
    assert plan.resolution < 200 and "share one location" in plan.reason


@pytest.mark.parametrize(
    ("values", "scaling"),
    [
        ("[(1e300 * (1 + i % 7), float(i), 'ab'[i % 2]) for i in range(200)]", "standard"),
        ("[(1.7e308 if i % 2 else -1.7e308, float(i), 'ab'[i % 2]) for i in range(200)]", "none"),
        ("[(float(i), 1e200 * i, 'ab'[i % 2]) for i in range(200)]", "minmax"),
        ("[(float(i), -1e151, 'ab'[i % 2]) for i in range(200)]", "standard"),
    ],
    ids=["1e300-standard", "1.7e308", "1e200-minmax", "-1e151"],
)
def test_features_too_large_for_a_distance_get_a_message(values, scaling):
    cost = measure(PIPELINE + f"raw = csv({values})\n", f"page(raw, scaling={scaling!r})")
    assert cost.raised(DatasetError), cost.outcome
    assert "distances square the features" in cost.outcome and "Rescale" in cost.outcome
    _within_budget(cost)


@pytest.mark.parametrize("tiny", ["1e-320", "5e-324", "1e-200"])
def test_features_too_small_for_a_distance_get_a_message(tiny):
    values = f"[(float(i), {tiny} * (i % 9), 'ab'[i % 2]) for i in range(300)]"
    cost = measure(PIPELINE + f"raw = csv({values})\n", "page(raw)")
    assert cost.raised(DatasetError), cost.outcome
    assert "varies by only" in cost.outcome
    _within_budget(cost)


@pytest.mark.parametrize(
    "point", [(1.7e308, -1.7e308), (1e300, 0.0), (0.0, float("inf")), (float("nan"), 1.0), (-2e150, 2e150)]
)
def test_an_overflowing_added_point_is_refused_before_it_sticks(point):
    from services.knn.settings import checked_point

    with pytest.raises(SettingsError, match="was not added"):
        checked_point(*point)
    setup = PIPELINE + "from services.knn import DatasetSpec, load_dataset\n"
    added = f"((float('{point[0]!r}'), float('{point[1]!r}'), 0),)"
    cost = measure(setup, f"make_split(load_dataset(DatasetSpec('iris')), KnnSettings(added={added}))")
    assert cost.raised(SplitError), cost.outcome
    _within_budget(cost)


@pytest.mark.parametrize("location", [(1.7e308, -1.7e308), (1e200, 1.0)])
def test_explaining_an_overflowing_location_is_refused(location):
    from services.knn import DatasetSpec, load_dataset
    from services.knn.settings import KnnSettings, explain, make_split

    split = make_split(load_dataset(DatasetSpec("iris")), KnnSettings())
    with pytest.raises(SettingsError, match="where distances overflow"):
        explain(split, KnnSettings(), location, 7)


@pytest.mark.parametrize("bad", ["inf", "-inf", "1e400", "-1e999"])
def test_an_infinite_feature_column_is_named_as_such(bad):
    from services.knn import dataset_from_frame, numeric_columns, read_csv_table

    raw = ("x,y,label\n" + "".join(f"{bad if i == 3 else i},{i % 5},{'ab'[i % 2]}\n" for i in range(40))).encode()
    frame = read_csv_table(raw)
    numeric = numeric_columns(frame)
    assert numeric[:2] == ["x", "y"]  # the page's default feature columns: x, then y
    with pytest.raises(CsvError, match="'x' holds an infinite value in data row 4"):
        dataset_from_frame(frame, numeric[0], numeric[1], "label")


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (int(20.3 * 2**20), "big.csv is 20.3 MB; the limit is 20 MB"),
        (20 * 2**20 + 1, "big.csv is 20,971,521 bytes (20,971,520 bytes is 20 MB); the limit is 20 MB"),
        (64 * 2**20, "big.csv is 64.0 MB; the limit is 20 MB"),
    ],
)
def test_an_oversized_csv_reports_its_size_honestly(size, shown):
    cost = measure(
        "from services.knn import read_csv_table\nraw = b'x,y,label\\n' + b'1,2,a\\n' * (" + str(size) + " // 7)\n"
        "raw = raw + b'0' * (" + str(size) + " - len(raw))\nassert len(raw) == " + str(size) + "\n",
        "read_csv_table(raw, 'big.csv')",
    )
    assert cost.raised(CsvError), cost.outcome
    assert shown in cost.outcome
    _within_budget(cost)


HOSTILE_LABELS = [
    "![t](http://attacker.example/t.png)",
    "[click](http://attacker.example/)",
    "<img src=http://attacker.example/t.png>",
    "$\\href{http://attacker.example}{x}$",
    ":red[shout] **bold** _it_",
]


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_class_names_reach_markdown_escaped(label):
    import numpy as np

    from services.knn import Dataset, split_dataset
    from services.knn.settings import KnnSettings, explain

    rng = np.random.default_rng(0)
    dataset = Dataset("t", rng.normal(size=(60, 2)), np.arange(60) % 2, (label, "other"), ("x", "y"))
    split = split_dataset(dataset, test_fraction=0.3, seed=0, scaling="none")
    text = explanation_text(explain(split, KnnSettings(), (0.0, 0.0), 41))
    assert escape_markdown(label) in text and label not in text
    assert re.search(r"(?<!\\)[<\[\]!$*_:]", escape_markdown(label)) is None  # every active character escaped


def test_a_crowd_that_cannot_fit_even_the_smallest_grid_is_refused():
    from services.knn.workload import Crowding, affordable_resolution

    with pytest.raises(WorkloadError, match="share one location"):
        affordable_resolution(200, Crowding(largest_mixed_group=10**9, distinct_points=1, n_points=10**9))


@pytest.mark.parametrize("label", [*HOSTILE_LABELS, "<a href='http://attacker.example'>x</a>", "%{x} leak"])
def test_class_and_feature_names_reach_plotly_inert(label):
    import numpy as np

    from services.knn import Dataset, make_grid, split_dataset
    from services.knn.figures import boundary_figure

    rng = np.random.default_rng(1)
    dataset = Dataset("t", rng.normal(size=(60, 2)), np.arange(60) % 2, (label, "other"), (label, "y"))
    split = split_dataset(dataset, test_fraction=0.3, seed=0, scaling="none")
    grid = make_grid(split, 20)
    figure = boundary_figure(grid, np.zeros(400, dtype=int), np.tile([1.0, 0.0], (400, 1)), split, title="t")
    texts = [figure.layout.xaxis.title.text, *(t.name or "" for t in figure.data), *(t.hovertemplate or "" for t in
             figure.data), *(str(t.meta or "") for t in figure.data)]
    assert not any("<a " in text or "<img" in text or "%{x} leak" in text for text in texts)
