"""The affine playground page driven through AppTest: sliders, presets, the steps editor, direct entry, URL."""

import numpy as np
import pytest

from tests.conftest import page_test

PAGE = "affine_playground"


def product_latex(at) -> str:
    return next(item.value for item in at.latex if item.value.lstrip("$\n").startswith("M ="))


def slider_keys(at) -> list[str]:
    return [slider.key for slider in at.slider]


@pytest.fixture(scope="module")
def opened():
    at = page_test(PAGE, timeout=180)
    at.session_state["affine_check_open"] = True  # the engine check computes only while its expander is open
    return at.run()


def test_page_opens_with_the_seeds_r_s_h_and_every_view(opened, no_exceptions):
    at = opened
    no_exceptions(at)
    assert "Affine playground" in at.title[0].value
    assert r"R(20^\circ) \; S(0.8,\ 0.8) \; H(0.2,\ 0)" in product_latex(at)
    assert slider_keys(at) == [
        "affine_step0_shear_m", "affine_step0_shear_n", "affine_step1_scale_sx", "affine_step1_scale_sy",
        "affine_step2_rotate_degrees",
    ]
    assert not at.error
    subheaders = " ".join(s.value for s in at.subheader)
    for part in ("Input", "Output", "Determinant", "unit square", "Bilinear", "Animation"):
        assert part in subheaders
    engines = next(frame.value for frame in at.table if "engine" in frame.value.columns)
    assert engines["engine"].tolist() == ["numpy", "torch", "opencv", "skimage"]
    assert all(verdict == "reference" or verdict.startswith("agrees") for verdict in engines["verdict"])
    assert at.metric[0].value == f"{0.8 * 0.8:.4g}"  # det of R S H = det S
    assert any("opposite order" in item.value for item in at.latex)
    assert any("gives a different matrix" in c.value for c in at.caption)  # order matters, on the page


def test_moving_a_slider_changes_the_matrix_and_the_url(no_exceptions):
    at = page_test(PAGE).run()
    at.slider(key="affine_step2_rotate_degrees").set_value(90.0).run()
    no_exceptions(at)
    assert r"R(90^\circ)" in product_latex(at)
    assert at.query_params["steps"] == "shear:0.2,0;scale:0.8,0.8;rotate:90"
    at.slider(key="affine_step1_scale_sy").set_value(0.0).run()  # a singular matrix
    no_exceptions(at)
    assert any("singular" in e.value for e in at.error)
    assert at.metric[0].value == "0"


@pytest.mark.parametrize(
    "preset, row",
    [("identity", "1 & 0 & 0"), ("translate", "1 & 0 & 0.5"), ("rotate45", "0.707 & -0.707 & 0"),
     ("zoom", "0.5 & 0 & 0"), ("flip", "-1 & 0 & 0"), ("italic", "1 & 0.3 & 0")],
)
def test_presets_set_the_seeds_matrices(preset, row, no_exceptions):
    at = page_test(PAGE).run()
    at.radio(key="affine_frame").set_value("pixels_corner").run()
    at.button(key=f"affine_preset_{preset}").click().run()
    no_exceptions(at)
    assert row in product_latex(at)
    assert at.radio(key="affine_frame").value == "normalised"  # presets use the seed's convention
    if preset == "flip":
        assert "flips orientation" in " ".join(m.value for m in at.markdown)


def test_steps_can_be_added_moved_and_removed(no_exceptions):
    at = page_test(PAGE).run()
    at.button(key="affine_preset_identity").click().run()
    assert slider_keys(at) == []
    at.selectbox(key="affine_new_kind").set_value("translate").run()
    at.button(key="affine_add").click().run()
    at.selectbox(key="affine_new_kind").set_value("rotate").run()
    at.button(key="affine_add").click().run()
    at.slider(key="affine_step0_translate_tx").set_value(1.0).run()
    at.slider(key="affine_step1_rotate_degrees").set_value(90.0).run()
    assert r"R(90^\circ) \; T(1,\ 0)" in product_latex(at)
    assert "0 & -1 & 0" in product_latex(at)  # translate first, then rotate: (1, 0) -> (0, 1)
    at.button(key="affine_down0").click().run()
    no_exceptions(at)
    assert r"T(1,\ 0) \; R(90^\circ)" in product_latex(at)
    assert "0 & -1 & 1" in product_latex(at)  # order matters
    assert at.slider(key="affine_step0_rotate_degrees").value == 90.0  # sliders follow their step
    at.button(key="affine_remove0").click().run()
    assert slider_keys(at) == ["affine_step0_translate_tx", "affine_step0_translate_ty"]
    assert at.query_params["steps"] == "translate:1,0"


def test_typing_the_matrix_directly_and_back_to_steps(no_exceptions):
    at = page_test(PAGE).run()
    at.button(key="affine_preset_rotate45").click().run()
    at.radio(key="affine_mode").set_value("direct").run()
    no_exceptions(at)
    assert at.number_input(key="affine_m00").value == pytest.approx(0.707107, abs=1e-6)
    assert at.number_input(key="affine_m01").value == pytest.approx(-0.707107, abs=1e-6)
    at.number_input(key="affine_m00").set_value(2.0).set_value(2.0).run()
    at.number_input(key="affine_m01").set_value(0.0).run()
    at.number_input(key="affine_m10").set_value(0.0).run()
    at.number_input(key="affine_m11").set_value(-1.0).run()
    no_exceptions(at)
    assert "2 & 0 & 0" in product_latex(at)
    assert at.query_params["mode"] == "direct" and at.query_params["m00"] == "2.0"
    at.radio(key="affine_mode").set_value("steps").run()  # the typed matrix comes back as its decomposition
    no_exceptions(at)
    assert slider_keys(at) == ["affine_step0_scale_sx", "affine_step0_scale_sy"]
    assert at.slider(key="affine_step0_scale_sx").value == pytest.approx(2.0)
    assert at.slider(key="affine_step0_scale_sy").value == pytest.approx(-1.0)


def test_forward_mapping_of_a_singular_matrix_explains_instead_of_failing(no_exceptions):
    at = page_test(PAGE).run()
    at.radio(key="affine_mode").set_value("direct").run()
    for key in ("m00", "m01", "m10", "m11"):
        at.number_input(key=f"affine_{key}").set_value(0.0).run()
    at.radio(key="affine_mapping").set_value("forward").run()
    no_exceptions(at)
    assert any("singular" in e.value for e in at.error)
    assert not any(item.value.lstrip("$\n").startswith(r"\theta") for item in at.latex)


def test_a_combination_an_engine_cannot_do_is_explained(no_exceptions):
    at = page_test(PAGE).run()
    at.selectbox(key="affine_interp").set_value("bicubic").run()
    at.selectbox(key="affine_engine").set_value("skimage").run()
    no_exceptions(at)
    assert any("Catmull-Rom" in e.value for e in at.error)
    at.selectbox(key="affine_engine").set_value("torch").run()
    no_exceptions(at)
    assert not at.error


def test_pixel_frames_use_pixel_translations(no_exceptions):
    at = page_test(PAGE).run()
    at.button(key="affine_preset_translate").click().run()
    at.radio(key="affine_frame").set_value("pixels_corner").run()
    tx = at.slider(key="affine_step0_translate_tx")
    assert tx.label == "tx (px)" and tx.max == 1024.0
    tx.set_value(300.0).run()
    no_exceptions(at)
    assert "1 & 0 & 300" in product_latex(at)
    assert any("top-left pixel" in c.value for c in at.caption)
    at.radio(key="affine_frame").set_value("normalised").run()  # 300 does not fit the normalised slider
    no_exceptions(at)
    assert at.slider(key="affine_step0_translate_tx").value == 2.0
    assert any("clamped" in w.value for w in at.warning)


def test_bilinear_explainer_shows_the_seed_location(opened):
    from services.affine import explain_bilinear
    from services.imaging import load_sample

    latex = " ".join(item.value for item in opened.latex)
    assert r"R_1 = " in latex and "0.3\\cdot" in latex and "0.7\\cdot" in latex
    assert "0.8\\cdot" in latex and "0.2\\cdot" in latex
    assert opened.number_input(key="affine_bx").value == 6.7 and opened.number_input(key="affine_by").value == 3.2
    red = load_sample("astronaut").pixels[:, :, 0].astype(float)
    expected = explain_bilinear(red, 6.7, 3.2)
    neighbours = next(frame.value for frame in opened.dataframe if "neighbour" in frame.value.columns)
    assert neighbours["value"].tolist() == [expected.q11, expected.q21, expected.q12, expected.q22]
    assert next(m.value for m in opened.metric if m.label == "P") == f"{expected.p:.6g}"


def test_animation_and_full_size_check_can_be_switched_on(no_exceptions):
    at = page_test(PAGE).run()
    charts = len(at.get("plotly_chart"))
    at.toggle(key="affine_animate").set_value(True).run()
    no_exceptions(at)
    assert len(at.get("plotly_chart")) == charts + 1
    at.session_state["affine_check_open"] = True
    at.run()
    at.toggle(key="affine_check_full").set_value(True).run()
    no_exceptions(at)
    assert "512×512" in " ".join(c.value for c in at.caption)


def test_the_url_restores_the_view_and_bad_steps_fall_back(no_exceptions):
    at = page_test(PAGE)
    at.query_params["steps"] = "rotate:45;translate:0.25,0"
    at.query_params["engine"] = "opencv"
    at.query_params["padding"] = "reflection"
    at.run()
    no_exceptions(at)
    assert slider_keys(at) == ["affine_step0_rotate_degrees", "affine_step1_translate_tx", "affine_step1_translate_ty"]
    assert at.selectbox(key="affine_engine").value == "opencv"
    assert at.selectbox(key="affine_padding").value == "reflection"
    broken = page_test(PAGE)
    broken.query_params["steps"] = "spin:45"
    broken.run()
    no_exceptions(broken)
    assert any("could not be read" in w.value for w in broken.warning)
    assert len(broken.slider) == 5


def test_every_number_on_the_page_matches_the_service(opened):
    from services.affine import compose, parse_steps

    m = compose(parse_steps("shear:0.2,0;scale:0.8,0.8;rotate:20"))
    k_prime = m[:2, :2] @ [0.5, 0.25] + m[:2, 2]
    k_latex = next(item.value for item in opened.latex if "K' = MK" in item.value)
    assert f"{k_prime[0]:.4g}" in k_latex and f"{k_prime[1]:.4g}" in k_latex
    det = next(m.value for m in opened.metric if m.label == "det M")
    assert np.isclose(float(det), np.linalg.det(m[:2, :2]), atol=1e-4)


def test_an_old_link_restores_every_control_under_its_short_name(no_exceptions):
    at = page_test(PAGE)
    for name, value in {"mode": "direct", "m00": "2.0", "m12": "0.5", "interp": "nearest", "frame": "pixels_centre",
                        "mapping": "forward", "kx": "1.5", "bx": "10.5", "by": "4", "channel": "blue",
                        "m01": "1e9"}.items():
        at.query_params[name] = value
    at.run()
    no_exceptions(at)
    assert at.number_input(key="affine_m00").value == 2.0 and at.number_input(key="affine_m12").value == 0.5
    assert at.number_input(key="affine_m01").value == 0.0  # beyond the entry limit: the default
    assert at.selectbox(key="affine_interp").value == "nearest"
    assert at.radio(key="affine_frame").value == "pixels_centre"
    assert at.radio(key="affine_mapping").value == "forward" and at.number_input(key="affine_kx").value == 1.5
    assert at.number_input(key="affine_bx").value == 10.5 and at.selectbox(key="affine_channel").value == "blue"
    assert at.query_params["m00"] == "2.0" and at.query_params["interp"] == "nearest"
    assert not any(name.startswith("affine_") and name != "affine_image_sample" for name in at.query_params)


def test_closed_panels_compute_nothing_and_a_refusal_reads_in_full(no_exceptions):
    at = page_test(PAGE).run()
    assert not at.table  # the engine check is closed: no engine ran
    assert not any("Forward (push" in (getattr(i, "caption", "") or "") for i in at.get("imgs"))
    at.selectbox(key="affine_interp").set_value("bicubic").run()
    at.session_state["affine_check_open"] = True
    at.run()
    no_exceptions(at)
    engines = at.table[0].value.set_index("engine")
    assert "Catmull-Rom" in engines.loc["skimage", "verdict"] and engines.loc["skimage", "time (ms)"] == "—"
    assert "None" not in engines.to_string()
