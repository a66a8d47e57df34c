"""The KNN presenter: compact region codes, the clipped CV band, captions that tell the truth, escaping."""


import numpy as np
import plotly.io as pio
import pytest

from services.knn import CvCurve, DatasetSpec, LearningCurve, load_dataset
from services.knn import figures as fig
from services.knn.evaluation import conflicting_points
from services.knn.settings import (
    KnnSettings,
    explain,
    grid_votes,
    make_split,
    plan_boundary,
    split_learning_curve,
)
from tests.conftest import validated_and_sent


@pytest.fixture(scope="module")
def iris_split():
    return make_split(load_dataset(DatasetSpec("iris")), KnnSettings())


def test_region_codes_keep_each_class_in_its_band():
    proba = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    codes = fig.region_codes(np.array([0, 2, 0]), proba, (1, 3))
    levels = fig.region_levels(3)
    assert codes.dtype == np.uint8
    assert codes.tolist() == np.floor(fig.region_values(np.array([0, 2, 0]), proba, (1, 3)) * levels).tolist()
    assert codes[0, 0] == levels - 1 and 2 * levels <= codes[0, 1] < 3 * levels and codes[0, 2] == 0
    assert fig.region_levels(20) * 20 <= 256


def test_region_picture_has_the_colours_of_the_heatmap_scale_row_0_at_the_bottom(iris_split):
    """The boundary's PNG against plotly's own interpolation of the sweep heatmap's colour scale (RGB, to the
    nearest integer), cell by cell; its image trace puts row 0 at ``ys[0]``, rows growing upwards."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    plan = plan_boundary(iris_split, 7, 40)
    grid, predictor = grid_votes(iris_split, KnnSettings(), plan.resolution, plan.depth)
    votes = predictor.votes(7)
    rgb = fig.region_rgb(votes.labels, votes.proba, grid.shape)
    position = fig.region_codes(votes.labels, votes.proba, grid.shape).ravel() / (3 * fig.region_levels(3))
    scale = fig.region_colorscale(3)  # class c's band is [scale[2c], scale[2c + 1]]; plotly samples one band at a time
    expected = []
    for value in position:
        (start, pale), (end, strong) = scale[2 * int(value * 3)], scale[2 * int(value * 3) + 1]
        band = [[0, pale.replace(",", ", ")], [1, strong.replace(",", ", ")]]  # plotly's "rgb(r, g, b)" form
        expected.append(unlabel_rgb(sample_colorscale(band, [(value - start) / (end - start)])[0]))
    np.testing.assert_allclose(rgb.reshape(-1, 3), np.array(expected), atol=1)
    trace = fig.region_image_trace(grid, votes.labels, votes.proba)
    assert (trace["y0"], trace["x0"]) == (grid.ys[0], grid.xs[0]) and trace["dy"] > 0 and trace["dx"] > 0


def test_boundary_figure_is_compact(iris_split):
    plan = plan_boundary(iris_split, 7, 200)
    grid, predictor = grid_votes(iris_split, KnnSettings(), plan.resolution, plan.depth)
    votes = predictor.votes(7)
    figure = fig.boundary_figure(grid, votes.labels, votes.proba, iris_split, title="t")
    assert len(pio.to_json(figure, validate=False)) < 80_000  # was ~600 KB: floats as JSON text, 60² lattice
    frame = fig.grid_frame(grid, votes.labels, votes.proba, iris_split)
    assert len(frame) == 200 * 200 and set(frame["predicted class"]) <= set(iris_split.class_names)


def test_cv_band_is_clipped_and_says_so():
    curve = CvCurve(ks=np.array([1, 3]), errors=np.array([0.02, 0.5]),
                    fold_errors=np.array([[0.0, 0.5], [0.06, 0.5], [0.0, 0.5]]), n_folds=3, delegated=0)
    low, high, clipped = fig.cv_band(curve)
    assert clipped and low.min() == 0.0 and high.max() <= 1.0
    figure = fig.cv_figure(curve)
    assert figure.data[0].name.endswith("(clipped to 0–1)") and min(figure.data[0].y) >= 0
    assert "clipped to 0–1" in fig.cv_caption(curve, clipped)


def test_learning_caption_matches_the_training_error_at_k1(iris_split):
    curve = split_learning_curve(iris_split, KnnSettings(), (1, 3, 5))
    shared = conflicting_points(iris_split.X_train, iris_split.y_train)
    assert curve.conflicting_points == shared > 0  # iris's sepal plane: species sharing a spot
    caption = fig.learning_caption(curve)
    assert f"{curve.train_errors[0]:.3f}" in caption and f"{shared} training points" in caption
    clean = LearningCurve(ks=np.array([1, 3]), train_errors=np.zeros(2), test_errors=np.ones(2), delegated=0)
    assert "so K = 1 fits the training set." in fig.learning_caption(clean)
    figure = fig.learning_figure(curve, 3)
    assert figure.data[0].line.color != figure.data[1].line.color


def test_escape_markdown_neutralises_links_images_and_directives():
    escaped = fig.escape_markdown("![t](http://attacker.example/t.png) :red[x] <b>$x$</b> a_b")
    assert "![" not in escaped.replace("\\!\\[", "") and "\\<b\\>" in escaped and "\\$x\\$" in escaped


def test_cv_figure_does_not_depend_on_k_and_the_error_at_k_is_read_off_the_curve():
    """The figure is the same for every K (so the browser keeps it while K moves); the page's metric gives the
    error at the current K, or says why the odd-K curve has none."""
    curve = CvCurve(ks=np.array([1, 3, 5]), errors=np.array([0.2, 0.1, 0.15]),
                    fold_errors=np.array([[0.2, 0.1, 0.1], [0.2, 0.1, 0.2]]), n_folds=2, delegated=0)
    assert fig.cv_figure(curve).to_json() == fig.cv_figure(curve).to_json()
    assert not fig.cv_figure(curve).layout.shapes
    assert fig.error_at_k(curve, 3) == ("0.100", "Mean 2-fold error at K = 3.")
    value, helptext = fig.error_at_k(curve, 4)
    assert value == "—" and "K = 4 is even" in helptext
    value, helptext = fig.error_at_k(curve, 7)
    assert value == "—" and "outside the curve's range" in helptext and "from 1 to 5" in helptext


def test_boundary_lattice_draws_one_marker_but_keeps_every_target(iris_split):
    """Hover and click read the lattice from plotly's data: every target stays in the figure, but plotly is
    asked to draw only LATTICE_DRAWN of them (drawing ~1,600 transparent SVG markers was most of a K step)."""
    plan = plan_boundary(iris_split, 7, 200)
    grid, predictor = grid_votes(iris_split, KnnSettings(), plan.resolution, plan.depth)
    votes = predictor.votes(7)
    figure = fig.boundary_figure(grid, votes.labels, votes.proba, iris_split, title="")
    lattice = [trace for trace in figure.data if trace.name == "locations"]
    side = len(range(0, len(grid.xs), len(grid.xs) // fig.LATTICE_TARGET))
    assert sum(len(trace.x) for trace in lattice) == side**2
    assert all(trace.marker.maxdisplayed == fig.LATTICE_DRAWN for trace in lattice)


def test_figures_built_without_validation_are_valid_plotly_and_unchanged_by_it():
    """The boundary, CV and learning-curve figures are rebuilt on every K step from plain dicts, skipping plotly's
    validation: validating them here, with every kind of trace in, must accept every property and give the
    same JSON."""
    settings = KnnSettings(added=((5.0, 3.0, 1),))
    split = make_split(load_dataset(DatasetSpec("iris")), settings)
    plan = plan_boundary(split, 7, 60)
    grid, predictor = grid_votes(split, settings, plan.resolution, plan.depth)
    votes = predictor.votes(7)
    wrong = np.zeros(split.n_train, dtype=int)  # every point of classes 1 and 2 shown as missed
    built = [
        fig.boundary_figure(grid, votes.labels, votes.proba, split, title="K = 7", train_pred=wrong,
                            explanation=explain(split, settings, (5.5, 3.0), 7)),
        fig.cv_figure(CvCurve(ks=np.array([1, 3, 5]), errors=np.array([0.2, 0.1, 0.15]),
                              fold_errors=np.array([[0.2, 0.1, 0.1], [0.2, 0.1, 0.2]]), n_folds=2, delegated=0)),
        fig.learning_figure(LearningCurve(ks=np.array([1, 3]), train_errors=np.zeros(2),
                                          test_errors=np.array([0.3, 0.2]), delegated=0), 3),
    ]
    assert {trace["type"] for trace in built[0].to_dict()["data"]} == {"image", "scatter"}
    missed = f"misclassified ({int((split.y_train != 0).sum())})"
    assert {"locations", "the 7 neighbours", missed} <= {trace.name for trace in built[0].data}
    for figure in built:
        validated, sent = validated_and_sent(figure)
        assert validated == sent
