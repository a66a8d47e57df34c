"""The seed's from-scratch KNN, explanations, tree/forest boundaries and the figures."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from services.knn import (
    DatasetSpec,
    NeighbourCountError,
    SettingsError,
    compare_with_sklearn,
    cv_error_curve,
    explain_location,
    learning_curve,
    load_dataset,
    make_grid,
    scratch_knn,
    split_dataset,
    tree_and_forest,
)
from services.knn.figures import (
    boundary_figure,
    confidence,
    cv_figure,
    learning_figure,
    region_colorscale,
    region_values,
    sweep_figure,
)
from services.knn.neighbours import ExactPredictor, Metric, classifier


@pytest.fixture(scope="module")
def moons_split():
    dataset = load_dataset(DatasetSpec("moons", n_samples=200, noise=0.3, seed=2))
    return split_dataset(dataset, test_fraction=0.25, seed=0, scaling="standard")


@pytest.fixture(scope="module")
def iris_split():
    dataset = load_dataset(DatasetSpec("iris"))  # sepal plane: duplicated points, exact ties
    return split_dataset(dataset, test_fraction=0.33, seed=42, scaling="none")


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", [Metric("euclidean"), Metric("manhattan"), Metric("minkowski", 3.0)], ids=str)
def test_from_scratch_equals_sklearn(moons_split, weights, metric):
    grid = make_grid(moons_split, 15).points
    queries = np.vstack([moons_split.X_test, grid])
    comparison = compare_with_sklearn(
        moons_split.X_train, moons_split.y_train, queries, 9, weights=weights, metric=metric, n_classes=2
    )
    assert comparison.n_points == len(queries)
    assert comparison.disagreements == 0
    np.testing.assert_array_equal(comparison.scratch_labels, comparison.sklearn_labels)


def test_from_scratch_disagrees_only_on_ties(iris_split):
    for k in (2, 4, 7, 10):  # even K: vote draws, broken towards the lowest class like scikit-learn
        comparison = compare_with_sklearn(
            iris_split.X_train, iris_split.y_train, make_grid(iris_split, 25).points, k,
            weights="uniform", metric=Metric(), n_classes=3,
        )
        assert comparison.disagreements_away_from_ties == 0
        assert comparison.ties > 0


def test_from_scratch_refuses_k_beyond_n(moons_split):
    with pytest.raises(NeighbourCountError, match="Choose K ≤ 150"):
        scratch_knn(moons_split.X_train, moons_split.y_train, moons_split.X_test, 151)


def test_explanation_matches_the_grid_and_sklearn(moons_split):
    location = (0.5, 0.25)
    explanation = explain_location(moons_split, location, 7, weights="distance", metric=Metric())
    model = classifier(7, "distance", Metric()).fit(moons_split.X_train, moons_split.y_train)
    point = moons_split.scale(np.array([location]))
    distances, rows = model.kneighbors(point)
    assert explanation.neighbours["training row"].tolist() == rows[0].tolist()
    # the same KD-tree asked the same question: one code path, so the distances are equal exactly
    np.testing.assert_array_equal(explanation.neighbours["distance"], distances[0])
    np.testing.assert_allclose(explanation.neighbours["weight"], 1 / distances[0])
    # our vote sum against predict_proba's: two summations, equal to a few ulps on any CPU
    np.testing.assert_allclose(explanation.proba, model.predict_proba(point)[0], rtol=1e-12, atol=1e-12)
    assert explanation.predicted == model.predict(point)[0]
    assert explanation.neighbours[moons_split.feature_names[0]].tolist() == moons_split.X_train_raw[rows[0], 0].tolist()
    assert explanation.scores.sum() == pytest.approx((1 / distances[0]).sum())


def test_tree_and_forest_boundaries(moons_split):
    grid = make_grid(moons_split, 30)
    tree, forest = tree_and_forest(moons_split, grid, max_depth=3, n_trees=20, seed=0)
    assert tree.proba.shape == (900, 2) and forest.labels.shape == (900,)
    np.testing.assert_allclose(tree.proba.sum(axis=1), 1)
    assert "depth ≤ 3" in tree.name and "20 trees" in forest.name
    assert 0.5 < tree.test_accuracy <= 1 and forest.train_accuracy >= tree.train_accuracy
    full_tree, _ = tree_and_forest(moons_split, grid, max_depth=None, n_trees=5, seed=0)
    assert full_tree.train_accuracy == 1.0  # grown to pure leaves it memorises the training points
    with pytest.raises(SettingsError, match="between 1 and 500 trees"):
        tree_and_forest(moons_split, grid, max_depth=3, n_trees=0, seed=0)


def test_region_values_encode_class_and_confidence():
    proba = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(confidence(proba), [1.0, 0.25, 0.0], atol=1e-12)
    values = region_values(np.array([0, 2, 0]), proba, (1, 3))
    assert values.tolist() == [[0.999, 2.25, 0.0]]
    scale = region_colorscale(3)
    positions = [stop for stop, _ in scale]
    assert positions == sorted(positions) and positions[0] == 0 and positions[-1] == 1


def test_figures_carry_the_data(iris_split):
    grid = make_grid(iris_split, 40)
    predictor = ExactPredictor(iris_split.X_train, iris_split.y_train, grid.points, max_k=15, weights="uniform",
                               metric=Metric(), n_classes=3)
    votes = predictor.votes(7)
    explanation = explain_location(iris_split, (6.0, 3.0), 7, weights="uniform", metric=Metric())
    figure = boundary_figure(grid, votes.labels, votes.proba, iris_split, title="t", train_pred=iris_split.y_train,
                             test_pred=np.zeros(iris_split.n_test, dtype=int), explanation=explanation)
    names = [trace.name for trace in figure.data]
    regions = Image.open(io.BytesIO(base64.b64decode(figure.data[0].source.split(",", 1)[1])))
    assert names[0] == "decision regions" and np.asarray(regions).shape == (40, 40, 3)
    wrong = int((iris_split.y_test != 0).sum())
    assert f"misclassified ({wrong})" in names and "the 7 neighbours" in names
    frames = [(k, predictor.votes(k).labels, predictor.votes(k).proba) for k in (1, 3, 5)]
    animation = sweep_figure(grid, frames, iris_split)
    assert [frame.name for frame in animation.frames] == ["1", "3", "5"]
    curve = cv_error_curve(iris_split.X_train, iris_split.y_train, (1, 3, 5, 7))
    assert cv_figure(curve).data[2].x[0] == curve.best_k
    lc = learning_curve(iris_split, (1, 3, 5), weights="uniform", metric=Metric())
    sent = learning_figure(lc, 3).data[1].y  # a live figure's six significant digits
    np.testing.assert_allclose(sent, lc.test_errors, rtol=0, atol=0.5e-5 * lc.test_errors.max())
