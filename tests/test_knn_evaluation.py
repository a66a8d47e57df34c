"""Cross-validation, learning curve and accuracies equal scikit-learn's own numbers."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_moons
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from services.knn import (
    DEFAULT_KS,
    Dataset,
    NeighbourCountError,
    SplitError,
    cv_error_curve,
    fold_indices,
    learning_curve,
    max_cv_k,
    split_dataset,
    split_scores,
)
from services.knn.neighbours import Metric, classifier

SCALERS = {"none": None, "standard": StandardScaler, "minmax": MinMaxScaler}


def _cross_val_errors(X, y, ks, weights, metric, scaling):
    errors = []
    for k in ks:
        model = classifier(k, weights, metric)
        if SCALERS[scaling] is not None:
            model = make_pipeline(SCALERS[scaling](), model)
        errors.append(1.0 - cross_val_score(model, X, y, cv=10, scoring="accuracy").mean())
    return np.array(errors)


@pytest.fixture(scope="module")
def seed_split():
    """The seed's split of iris (test_size=0.33, random_state=42): 100 training points, folds of 90, so
    K >= 45 runs scikit-learn's brute force and the sepal plane has many exact ties."""
    iris = load_iris()
    X_train, _, y_train, _ = train_test_split(iris.data, iris.target, test_size=0.33, random_state=42)
    return X_train, y_train


@pytest.mark.parametrize(
    "columns, weights, metric, scaling",
    [
        ([0, 1], "uniform", Metric("euclidean"), "none"),
        ([0, 1], "distance", Metric("euclidean"), "standard"),
        ([0, 1], "uniform", Metric("manhattan"), "minmax"),
        ([2, 3], "distance", Metric("minkowski", 3.0), "none"),
        ([0, 1, 2, 3], "uniform", Metric("chebyshev"), "none"),
    ],
    ids=["sepal-uniform", "sepal-distance-standard", "sepal-manhattan-minmax", "petal-minkowski3", "four-features"],
)
def test_cv_curve_equals_cross_val_score(seed_split, columns, weights, metric, scaling):
    X, y = seed_split[0][:, columns], seed_split[1]
    ks = DEFAULT_KS[::3] + (45, 47, 49)  # a spread of K, plus the brute-force end
    curve = cv_error_curve(X, y, ks, weights=weights, metric=metric, scaling=scaling)
    expected = _cross_val_errors(X, y, curve.ks, weights, metric, scaling)
    np.testing.assert_allclose(curve.errors, expected, rtol=0, atol=1e-12)
    assert curve.best_k == curve.ks[np.argmin(expected)]
    assert curve.fold_errors.shape == (10, len(curve.ks))


def test_cv_curve_over_the_seeds_full_range_on_continuous_data():
    X, y = make_moons(n_samples=300, noise=0.3, random_state=1)
    curve = cv_error_curve(X, y, DEFAULT_KS, weights="uniform", metric=Metric())
    expected = _cross_val_errors(X, y, DEFAULT_KS, "uniform", Metric(), "none")
    np.testing.assert_allclose(curve.errors, expected, rtol=0, atol=1e-12)
    assert curve.delegated == 0  # no exact ties on continuous data
    assert list(curve.ks) == list(range(1, 50, 2))


def test_best_k_takes_the_smallest_k_on_equal_errors():
    X = np.repeat(np.array([[0.0, 0.0], [10.0, 10.0]]), 20, axis=0) + np.linspace(0, 0.1, 40)[:, None]
    y = np.repeat([0, 1], 20)
    curve = cv_error_curve(X, y, (1, 3, 5), weights="uniform", metric=Metric())
    assert curve.errors.tolist() == [0.0, 0.0, 0.0] and curve.best_k == 1


def test_folds_are_cross_val_scores_stratified_folds(seed_split):
    _, y = seed_split
    folds = fold_indices(y, 10)
    assert len(folds) == 10
    assert sorted(np.concatenate([held for _, held in folds]).tolist()) == list(range(len(y)))
    assert max_cv_k(y) == 90


def test_k_beyond_the_smallest_fold_is_refused(seed_split):
    X, y = seed_split
    with pytest.raises(NeighbourCountError, match="smallest fold has 90"):
        cv_error_curve(X, y, (1, 91))


def test_too_many_folds_for_the_data_are_refused():
    X = np.arange(12, dtype=float).reshape(6, 2)
    with pytest.raises(SplitError, match="largest class has 3"):
        cv_error_curve(X, np.array([0, 0, 0, 1, 1, 1]), (1,), n_folds=5)
    with pytest.raises(SplitError, match="between 2 and 20"):
        fold_indices(np.array([0, 1] * 20), 1)


@pytest.fixture(scope="module")
def iris_split():
    iris = load_iris()
    dataset = Dataset("iris", iris.data[:, :2], iris.target.astype(np.intp), tuple(iris.target_names), ("sl", "sw"))
    return split_dataset(dataset, test_fraction=0.33, seed=42, scaling="standard")


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_learning_curve_equals_knn_score(iris_split, weights):
    ks = (1, 5, 9, 25, 49, 51, 75)  # 51 and up: brute force on 100 training points
    curve = learning_curve(iris_split, ks, weights=weights, metric=Metric())
    for k, train_error, test_error in zip(curve.ks, curve.train_errors, curve.test_errors):
        model = classifier(int(k), weights, Metric()).fit(iris_split.X_train, iris_split.y_train)
        assert train_error == pytest.approx(1 - model.score(iris_split.X_train, iris_split.y_train), abs=1e-12)
        assert test_error == pytest.approx(1 - model.score(iris_split.X_test, iris_split.y_test), abs=1e-12)
    if weights == "uniform":
        assert curve.train_errors[0] > 0  # duplicated points of different classes: K=1 is not perfect here


def test_split_scores_equal_knn_score_and_refuse_k_beyond_n(iris_split):
    scores = split_scores(iris_split, 7, weights="uniform", metric=Metric())
    model = classifier(7, "uniform", Metric()).fit(iris_split.X_train, iris_split.y_train)
    np.testing.assert_array_equal(scores.test_pred, model.predict(iris_split.X_test))
    assert scores.train_accuracy == model.score(iris_split.X_train, iris_split.y_train)
    assert scores.test_accuracy == model.score(iris_split.X_test, iris_split.y_test)
    with pytest.raises(NeighbourCountError, match="K = 101 is more than the 100 training points"):
        split_scores(iris_split, 101, weights="uniform", metric=Metric())


def test_split_predictors_fall_back_to_sklearn_when_tables_would_be_too_big(iris_split, monkeypatch):
    import services.knn.evaluation as evaluation

    monkeypatch.setattr(evaluation, "MAX_TABLE_BYTES", 1000)
    predictors = evaluation.SplitPredictors(iris_split, max_k=60, weights="distance", metric=Metric())
    assert predictors.direct
    model = classifier(60, "distance", Metric()).fit(iris_split.X_train, iris_split.y_train)
    scores = predictors.scores(60)
    assert scores.test_accuracy == model.score(iris_split.X_test, iris_split.y_test)
    with pytest.raises(NeighbourCountError, match="built for K ≤ 60"):
        predictors.scores(61)


@pytest.mark.parametrize("weights, metric", [("uniform", Metric("euclidean")), ("distance", Metric("manhattan"))])
def test_cv_curve_is_exact_under_massive_ties(weights, metric):
    """Integer coordinates on a 5x5 lattice: nearly every vote has equally distant points of several
    classes at the K-th place, in both the KD-tree (small K) and brute-force (large K) regimes."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 5, size=(70, 2)).astype(float)
    y = rng.integers(0, 3, size=70)
    ks = (1, 2, 4, 9, 16, 30, 45, 60)
    curve = cv_error_curve(X, y, ks, weights=weights, metric=metric)
    np.testing.assert_allclose(curve.errors, _cross_val_errors(X, y, ks, weights, metric, "none"), rtol=0, atol=1e-12)
    assert curve.delegated > 100
