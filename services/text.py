"""Visitor text: shown inside Streamlit's markdown, and sized before a parser reads it.

``st.error``, ``st.info``, ``st.caption`` and ``st.markdown`` all render links, images, HTML and directives,
so a file name or a CSV header ``![t](http://attacker.example/t.png)`` would load an outside image for every
viewer of the page: every page escapes such text with ``escape_markdown``.
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~$:])")


def escape_markdown(text: object) -> str:
    """``text`` shown literally inside markdown: no links, images, HTML, maths or colour directives."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def first_line_fields(text: str, delimiters: str = ",;\t|") -> int:
    """An upper bound of the fields in ``text``'s first line (every candidate delimiter counted), cheap enough
    to check before a CSV parser builds one column per field."""
    end = text.find("\n")
    line = text if end < 0 else text[:end]
    return 1 + sum(line.count(delimiter) for delimiter in delimiters)
