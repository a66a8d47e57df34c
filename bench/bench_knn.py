"""KNN page: the one-query-every-K boundary and cross-validation against scikit-learn's naive loops.

Goals (issue 4), measured in one run on the same machine:
* moving the K slider redraws a 300x300 boundary over 5,000 moons points in at most 1/8 of the time of a
  fresh ``predict_proba`` on the grid;
* the whole 10-fold CV curve over odd K 1..49 takes at most 1/8 of the ``cross_val_score`` loop, with
  identical errors.
Times are the best of a few repeats (the machine is shared), in milliseconds. A "K change" reads another K
from the cached table; its ratio is the worst over three moves, each against a fresh predict_proba at the
destination K.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_iris, make_moons
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from services.knn.datasets import Dataset
from services.knn.evaluation import DEFAULT_KS, cv_error_curve
from services.knn.figures import boundary_figure
from services.knn.neighbours import ExactPredictor, Metric, classifier, table_depth
from services.knn.preprocess import make_grid, split_dataset

GOAL = 8.0
REPEATS = 3


def _best_of(action: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def boundary_rows() -> list[list[str]]:
    X, y = make_moons(n_samples=6250, noise=0.3, random_state=0)
    dataset = Dataset("moons", X, y.astype(np.intp), ("class 0", "class 1"), ("x₁", "x₂"))
    split = split_dataset(dataset, test_fraction=0.2, seed=0, scaling="none")  # 5,000 training points
    grid = make_grid(split, 300)
    metric = Metric("euclidean")
    rows = []
    for weights in ("uniform", "distance"):
        for k, others in ((15, (5, 9, 13)), (31, (17, 25, 29))):
            depth = table_depth(k, split.n_train)

            def naive(neighbours: int):
                model = classifier(neighbours, weights, metric).fit(split.X_train, split.y_train)  # noqa: B023 (closures run at once by _best_of)
                return model.predict_proba(grid.points)

            naive_time, naive_proba = _best_of(lambda: naive(k), repeats=2)  # noqa: B023 (run at once by _best_of)

            def first_draw():
                predictor = ExactPredictor(
                    split.X_train, split.y_train, grid.points, max_k=depth - 1, weights=weights, metric=metric,  # noqa: B023 (run at once by _best_of)
                    n_classes=2,
                )
                return predictor, predictor.votes(k)  # noqa: B023 (run at once by _best_of)

            first_time, (predictor, votes) = _best_of(first_draw, repeats=2)
            # each move to another K against a fresh predict_proba at that K; the worst move counts
            moves = [
                (_best_of(lambda: naive(other), repeats=2)[0], _best_of(lambda: predictor.votes(other))[0])  # noqa: B023 (run at once by _best_of)
                for other in others
            ]
            ratio = min(naive_at / ours for naive_at, ours in moves)
            slowest_move = max(ours for _, ours in moves)
            figure_time, _ = _best_of(
                lambda: boundary_figure(grid, votes.labels, votes.proba, split, title="bench").to_json()  # noqa: B023 (run at once by _best_of)
            )
            mismatched = int((np.argmax(naive_proba, axis=1) != votes.labels).sum())
            proba_gap = float(np.abs(naive_proba - votes.proba).max())
            rows.append([
                f"{weights}, K={k} (table depth {depth})",
                f"{naive_time * 1e3:.0f}",
                f"{first_time * 1e3:.0f} ({naive_time / first_time:.1f}x)",
                f"{slowest_move * 1e3:.1f} (K = {', '.join(map(str, others))})",
                f"{ratio:.0f}x",
                f"{figure_time * 1e3:.0f}",
                f"{mismatched} / {proba_gap:.0e}",
                "met" if ratio >= GOAL else "NOT met",
            ])
    return rows


def cv_rows() -> list[list[str]]:
    iris = load_iris()
    moons_X, moons_y = make_moons(n_samples=1000, noise=0.3, random_state=0)
    cases = [
        ("iris, 4 features (the seed)", iris.data, iris.target, "uniform", "none"),
        ("iris, sepal length/width", iris.data[:, :2], iris.target, "uniform", "none"),
        ("iris, sepal, distance, standard", iris.data[:, :2], iris.target, "distance", "standard"),
        ("moons, 1,000 points", moons_X, moons_y, "uniform", "none"),
    ]
    rows = []
    for name, X, y, weights, scaling in cases:
        metric = Metric("euclidean")

        def naive():
            errors = []
            for k in DEFAULT_KS:
                model = classifier(k, weights, metric)  # noqa: B023 (naive() runs at once by _best_of)
                if scaling == "standard":  # noqa: B023 (runs at once by _best_of)
                    model = make_pipeline(StandardScaler(), model)
                errors.append(1.0 - cross_val_score(model, X, y, cv=10, scoring="accuracy").mean())  # noqa: B023 (runs at once by _best_of)
            return np.array(errors)

        naive_time, naive_errors = _best_of(naive, repeats=2)
        fast_time, curve = _best_of(
            lambda: cv_error_curve(X, y, DEFAULT_KS, weights=weights, metric=metric, scaling=scaling)  # noqa: B023 (run at once by _best_of)
        )
        gap = float(np.abs(naive_errors - curve.errors).max())
        ratio = naive_time / fast_time
        rows.append([
            name, weights + (", " + scaling if scaling != "none" else ""),
            f"{naive_time * 1e3:.0f}", f"{fast_time * 1e3:.0f}", f"{ratio:.1f}x", f"{gap:.0e}",
            str(curve.delegated), str(curve.best_k),
            "met" if ratio >= GOAL and gap <= 1e-12 else "NOT met",
        ])
    return rows


def main() -> None:
    print("### Decision boundary, 300x300 grid, 5,000 moons training points (euclidean)\n")
    print(_row([
        "case", "naive predict_proba ms", "first draw ms (vs naive)", "slowest K change ms",
        "naive / K change (worst)", "plotly figure+JSON ms", "label mismatches / max |Δp|", f"goal ≥ {GOAL:.0f}x",
    ]))
    print(_row(["---"] * 8))
    for row in boundary_rows():
        print(_row(row))
    print("\n### Cross-validation curve: 25 odd K x 10 folds\n")
    print(_row(["data", "weights", "cross_val_score loop ms", "one query per fold ms", "ratio", "max |Δerror|",
                "tied predictions settled", "best K", f"goal ≥ {GOAL:.0f}x, Δ ≤ 1e-12"]))
    print(_row(["---"] * 9))
    for row in cv_rows():
        print(_row(row))


if __name__ == "__main__":
    main()
