"""services.plotting: a live figure reaches the browser as JSON that Plotly.react takes as unchanged when
Streamlit hands the chart its copy, so the browser draws it once (tests/browser checks the drawing)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.io as pio
from PIL import Image

from services.plotting import STREAMLIT_LOOK, live_figure, png_data_uri


def _sent(figure) -> dict:
    """What st.plotly_chart sends: plotly.io.to_json without validation."""
    return json.loads(pio.to_json(figure, validate=False))


def test_a_live_figure_has_no_template_a_fixed_revision_and_plain_lists():
    xs = np.array([0.1234567891, 2.5, np.nan, 1e-9])
    figure = live_figure([{"type": "scatter", "x": xs, "y": np.arange(4)}], {"title": {"text": "K = 3"}})
    sent = _sent(figure)
    assert sent["layout"].get("template") is None
    assert sent["layout"]["datarevision"] == 0
    trace = sent["data"][0]
    # Six significant digits of each value, the NaN a gap (null), integers as they are: plain lists, no typed
    # arrays.
    assert trace["x"] == [0.123457, 2.5, None, 1e-9]
    assert trace["y"] == [0, 1, 2, 3]
    assert sent["layout"]["title"]["text"] == "<b>K = 3</b>"


def test_a_live_figure_carries_streamlits_look_under_its_own_settings():
    figure = live_figure([], {"yaxis": {"zeroline": False, "title": {"text": "row"}}, "height": 300})
    layout = _sent(figure)["layout"]
    assert layout["font"] == STREAMLIT_LOOK["font"]
    assert layout["yaxis"]["zeroline"] is False  # the figure's own setting wins
    assert layout["yaxis"]["gridcolor"] == STREAMLIT_LOOK["yaxis"]["gridcolor"]  # the look fills the rest
    assert layout["yaxis"]["title"] == {"text": "row", "font": {"size": 14}}
    assert layout["height"] == 300
    assert "text" not in layout["title"]  # no title given, none invented


def test_the_look_is_not_changed_by_building_a_figure():
    before = json.dumps(STREAMLIT_LOOK, sort_keys=True)
    live_figure([], {"title": {"text": "a"}, "xaxis": {"title": {"text": "b"}}})
    assert json.dumps(STREAMLIT_LOOK, sort_keys=True) == before


def test_a_png_data_uri_decodes_to_the_same_pixels():
    rgb = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    uri = png_data_uri(rgb)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, rgb)


def test_each_float_keeps_six_significant_digits_of_its_own():
    """Against Python's own decimal rounding (``format(v, ".6g")``) over twelve decades: the same value, or
    (where the binary value sits on a rounding tie) one unit of the sixth digit away."""
    from services.plotting import SIGNIFICANT, _rounded

    values = np.random.default_rng(1).standard_normal(5000) * 10.0 ** np.random.default_rng(2).integers(-6, 7, 5000)
    sent = _rounded(values)
    expected = np.array([float(format(value, f".{SIGNIFICANT}g")) for value in values])
    unit = 10.0 ** (np.floor(np.log10(np.abs(values))) - (SIGNIFICANT - 1))
    assert (np.abs(sent - expected) <= unit * 1.000001).all()
    assert (sent == expected).mean() > 0.99
    assert np.all(np.abs(sent - values) <= 0.5 * unit * 1.000001)
