"""The Grad-CAM page in headless Chromium: the grid draws, a top-5 button retargets it, the grid PNG downloads."""

import re

from tests.browser.conftest import assert_clean, screenshot, settle


def _open(page, url: str) -> None:
    page.goto(url)
    settle(page)
    assert_clean(page)


def test_grid_retarget_and_download(page, app_url):
    page.set_viewport_size({"width": 1600, "height": 1400})
    _open(page, f"{app_url}/gradcam")
    body = page.inner_text("body")
    assert "Egyptian cat · 77.3%" in body and "Explaining Egyptian cat" in body
    assert re.search(r"Ran on cpu|Ran on cuda", body)
    # input + guided backprop + 8 stages × (Grad-CAM + guided Grad-CAM)
    assert page.locator('[data-testid="stImage"]').count() >= 2 + 16
    screenshot(page, "gradcam-default")

    page.get_by_role("button", name="tiger cat · 10.1%").click()
    settle(page)
    assert_clean(page)
    assert "Explaining tiger cat" in page.inner_text("body")
    assert re.search(r"[?&]target=282\b", page.url)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the grid (PNG)").click()
    png = download.value
    assert png.suggested_filename == "gradcam-efficientnet-lite0.png"
    with open(png.path(), "rb") as data:
        assert data.read(8) == b"\x89PNG\r\n\x1a\n"
    screenshot(page, "gradcam-tiger-cat")


def test_url_view_with_two_methods_and_shared_scale(page, app_url):
    _open(page, f"{app_url}/gradcam?methods=gradcam,layercam&layers=_blocks.4,_blocks.15&shared=1&guided_cam=0")
    body = page.inner_text("body")
    assert "LayerCAM" in body and "stage 3 · _blocks.4" in body and "stage 7 · _blocks.15" in body
    assert "stage 1 · _blocks.0" not in body
    screenshot(page, "gradcam-shared-scale")
