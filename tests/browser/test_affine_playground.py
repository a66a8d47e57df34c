"""The affine playground in a real browser: a preset changes the matrix, the URL and the warped picture."""

from urllib.parse import unquote

from tests.browser.conftest import PLOTLY_DRAWS, assert_clean, plotly_draws, screenshot, settle

#: Boxes of the bilinear figure's texts and markers, as the browser drew them (value texts are the heatmap's).
BILINEAR_BOXES = """() => {
  const chart = [...document.querySelectorAll('.js-plotly-plot')].find(c => c.textContent.includes('Q11'));
  const boxes = [];
  for (const el of chart.querySelectorAll('text, path.point')) {
    if (el.closest('.xaxislayer-above, .yaxislayer-above, .g-xtitle, .g-ytitle')) continue;
    const r = el.getBoundingClientRect();
    const kind = !el.closest('g.trace.scatter') ? 'value' : el.tagName === 'text' ? 'label' : 'marker';
    boxes.push({kind, text: el.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom});
  }
  return boxes;
}"""


def open_page(tab, app_url, query=""):
    """Open /affine, optionally with a shared query string."""
    tab.goto(f"{app_url}/affine{query}")
    settle(tab)
    assert_clean(tab)


def output_image(tab):
    """The warped output: the image whose caption names the engine."""
    return tab.locator('[data-testid="stImage"]').filter(has_text="padding").first


def overlap(a, b, slack=1.0):
    return a["left"] + slack < b["right"] and b["left"] + slack < a["right"] and \
        a["top"] + slack < b["bottom"] and b["top"] + slack < a["bottom"]


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


def test_bilinear_explainer_shows_every_value_and_label_unobstructed(page, app_url):
    """Issue 17 defect 6: the neighbour values sat under the Q markers and R1/R2 collided with Q21/Q22."""
    for width, height, name in ((1440, 1000, "affine_bilinear_1440"), (1280, 720, "affine_bilinear_1280x720")):
        page.set_viewport_size({"width": width, "height": height})
        open_page(page, app_url)
        page.get_by_text("Bilinear interpolation at a fractional location").scroll_into_view_if_needed()
        settle(page)
        boxes = page.evaluate(BILINEAR_BOXES)
        values = [b for b in boxes if b["kind"] == "value"]
        labels = [b for b in boxes if b["kind"] == "label"]
        markers = [b for b in boxes if b["kind"] == "marker"]
        assert len(values) == 36 and sorted(b["text"] for b in labels) == ["P", "Q11", "Q12", "Q21", "Q22", "R1", "R2"]
        for value in values:
            for other in labels + markers[:4]:  # every label, and the four neighbour markers
                assert not overlap(value, other), f"{other['text'] or 'a marker'} covers the value {value['text']}"
        for index, label in enumerate(labels):
            for other in labels[index + 1:]:
                assert not overlap(label, other), f"{label['text']} collides with {other['text']}"
        screenshot(page, name)


def test_engine_check_reads_a_refusal_in_full_and_never_none(page, app_url):
    """Issue 17 defect 6: the engine check cut off the skimage verdict and showed "None"."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, app_url, "?interp=bicubic")
    page.get_by_text("Check: do the four engines agree?").click()
    settle(page)
    assert_clean(page)
    table = page.locator('[data-testid="stTable"]').filter(has_text="skimage")
    row = table.locator("tr").filter(has_text="skimage").inner_text()
    assert "Catmull-Rom kernel (a = -0.5), not Keys' a = -0.75" in row and "choose another engine" in row
    assert "None" not in table.inner_text()
    table.scroll_into_view_if_needed()
    screenshot(page, "affine_engine_check_1280x720")


def test_a_slider_move_draws_the_sampling_grid_once(page, app_url):
    """Issue 17: every slider move drew the new sampling grid (and the shapes) twice in the browser."""
    page.context.add_init_script(PLOTLY_DRAWS)
    open_page(page, app_url)
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="angle (degrees)").get_by_role("slider")
    thumb.focus()
    for _ in range(2):
        plotly_draws(page)
        thumb.press("ArrowRight")
        settle(page)
        assert_clean(page)
        drawn = plotly_draws(page)
        assert drawn.count("column (px)") == 1, drawn
