"""The Grad-CAM page in AppTest: grid, target switching, URL state, slow-method gate, offline ResNet fallback."""

import re
import socket

import pytest
import torch

from services.cam.figures import FAITHFULNESS_OFF
from tests.conftest import app_test, page_test
from views.gradcam_layers import INFO

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _markdown(at) -> list[str]:
    """Every markdown element's text: grid row labels are the method titles in bold."""
    return [m.value for m in at.markdown]


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_default_view_explains_chelsea_at_every_stage(no_exceptions):
    at = page_test("gradcam_layers")
    at.run()
    no_exceptions(at)
    assert INFO.title in at.title[0].value
    assert [b.label for b in at.button][0] == "Egyptian cat · 77.3%"
    assert "Explaining **Egyptian cat**" in _captions(at) and re.search(r"Ran on \*\*(cpu|cuda)", _captions(at))
    text = _markdown(at)
    for label in ("**stage 1 · _blocks.0**", "**stage 8 · _conv_head**", "**Grad-CAM**", "**Guided Grad-CAM**"):
        assert label in text
    assert "Most faithful cell" not in _captions(at) and FAITHFULNESS_OFF in _captions(at)  # opt-in
    assert [d.label for d in at.download_button] == ["Download the grid (PNG)"]
    assert not at.error


def test_faithfulness_is_scored_when_asked_for(no_exceptions):
    """Off by default (a forward pass per cell), on from the toggle or a link with faith=1."""
    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_blocks.15,_conv_head", "size": "96", "faith": "1"})
    at.run()
    no_exceptions(at)
    assert "Most faithful cell" in _captions(at) and FAITHFULNESS_OFF not in _captions(at)
    assert any(text.startswith("| Δp |") for text in _markdown(at))
    at.toggle(key="cam_faith").set_value(False).run()
    assert "Most faithful cell" not in _captions(at) and FAITHFULNESS_OFF in _captions(at)


def test_a_top5_button_switches_the_target_and_the_url(no_exceptions):
    at = page_test("gradcam_layers")
    at.run()
    at.button(key="cam_top_282").click().run()
    no_exceptions(at)
    assert "Explaining **tiger cat**" in _captions(at)
    assert at.query_params == {"target": "282"}
    assert at.selectbox(key="cam_target").value == 282


def test_the_url_restores_the_view(no_exceptions):
    at = page_test("gradcam_layers")
    at.query_params.update(
        {"methods": "gradcam,eigencam", "layers": "_blocks.15,_conv_head", "size": "128", "guided_cam": "0",
         "faith": "0", "target": "281"}
    )
    at.run()
    no_exceptions(at)
    assert at.multiselect(key="cam_methods").value == ["gradcam", "eigencam"]
    assert at.multiselect(key="cam_layers").value == ["_blocks.15", "_conv_head"]
    text = _markdown(at)
    assert "**EigenCAM**" in text and "**stage 7 · _blocks.15**" in text
    assert "**stage 1 · _blocks.0**" not in text and "**Guided Grad-CAM**" not in text
    assert "Explaining **tabby**" in _captions(at) and "at 128 px" in _captions(at)
    assert "Most faithful cell" not in _captions(at)


def test_slow_methods_wait_for_a_go_with_an_estimate(no_exceptions):
    at = page_test("gradcam_layers")
    at.query_params.update({"methods": "gradcam,scorecam", "layers": "_blocks.0,_blocks.2", "size": "96",
                            "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    no_exceptions(at)
    warning = at.warning[0].value
    assert "Score-CAM runs one forward pass per feature channel" in warning and "43 image passes" in warning
    run = at.button(key="cam_run_slow")
    assert run.label.startswith("Run Score-CAM (≈")
    assert "**Grad-CAM**" in _markdown(at) and "**Score-CAM**" not in _markdown(at)  # only the fast one so far
    run.click().run()
    no_exceptions(at)
    assert "**Score-CAM**" in _markdown(at)
    at.slider(key="cam_alpha").set_value(0.8).run()  # a display change reuses the result: no new estimate or go
    no_exceptions(at)
    assert "**Score-CAM**" in _markdown(at)


def test_offline_resnet_offers_the_bundled_model(no_exceptions, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    at = page_test("gradcam_layers")
    at.run()
    at.selectbox(key="cam_model").set_value("resnet34").run()
    no_exceptions(at)
    assert "not in the local torch cache" in at.error[0].value
    assert at.multiselect(key="cam_layers").value == ["layer1", "layer2", "layer3", "layer4"]
    at.button(key="cam_use_default").click().run()
    no_exceptions(at)
    assert not at.error
    assert at.selectbox(key="cam_model").value == "efficientnet-lite0"
    assert "Explaining **Egyptian cat**" in _captions(at)


def test_the_router_serves_the_page(no_exceptions):
    at = app_test(INFO.url_path)
    at.run()
    no_exceptions(at)
    assert INFO.title in at.title[0].value


def test_session_keys_carry_the_page_prefix_and_old_links_restore(no_exceptions):
    from views.gradcam_layers import PARAMS

    assert all(p.key.startswith("cam_") for p in PARAMS)
    at = page_test("gradcam_layers")
    at.query_params.update({"model": "efficientnet-lite0", "alpha": "0.3", "cmap": "turbo", "raw": "1",
                            "layers": "_conv_head", "guided": "0", "guided_cam": "0", "faith": "0"})
    at.run()
    no_exceptions(at)
    assert at.slider(key="cam_alpha").value == 0.3 and at.selectbox(key="cam_cmap").value == "turbo"
    assert at.toggle(key="cam_raw").value is True
    at.selectbox(key="cam_cmap").set_value("viridis").run()
    no_exceptions(at)
    assert at.query_params["cmap"] == "viridis" and "cam_cmap" not in at.query_params


@pytest.fixture
def offline_with_weights_folder(tmp_path, monkeypatch):
    """No torch cache, no network, and a server weights folder (issue 13 item 10: files over the upload limit)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("CAM_WEIGHTS_DIR", str(folder))
    return folder


def test_a_weights_file_over_the_upload_limit_works_from_the_server_folder(no_exceptions, offline_with_weights_folder):
    from torchvision.models import resnet18

    from views.gradcam_layers import UPLOAD_LIMIT_MB

    torch.manual_seed(0)
    path = offline_with_weights_folder / "resnet18-mine.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    assert path.stat().st_size > UPLOAD_LIMIT_MB * 2**20  # 44.7 MiB: the uploader could not take it
    at = page_test("gradcam_layers")
    at.query_params.update({"size": "96", "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    at.selectbox(key="cam_model").set_value("resnet18").run()
    assert "not in the local torch cache" in at.error[0].value
    at.selectbox(key="cam_weights_path_resnet18").set_value("resnet18-mine.pth").run()
    no_exceptions(at)
    assert not at.error
    assert "Weights: your weights file" in _captions(at) and "Explaining **" in _captions(at)
    assert "**layer4**" in _markdown(at)


def test_a_failing_weights_file_is_read_once(no_exceptions, offline_with_weights_folder, monkeypatch):
    import services.cam.models as models

    (offline_with_weights_folder / "broken.pth").write_bytes(b"not weights" * 100)
    reads = []
    original = models._read_weights_file
    monkeypatch.setattr(models, "_read_weights_file", lambda source: reads.append(source) or original(source))
    at = page_test("gradcam_layers")
    at.run()
    at.selectbox(key="cam_model").set_value("resnet18").run()
    at.selectbox(key="cam_weights_path_resnet18").set_value("broken.pth").run()
    no_exceptions(at)
    assert "not a PyTorch weights file" in at.error[0].value
    at.toggle(key="cam_eigen").set_value(True).run()  # any rerun
    assert "not a PyTorch weights file" in at.error[0].value and len(reads) == 1


def test_a_camera_shot_is_explained_like_an_upload(no_exceptions):
    import io

    from PIL import Image

    from services.imaging import load_sample

    buffer = io.BytesIO()
    Image.fromarray(load_sample("coffee").pixels).save(buffer, "JPEG", quality=90)
    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_conv_head", "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    at.radio(key="cam_image_source").set_value("Camera").run()
    assert "Take a picture" in at.info[0].value
    at.camera_input(key="cam_image_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")).run()
    no_exceptions(at)
    assert not at.error and "Explaining **" in _captions(at)
    assert "espresso" in _captions(at) or "cup" in _captions(at)


def test_the_sanity_check_runs_on_request_and_says_pass_or_fail(no_exceptions):
    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_blocks.15,_conv_head", "size": "96", "faith": "0", "guided_cam": "0"})
    at.run()
    run = at.button(key="cam_run_sanity")
    assert run.label.startswith("Randomise and compare (6 passes, ≈")
    run.click().run()
    no_exceptions(at)
    verdicts = [m.value for m in at.markdown if "when the weights are randomised" in m.value]
    assert len(verdicts) == 2 and all("passes" in v or "FAILS" in v for v in verdicts)
    assert any("Guided backprop keeps rank correlation" in m.value for m in at.markdown)
    assert "the shared model was not touched" in _captions(at)


def test_road_runs_on_request_beside_its_baselines(no_exceptions):
    at = page_test("gradcam_layers", timeout=180)
    at.query_params.update({"layers": "_conv_head", "size": "96", "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    at.button(key="cam_run_road").click().run()
    no_exceptions(at)
    assert any(m.value.startswith("| ROAD | stage 8 |") for m in at.markdown)
    assert "Baselines on the same picture: RandomCAM" in _captions(at) and "Most faithful cell by ROAD" in _captions(at)


def test_the_compare_view_shows_a_second_bundled_network(no_exceptions):
    at = page_test("gradcam_layers", timeout=180)
    at.query_params.update({"layers": "_blocks.4,_conv_head", "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="cam_compare").value == "efficientnet-lite1"
    assert not [m for m in at.markdown if m.value.startswith("**EfficientNet-Lite2")]
    at.selectbox(key="cam_compare").set_value("efficientnet-lite2")
    at.toggle(key="cam_compare_on").set_value(True).run()
    no_exceptions(at)
    lines = [m.value for m in at.markdown if m.value.startswith("**EfficientNet-Lite")]
    assert lines[0].startswith("**EfficientNet-Lite0 (bundled, offline)**: Egyptian cat")
    assert lines[1].startswith("**EfficientNet-Lite2 (bundled, offline)**: ")
    assert "stages matched by relative depth" in _captions(at)


def _banner(at) -> list[str]:
    return [w.value for w in at.warning if "looks unlike the photos" in w.value]


@pytest.mark.parametrize(("picture", "says"), [("uniform noise", "entropy"), ("flat grey", "one flat colour"),
                                               ("bar chart", "one flat colour"), ("text page", "one flat colour")])
def test_an_out_of_domain_upload_gets_the_banner_and_a_photo_does_not(no_exceptions, picture, says):
    from services.imaging import encode_png
    from tests.test_cam_trust import NON_PHOTOS

    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_conv_head", "faith": "0", "guided": "0", "guided_cam": "0"})
    at.run()
    no_exceptions(at)
    assert not _banner(at) and "Explaining **Egyptian cat**" in _captions(at)  # the bundled photo: no banner
    at.radio(key="cam_image_source").set_value("Upload").run()
    png = encode_png(NON_PHOTOS[picture]())
    at.file_uploader(key="cam_image_upload").set_value((f"{picture}.png", png, "image/png")).run()
    no_exceptions(at)
    assert not at.error and "Explaining **" in _captions(at)  # the maps are still drawn, below the banner
    (banner,) = _banner(at)
    assert says in banner and banner.endswith("the maps below explain a guess.")


def test_a_sanity_check_past_its_deadline_says_so_and_what_helps(no_exceptions, monkeypatch):
    """Issue 13's deadline on issue 15's check: a message saying what helps, and the job itself stops at its
    next step (it ends with WorkCancelled on the pool's worker instead of running on)."""
    import threading

    import views.gradcam_layers as view
    from services import budget
    from services.workers import WorkCancelled

    ended, outcome, original = threading.Event(), [], view.sanity_check

    def watched(*args, should_stop=None, **kwargs):
        try:
            return original(*args, should_stop=should_stop, **kwargs)
        except BaseException as exc:
            outcome.append(type(exc))
            raise
        finally:
            ended.set()

    monkeypatch.setattr(view, "sanity_check", watched)
    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_blocks.15,_conv_head", "size": "96", "faith": "0", "guided_cam": "0"})
    at.run()
    monkeypatch.setattr(budget, "HEAVY_WORK_DEADLINE_S", 0.01)  # read when the check starts
    at.button(key="cam_run_sanity").click().run()
    no_exceptions(at)
    (error,) = [e.value for e in at.error]
    assert error.startswith("The sanity check took longer than 0 s") and "Fewer layers (sidebar)" in error
    assert at.button(key="cam_run_sanity")  # the button is back for another try
    assert ended.wait(120) and outcome == [WorkCancelled]


def test_sessions_viewing_the_same_picture_share_one_explanation(no_exceptions, monkeypatch):
    import views.gradcam_layers as page

    calls: dict[str, int] = {}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args, **kwargs)
        return wrapper

    for name in ("forward_pass", "explain_maps", "with_guided_backprop", "with_faithfulness"):
        monkeypatch.setattr(page, name, counted(name, getattr(page, name)))
    page._shared_box.clear()
    query = {"layers": "_blocks.15,_conv_head", "size": "96", "faith": "1"}
    first = page_test("gradcam_layers")
    first.query_params.update(query)
    first.run()
    no_exceptions(first)
    assert calls == {"forward_pass": 1, "explain_maps": 1, "with_guided_backprop": 1, "with_faithfulness": 1}
    second = page_test("gradcam_layers")  # another viewer, its own session
    second.query_params.update(query)
    second.run()
    no_exceptions(second)
    assert calls == {"forward_pass": 1, "explain_maps": 1, "with_guided_backprop": 1, "with_faithfulness": 1}
    assert _captions(second) == _captions(first) and "Most faithful cell" in _captions(second)
    first.button(key="cam_top_282").click().run()  # a new target: one backward pass on the kept forward pass
    no_exceptions(first)
    assert "Explaining **tiger cat**" in _captions(first)
    assert calls["forward_pass"] == 1 and calls["explain_maps"] == 2
    second.button(key="cam_top_282").click().run()  # the same new target elsewhere: already computed
    no_exceptions(second)
    assert "Explaining **tiger cat**" in _captions(second)
    assert calls["forward_pass"] == 1 and calls["explain_maps"] == 2


def test_the_download_grid_is_composed_only_when_asked_for(no_exceptions, monkeypatch):
    """Composing the downloadable grid was ~50 ms of every display change; the button now builds it on a press."""
    import views.gradcam_layers as page
    from services.cam.figures import grid_image

    composed: list[int] = []
    monkeypatch.setattr(page, "grid_image", lambda *args: composed.append(1) or grid_image(*args))
    at = page_test("gradcam_layers")
    at.query_params.update({"layers": "_blocks.15,_conv_head", "size": "96", "faith": "0", "guided_cam": "0"})
    at.run()
    no_exceptions(at)
    at.slider(key="cam_alpha").set_value(0.7).run()
    no_exceptions(at)
    assert composed == []
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Download the grid (PNG)"]
    assert button.proto.deferred_file_id or button.proto.url  # the press asks the server for it then
