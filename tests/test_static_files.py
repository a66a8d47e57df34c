"""Files a component's iframe loads by URL: named by content, written once, bounded in number."""

from components import static_files
from components.static_files import FOLDER, MAX_FILES, ROUTE, published_url


def test_a_published_file_is_named_by_its_content_and_served_beside_the_iframe():
    url = published_url("outlines.js", "var a = 1;")
    assert url.startswith(f"../{ROUTE}/outlines-") and url.endswith(".js")
    path = FOLDER / url.rsplit("/", 1)[1]
    assert path.read_text(encoding="utf-8") == "var a = 1;"
    assert published_url("outlines.js", "var a = 1;") == url  # the same text: the same file, not a new one
    assert published_url("outlines.js", "var a = 2;") != url


def test_a_dropped_file_is_written_again_and_the_folder_stays_bounded(monkeypatch):
    monkeypatch.setattr(static_files, "MAX_FILES", 5)
    urls = [published_url("dots.js", f"var n = {n};") for n in range(12)]
    assert len(list(FOLDER.iterdir())) <= 5 <= MAX_FILES
    first = FOLDER / urls[0].rsplit("/", 1)[1]
    assert not first.exists()
    assert published_url("dots.js", "var n = 0;") == urls[0] and first.read_text(encoding="utf-8") == "var n = 0;"
