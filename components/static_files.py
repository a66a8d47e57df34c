"""Files a component's iframe loads by URL, so that large constant data is not resent with every rerun.

A rerun resends every argument of a component (the map's Leaflet library, country outlines and place dots:
~480 kB per click). Written once here, named by their content, they are served by Streamlit's component file
route (registered as a component that is never drawn) and cached by the browser, and an argument carries only
the URL. One folder per server process, removed when it exits.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

import streamlit.components.v1 as components

FOLDER = Path(tempfile.mkdtemp(prefix="explorable-files-"))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
#: Files kept; the oldest go first (a page asks again on its next rerun and gets its file written back).
MAX_FILES = 64
# Registered under a ScriptRunContext only (Streamlit's rule), which a page module's import has.
components.declare_component("files", path=str(FOLDER))
ROUTE = f"{__name__}.files"
_lock = threading.Lock()


def published_url(name: str, text: str) -> str:
    """The URL, relative to a component's iframe (``/component/<component>/index.html``), of ``text`` saved
    as ``name`` with its content hash in the file name; written on first use and again if it was dropped."""
    stem, dot, suffix = name.rpartition(".")
    filename = f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:16]}{dot}{suffix}"
    path = FOLDER / filename
    with _lock:
        if path.exists():
            path.touch()  # recently used: the last to be dropped
        else:
            partial = path.with_suffix(".partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
            _drop_oldest(keep=path)
    return f"../{ROUTE}/{filename}"


def _drop_oldest(keep: Path) -> None:
    files = sorted((p for p in FOLDER.iterdir() if p != keep), key=lambda p: p.stat().st_mtime)
    for old in files[:max(0, len(files) + 1 - MAX_FILES)]:
        old.unlink(missing_ok=True)


def is_published(url: str) -> bool:
    """False only for a URL of :func:`published_url` whose file has been dropped since (other URLs: True)."""
    prefix = f"../{ROUTE}/"
    return not url.startswith(prefix) or (FOLDER / url[len(prefix):]).exists()
