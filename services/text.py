"""Visitor text (a file name, a column or class name, a message quoting them) shown inside Streamlit's
markdown: ``st.error``, ``st.info``, ``st.caption`` and ``st.markdown`` all render links, images, HTML and
directives, so a CSV header ``![t](http://attacker.example/t.png)`` would load an outside image for every
viewer of the page. Every page escapes such text with this one function."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~$:])")


def escape_markdown(text: object) -> str:
    """``text`` shown literally inside markdown: no links, images, HTML, maths or colour directives."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
