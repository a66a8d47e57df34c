"""The shared components in a running app: image input errors, URL state restore/publish, downloads."""

import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

IMAGE_INPUT_APP = """
import streamlit as st
from components.image_input import image_input

image = image_input("img", default_sample="coffee", max_side=200)
if image is not None:
    st.write(f"shape={image.pixels.shape}")
"""

URL_STATE_APP = """
import streamlit as st
from components.url_state import Param, publish, restore

PARAMS = [Param("k", 5, low=1, high=49), Param("metric", "euclidean", choices=["euclidean", "manhattan"])]
restore(PARAMS)
st.slider("K", 1, 49, key="k")
st.selectbox("Metric", ["euclidean", "manhattan"], key="metric")
publish(PARAMS)
"""

EXPORT_APP = """
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from components.figure_export import image_download, show_figure

show_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "line", data=pd.DataFrame({"x": [1, 2], "y": [3, 4]}))
image_download(np.zeros((4, 4, 3), dtype=np.uint8), "black")
"""


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_sample_is_the_default_and_capped():
    at = AppTest.from_string(IMAGE_INPUT_APP, default_timeout=30).run()
    assert not at.exception
    assert "shape=(133, 200, 3)" in _markdown(at)  # coffee is 600x400, capped at 200 px


def test_upload_of_a_good_image():
    at = AppTest.from_string(IMAGE_INPUT_APP, default_timeout=30).run()
    at.radio(key="img_source").set_value("Upload").run()
    at.file_uploader(key="img_upload").upload("photo.png", _png(400, 100), "image/png").run()
    assert not at.exception and not at.error
    assert "shape=(50, 200, 3)" in _markdown(at)
    assert any("Downscaled from 400×100" in c.value for c in at.caption)


def test_upload_of_a_non_image_shows_an_error_not_a_traceback():
    at = AppTest.from_string(IMAGE_INPUT_APP, default_timeout=30).run()
    at.radio(key="img_source").set_value("Upload").run()
    at.file_uploader(key="img_upload").upload("notes.png", b"definitely not a png", "image/png").run()
    assert not at.exception
    assert "notes.png" in at.error[0].value and "not an image" in at.error[0].value
    assert "shape=" not in _markdown(at)


def test_url_state_is_restored_and_published():
    at = AppTest.from_string(URL_STATE_APP, default_timeout=30)
    at.query_params["k"] = "9"
    at.query_params["metric"] = "cosine"  # not a choice: falls back to the default
    at.run()
    assert not at.exception
    assert at.slider(key="k").value == 9
    assert at.selectbox(key="metric").value == "euclidean"
    at.selectbox(key="metric").set_value("manhattan").run()
    assert at.query_params["metric"] == ["manhattan"] or at.query_params["metric"] == "manhattan"
    at.slider(key="k").set_value(5).run()  # back to the default: removed from the URL
    assert "k" not in at.query_params


def test_figure_and_image_downloads_render():
    at = AppTest.from_string(EXPORT_APP, default_timeout=30).run()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download interactive HTML", "Download data (CSV)", "Download PNG"]


SAMPLE_FROM_URL_APP = """
import streamlit as st
from components.image_input import image_input
from components.url_state import Param, publish, restore

PARAMS = [Param("img_sample", "chelsea", choices=["chelsea", "coffee", "rocket"])]
restore(PARAMS)
image = image_input("img", default_sample="chelsea", max_side=100)
publish(PARAMS)
st.write(f"shape={image.pixels.shape}")
"""


def test_sample_choice_travels_in_the_url():
    at = AppTest.from_string(SAMPLE_FROM_URL_APP, default_timeout=30)
    at.query_params["img_sample"] = "coffee"
    at.run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="img_sample").value == "coffee"
    assert "shape=(67, 100, 3)" in _markdown(at)
    at.selectbox(key="img_sample").set_value("chelsea").run()
    assert "img_sample" not in at.query_params


RENAMED_PARAM_APP = """
import streamlit as st
from components.url_state import Param, keep_valid, publish, restore

PARAMS = [Param("demo_k", 5, low=1, high=49, url="k", aliases=("old_k",))]
restore(PARAMS)
st.slider("K", 1, 49, key="demo_k")
publish(PARAMS)
options = ["a", "b"] if st.session_state.get("narrow") else ["a", "b", "c"]
reset = keep_valid("demo_choice", options)
st.selectbox("Choice", options, key="demo_choice")
st.write(f"reset={reset}")
"""


def test_a_renamed_param_restores_from_its_old_name_and_publishes_the_new_one():
    at = AppTest.from_string(RENAMED_PARAM_APP, default_timeout=30)
    at.query_params["old_k"] = "9"
    at.run()
    assert at.slider(key="demo_k").value == 9
    assert at.query_params.get("k") in ("9", ["9"]) and "old_k" not in at.query_params


def test_keep_valid_resets_only_a_choice_that_left_the_options():
    at = AppTest.from_string(RENAMED_PARAM_APP, default_timeout=30).run()
    assert at.markdown[-1].value == "reset=True"  # first run: nothing chosen yet
    at.selectbox(key="demo_choice").select("b").run()
    assert at.markdown[-1].value == "reset=False"
    at.session_state["narrow"] = True
    at.run()
    assert at.selectbox(key="demo_choice").value == "b" and at.markdown[-1].value == "reset=False"
    at.selectbox(key="demo_choice").set_value("a").run()
    at.session_state["narrow"] = False
    at.run()
    at.selectbox(key="demo_choice").select("c").run()
    at.session_state["narrow"] = True
    at.run()
    assert at.selectbox(key="demo_choice").value == "a" and at.markdown[-1].value == "reset=True"
