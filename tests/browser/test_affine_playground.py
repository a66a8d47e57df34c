"""The affine playground in a real browser: a preset changes the matrix, the URL and the warped picture."""

from urllib.parse import unquote

from tests.browser.conftest import assert_clean, screenshot, settle


def open_page(tab, app_url, query=""):
    """Open /affine, optionally with a shared query string."""
    tab.goto(f"{app_url}/affine{query}")
    settle(tab)
    assert_clean(tab)


def output_image(tab):
    """The warped output: the image whose caption names the engine."""
    return tab.locator('[data-testid="stImage"]').filter(has_text="padding").first


def test_preset_changes_matrix_url_and_picture(page, app_url):
    open_page(page, app_url)
    assert page.get_by_role("heading", name="Affine playground").count() == 1
    before = output_image(page).screenshot()

    page.get_by_role("button", name="Seed: translate 0.5 in x").click()
    settle(page)
    assert_clean(page)
    assert "steps=translate:0.5,0" in unquote(page.url)
    assert output_image(page).screenshot() != before
    assert page.locator(".katex").filter(has_text="T(0.5").count() >= 1

    page.get_by_role("button", name="Seed: rotate 45°").click()
    settle(page)
    assert_clean(page)
    assert "steps=rotate:45" in unquote(page.url)
    page.get_by_text("Check: do the four engines agree?").click()
    settle(page)
    assert page.get_by_text("agrees").count() >= 3
    screenshot(page, "affine_rotate45")


def test_shared_url_reopens_the_same_view(page, app_url):
    open_page(page, app_url, "?steps=italic_typo")
    assert page.get_by_text("could not be read").count() == 1
    page.goto(f"{app_url}/affine?steps=shear:0.3,0&engine=opencv&padding=reflection")
    settle(page)
    assert_clean(page)
    assert page.get_by_text("opencv · bilinear · reflection padding").count() == 1
    screenshot(page, "affine_italic_opencv")
