"""The one-query-every-K engine equals scikit-learn's KNeighborsClassifier on a grid, for every K."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_moons

from services.knn import NeighbourCountError, SettingsError
from services.knn.neighbours import (
    ExactPredictor,
    Metric,
    classifier,
    neighbour_table,
    sweep_ks,
    table_depth,
    vote_table,
    votes_at,
)

METRICS = [Metric("euclidean"), Metric("manhattan"), Metric("chebyshev"), Metric("minkowski", 3.0)]

#: Distance-weighted probabilities are sums of 1/d in our vote table and in scikit-learn's predict_proba: two
#: implementations, whose last bit depends on the CPU's dispatched SIMD kernels (an AVX-512 machine differs
#: from scikit-learn by 1 ulp on ~5% of Minkowski cells). A few ulps of a value in [0, 1]:
PROBA_RTOL = 1e-12


def assert_same_probabilities(ours, theirs, weights):
    """Uniform votes are count / K on both sides: exact by construction. Weighted votes: PROBA_RTOL."""
    if weights == "uniform":
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=PROBA_RTOL, atol=PROBA_RTOL)


def _grid(X: np.ndarray, side: int) -> np.ndarray:
    low, high = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], side), np.linspace(low[1], high[1], side))
    return np.column_stack([xx.ravel(), yy.ravel()])


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(n_samples=120, noise=0.3, random_state=3)
    return X, y.astype(np.intp), _grid(X, 35)


@pytest.fixture(scope="module")
def iris_sepal():
    """Sepal features: many duplicated points of different classes, so plenty of exact distance ties."""
    iris = load_iris()
    X = iris.data[:, :2]
    return X, iris.target.astype(np.intp), np.vstack([_grid(X, 30), X])  # grid cells plus the points themselves


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.label)
def test_every_k_from_one_query_equals_sklearn_on_untied_cells(moons, weights, metric):
    X, y, grid = moons
    votes = vote_table(neighbour_table(X, y, grid, 64, metric, 2), weights)
    ties = 0
    for k in range(1, 64):
        at_k = votes_at(votes, k)
        model = classifier(k, weights, metric).fit(X, y)
        clear = ~at_k.ties
        np.testing.assert_array_equal(at_k.labels[clear], model.predict(grid)[clear])
        if weights == "distance" and metric.is_euclidean and k >= len(y) // 2:
            # scikit-learn's brute force (K >= n/2) computes euclidean distances with a matrix-product shortcut
            np.testing.assert_allclose(at_k.proba[clear], model.predict_proba(grid)[clear], rtol=1e-9)
        else:
            assert_same_probabilities(at_k.proba[clear], model.predict_proba(grid)[clear], weights)
        ties += at_k.tie_count
    assert ties <= 0.001 * len(grid) * 63  # continuous data: ties are rare, and counted


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", METRICS[:2], ids=lambda m: m.label)
def test_ties_are_counted_and_settled_like_sklearn(iris_sepal, weights, metric):
    X, y, grid = iris_sepal
    predictor = ExactPredictor(X, y, grid, max_k=100, weights=weights, metric=metric, n_classes=3)
    counted = 0
    for k in (1, 2, 4, 7, 15, 30, 74, 75, 100):  # 75 and up: scikit-learn switches to brute force
        votes = predictor.votes(k)
        model = classifier(k, weights, metric).fit(X, y)
        np.testing.assert_array_equal(votes.labels, model.predict(grid))
        proba = model.predict_proba(grid)
        if k < 75 or not metric.is_euclidean or weights == "uniform":
            assert_same_probabilities(votes.proba, proba, weights)
        else:  # brute-force euclidean distances come from a matrix-product shortcut
            np.testing.assert_allclose(votes.proba, proba, atol=1e-4)
        counted += votes.tie_count
        assert votes.tie_count == int(votes.ties.sum())
    assert counted > 100  # duplicated points of different classes really do tie


def test_predict_reports_how_many_labels_rested_on_ties(iris_sepal):
    X, y, grid = iris_sepal
    predictor = ExactPredictor(X, y, grid, max_k=20, weights="uniform", metric=Metric(), n_classes=3)
    labels, tied = predictor.predict(15)
    np.testing.assert_array_equal(labels, classifier(15, "uniform", Metric()).fit(X, y).predict(grid))
    assert tied == predictor.votes(15).tie_count > 0


def test_vote_on_top_of_a_training_point_uses_only_that_point():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 1])
    votes = votes_at(vote_table(neighbour_table(X, y, X[:1], 4, Metric(), 2), "distance"), 4)
    assert votes.labels[0] == 0 and votes.proba[0].tolist() == [1.0, 0.0]


def test_k_larger_than_training_set_is_refused_with_a_message(moons):
    X, y, grid = moons
    with pytest.raises(NeighbourCountError, match="more than the 120 training points"):
        neighbour_table(X, y, grid, 121, Metric(), 2)
    votes = vote_table(neighbour_table(X, y, grid[:5], 16, Metric(), 2), "uniform")
    with pytest.raises(NeighbourCountError, match="K = 121 is more than"):
        votes_at(votes, 121)
    with pytest.raises(NeighbourCountError, match="holds 16 neighbours"):
        votes_at(votes, 16)  # the tie check at K needs the (K+1)-th neighbour
    with pytest.raises(NeighbourCountError, match="at least 1"):
        votes_at(votes, 0)


def test_table_depth_is_the_next_power_of_two_and_capped():
    assert table_depth(1, 500) == 16
    assert table_depth(15, 500) == 16
    assert table_depth(16, 500) == 32
    assert table_depth(49, 500) == 64
    assert table_depth(300, 500) == 500
    with pytest.raises(NeighbourCountError):
        table_depth(501, 500)


def test_full_depth_votes_every_training_point():
    X, y = make_moons(n_samples=40, noise=0.2, random_state=0)
    votes = votes_at(vote_table(neighbour_table(X, y, X, 40, Metric(), 2), "uniform"), 40)
    np.testing.assert_array_equal(votes.proba, np.tile(np.bincount(y) / 40, (40, 1)))


def test_bad_settings_raise_typed_errors():
    with pytest.raises(SettingsError, match="Unknown metric"):
        Metric("cosine")
    with pytest.raises(SettingsError, match="between 1 and 10"):
        Metric("minkowski", 0.5)
    with pytest.raises(SettingsError, match="Unknown weighting"):
        classifier(3, "gaussian", Metric())


def test_sweep_ks_are_odd_capped_and_spread():
    assert sweep_ks(9) == [1, 3, 5, 7, 9]
    assert sweep_ks(1000) == list(range(1, 50, 2))
    spread = sweep_ks(1000, largest=199, frames=10)
    assert len(spread) == 10 and spread[0] == 1 and spread[-1] == 199 and all(k % 2 for k in spread)
