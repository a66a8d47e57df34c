"""``streamlit`` with the service layer imported first: the server answers ``/_stcore/health`` only once torch,
scikit-learn, geopandas and plotly are in memory.

Why: a bare server answers health at once, and its first visitor's script run then imported every page's
libraries (about 9 s of a 10–11 s first page on 2 cores) while the warm-up competed for the same cores. Here
the imports happen before the server listens, so the launcher (``scripts/serve.py``), nginx and a
Kubernetes readiness probe see the replica as ready only when a page can answer in seconds. The services
never import streamlit, so nothing here touches Streamlit's runtime (page modules and components still load in
the first script run, where a custom component must register itself).

    python -m scripts.preloaded_streamlit run app.py [streamlit's options]
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import services


def preload_services() -> list[str]:
    """Import every module under ``services`` (and so the libraries they use); returns their names."""
    names = [info.name for info in pkgutil.walk_packages(services.__path__, prefix="services.")]
    for name in names:
        importlib.import_module(name)
    return names


def main() -> None:
    preload_services()
    from streamlit.web.cli import main as streamlit_main

    sys.exit(streamlit_main())


if __name__ == "__main__":
    main()
