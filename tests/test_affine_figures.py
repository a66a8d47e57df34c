"""The affine page's presenter: figures, LaTeX lines, tables and slider ranges, built from plain data."""

import io

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from services import plotting
from services.affine import (
    AffineError,
    EngineCheck,
    SamplerOptions,
    compose,
    decompose,
    explain_bilinear,
    figures,
    grid_lines,
    interpolate,
    parse_steps,
    pixel_window,
    reference_shapes,
    transform_shapes,
)
from services.affine.render import AnimationFrame
from tests.conftest import validated_and_sent

SEED = parse_steps("shear:0.2,0;scale:0.8,0.8;rotate:20")


def photo(height=40, width=60):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.dstack([columns * 4, rows * 6, (rows + columns) * 2]).astype(np.uint8)


def test_sampler_options_are_hashable_validated_and_changed_by_copy():
    options = SamplerOptions(padding="reflection")
    same = SamplerOptions(padding="reflection")
    assert hash(options) == hash(same) and options == same
    assert options.but() is options
    torch = options.but(engine="torch")
    assert torch.engine == "torch" and torch.padding == "reflection" and options.engine == "numpy"
    assert options.label() == "numpy · bilinear · reflection padding"
    for field, value in (("engine", "cuda"), ("frame", "polar"), ("mapping", "both"), ("interpolation", "x")):
        with pytest.raises(AffineError, match=f"Unknown {field}"):
            SamplerOptions(**{field: value})


def test_jpeg_pictures_are_much_smaller_than_png_and_decode_to_the_picture():
    from skimage import data as skdata

    from services.imaging import encode_png

    picture = np.ascontiguousarray(skdata.astronaut()[:200, :300])
    data = figures.jpeg_bytes(picture)
    assert len(data) < len(encode_png(picture)) / 2
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert decoded.shape == picture.shape and np.mean(np.abs(decoded.astype(int) - picture)) < 4
    assert figures.jpeg_data_uri(picture).startswith("data:image/jpeg;base64,")


def test_slider_specs_follow_the_frame_and_clamp():
    assert figures.slider_spec("rotate", "normalised", 1024) == figures.SliderSpec(-180.0, 180.0, 1.0)
    assert figures.slider_spec("translate", "normalised", 1024).high == 2.0
    pixels = figures.slider_spec("translate", "pixels_corner", 1024)
    assert (pixels.low, pixels.high, pixels.step) == (-1024.0, 1024.0, 1.0)
    assert figures.slider_spec("shear", "pixels_corner", 1024).high == 2.0
    assert figures.slider_spec("scale", "normalised", 1024).clamp(7.0) == 3.0
    assert not figures.slider_spec("scale", "normalised", 1024).holds(-3.5)
    assert figures.field_label("tx", "pixels_centre") == "tx (px)" and figures.field_label("tx", "normalised") == "tx"


def test_steps_from_a_typed_matrix_drop_the_identity_steps_and_recompose():
    m = np.array([[2.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    steps = figures.steps_from_matrix(m)
    assert [s.kind for s in steps] == ["scale"]
    assert np.allclose(compose(steps), m)
    seed = compose(SEED)
    assert np.allclose(compose(figures.steps_from_matrix(seed)), seed, atol=1e-12)


def test_latex_lines_carry_the_numbers():
    m = compose(SEED)
    assert figures.product_latex(SEED, m).startswith(r"M = R(20^\circ) \; S(0.8,\ 0.8) \; H(0.2,\ 0) \\ = ")
    identity = r"M = \begin{bmatrix}1 & 0 & 0 \\ 0 & 1 & 0 \\ 0 & 0 & 1\end{bmatrix}"
    assert figures.product_latex(None, np.eye(3)) == identity
    factors = figures.factors_view(SEED, m)
    assert not factors.same_reversed and "opposite order" in factors.reversed_product
    assert factors.factors.count("bmatrix") == 6  # three factors, each \begin and \end
    assert figures.factors_view(parse_steps("rotate:10;rotate:20"), compose(parse_steps("rotate:30"))).same_reversed
    assert "T(0.1,\\ 0)" in figures.decomposition_latex(decompose(compose(parse_steps("translate:0.1,0"))))
    latex = figures.point_latex((0.5, 0.25), (1.0, -2.0))
    assert r"K = (0.5,\ 0.25,\ 1)^\top" in latex and r"K' = MK = (1,\ -2,\ 1)^\top" in latex
    assert figures.theta_latex(np.eye(3)[:2]).startswith(r"\theta = \begin{bmatrix}")


def test_bilinear_lines_and_table_are_the_explanation():
    channel = photo()[:, :, 0].astype(float)
    ex = explain_bilinear(channel, 6.7, 3.2)
    r1, r2, p = figures.bilinear_latex(ex)
    assert f"{ex.weight_x1:.4g}\\cdot{ex.q11:g}" in r1 and r1.endswith(f"= {ex.r1:.6g}")
    assert r2.endswith(f"= {ex.r2:.6g}") and p.endswith(f"= {ex.p:.6g}")
    table = figures.neighbour_table(ex)
    assert table["neighbour"].tolist() == ["Q11", "Q21", "Q12", "Q22"]
    assert table["value"].tolist() == [ex.q11, ex.q21, ex.q12, ex.q22]
    assert table["weight in P"].sum() == pytest.approx(1.0)
    assert table["(x, y)"].tolist()[0] == "(6, 3)"


def test_bilinear_figure_keeps_labels_off_the_values_and_apart():
    channel = photo()[:, :, 1]
    for x, y in ((6.7, 3.2), (6.2, 3.9), (0.0, 0.0), (58.5, 38.5)):
        ex = explain_bilinear(channel, x, y)
        fig = figures.bilinear_figure(pixel_window(channel, x, y), ex)
        heatmap, neighbours, midpoints, point = fig.data
        # the neighbour markers sit in the upper part of their cells, not on the printed value at the centre
        cell_rows = (ex.y1, ex.y1, ex.y2, ex.y2)
        assert all(marker_y < cell_y - 0.2 for marker_y, cell_y in zip(neighbours.y, cell_rows, strict=True))
        assert neighbours.textposition == "top center"
        # R1/R2 labels go to the side of P away from the nearer neighbour column, where no Q label is
        nearer_right = ex.x - ex.x1 >= 0.5
        assert midpoints.textposition == ("middle left" if nearer_right else "middle right")
        assert point.textposition == ("bottom center" if ex.y - ex.y1 < 0.5 else "top center")
        assert list(heatmap.text[0]) == [f"{v:.0f}" for v in pixel_window(channel, x, y).values[0]]


def test_engine_table_leaves_refused_cells_empty_instead_of_none():
    checks = [EngineCheck("numpy", 0.0, 1.5, "reference"), EngineCheck("skimage", None, None, "refused: Catmull-Rom")]
    table = figures.engine_table(checks)
    assert table["engine"].tolist() == ["numpy", "skimage"]
    assert table["max |difference| vs numpy"].dtype == float and np.isnan(table["max |difference| vs numpy"][1])
    assert np.isnan(table["time (ms)"][1]) and "None" not in table.to_string(na_rep="")


def test_grid_figure_and_table_follow_the_grid_lines():
    theta = np.array([[0.9, 0.1, 0.2], [0.0, 1.1, 0.0]])
    lines = grid_lines(theta, 40, 60)
    fig = figures.grid_figure("data:image/jpeg;base64,", (20, 30), (40, 60), lines)
    assert len(fig.data) == 3 and fig.data[0].dx == 2.0
    assert [trace.line.color for trace in fig.data[1:]] == [figures.GRID_LINE, figures.OUTLINE]
    outline = [0, 1, len(lines) - 2, len(lines) - 1]
    for trace, expected in ((fig.data[1], [line for i, line in enumerate(lines) if i not in outline]),
                            (fig.data[2], [lines[i] for i in outline])):
        path = np.column_stack([trace.x, trace.y])
        gaps = np.flatnonzero(np.isnan(path[:, 0]))
        assert np.isnan(path[gaps]).all() and len(gaps) == len(expected) - 1
        rounding = 0.5 * 10.0 ** (1 - plotting.SIGNIFICANT) * np.nanmax(np.abs(path))  # the most a live figure's cuts
        for drawn, line in zip(np.split(path, gaps), expected, strict=True):
            np.testing.assert_allclose(drawn[~np.isnan(drawn[:, 0])], line, rtol=0, atol=rounding)
    table = figures.grid_table(lines)
    assert len(table) == 2 * len(lines) and table.iloc[0].tolist() == [0, 0, *lines[0][0]]
    assert figures.axis_range(np.array([-1000.0, 10.0]), 60) == [-65.0, 64.5]


def test_shapes_figure_and_its_data():
    before = reference_shapes(1.0)
    after = transform_shapes(compose(SEED), before)
    fig, data = figures.shapes_figure(before, after, (0.5, 0.25), (1.0, 2.0))
    assert len(fig.data) == 10
    assert set(data["when"]) == {"before", "after"} and data.iloc[-1].tolist() == ["after", "K'", 1.0, 2.0]
    assert figures.frame_unit("normalised", (40, 60)) == 1.0 and figures.frame_unit("pixels_corner", (40, 60)) == 10.0


def test_animation_figure_has_one_frame_and_step_per_picture():
    m = compose(SEED)
    frames = [AnimationFrame(t, interpolate(m, t), None) for t in (0.0, 0.5, 1.0)]
    fig = figures.animation_figure([(f.fraction, f"data:image/jpeg;base64,{i}") for i, f in enumerate(frames)])
    assert [frame.name for frame in fig.frames] == ["0.00", "0.50", "1.00"]
    assert len(fig.layout.sliders[0].steps) == 3
    table = figures.animation_table(frames)
    assert table.columns.tolist() == ["t", "M00", "M01", "M02", "M10", "M11", "M12"]
    assert np.allclose(table.iloc[-1, 1:].to_numpy(dtype=float), m[:2].ravel())


def test_engine_table_text_writes_a_dash_for_refused_cells_and_keeps_the_whole_verdict():
    reason = "scikit-image's bicubic (order 3) uses the Catmull-Rom kernel (a = -0.5), not Keys' a = -0.75"
    table = figures.engine_table_text([EngineCheck("numpy", 0.0, 12.34, "reference"),
                                       EngineCheck("torch", 1.5e-5, 3.0, "agrees (≤ 0.0001)"),
                                       EngineCheck("skimage", None, None, reason)])
    assert table["max |difference| vs numpy"].tolist() == ["0.00e+00", "1.50e-05", "—"]
    assert table["time (ms)"].tolist() == ["12.3", "3.0", "—"] and table["verdict"].iloc[-1] == reason


def test_figures_built_without_validation_are_valid_plotly_and_unchanged_by_it():
    """grid_figure, shapes_figure and bilinear_figure skip plotly's per-property validation (live figures):
    validating their dicts here must accept every property and give the same JSON."""
    lines = grid_lines(np.array([[0.9, 0.1, 0.2], [0.0, 1.1, 0.0]]), 40, 60)
    before = reference_shapes(1.0)
    channel = photo()[:, :, 1]
    built = [figures.grid_figure("data:image/jpeg;base64,", (20, 30), (40, 60), lines),
             figures.shapes_figure(before, transform_shapes(compose(SEED), before), (0.5, 0.25), (1.0, 2.0))[0],
             figures.bilinear_figure(pixel_window(channel, 6.7, 3.2), explain_bilinear(channel, 6.7, 3.2))]
    for fig in built:
        validated, sent = validated_and_sent(fig)
        assert validated == sent
    with pytest.raises(ValueError, match="colour"):
        go.Figure(plotting.unvalidated_figure([{"type": "scatter", "line": {"colour": "red"}}], {}).to_dict())
