"""Shareable page state: a page's main controls live in ``st.query_params`` so a copied URL reopens the view.

A page declares its controls once as ``Param``s. ``restore(params)`` seeds ``st.session_state`` from the URL
the first time the page runs in a session (bad or out-of-range values fall back to the default), widgets use
the same keys, and ``publish(params)`` writes the current values back after the widgets are drawn.
Session keys carry the page prefix (``knn_k``); the URL keeps a short name (``k``), and names a link used
before (``aliases``) still restore, so links shared earlier keep working.
The encode/decode helpers are pure so they are tested without a running app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class Param:
    """One control that travels in the URL. Its type is the type of ``default``."""

    key: str  # session-state key of the widget, with the page prefix
    default: Any
    choices: Sequence[Any] | None = None  # allowed values (for selectboxes / radios)
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    url: str | None = None  # query-parameter name; the session key when None
    aliases: tuple[str, ...] = ()  # older query-parameter names that still restore

    @property
    def name(self) -> str:
        """The query-parameter name this control is published under."""
        return self.url or self.key

    def raw_from(self, query: Mapping[str, str]) -> str | None:
        """This control's raw value in ``query``: its own name first, then its older names."""
        for name in (self.name, *self.aliases):
            if name in query:
                return query[name]
        return None

    def decode(self, raw: str | None) -> Any:
        """The value ``raw`` stands for, or the default when it is missing or invalid."""
        if raw is None:
            return self.default
        try:
            value = _parse(raw, self.default)
        except ValueError:
            return self.default
        if self.choices is not None:
            members = value if isinstance(value, (list, tuple)) else [value]
            if any(member not in self.choices for member in members):
                return self.default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                return self.default
        return value

    def encode(self, value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        if isinstance(value, float):
            return repr(round(value, 10))
        return str(value)


def decode_all(params: Sequence[Param], query: Mapping[str, str]) -> dict[str, Any]:
    """Values for every param from a query mapping (missing or bad ones get their default)."""
    return {p.key: p.decode(p.raw_from(query)) for p in params}


def encode_changed(params: Sequence[Param], values: Mapping[str, Any]) -> dict[str, str]:
    """Query entries for the values that differ from their defaults (short URLs for the common case)."""
    return {p.name: p.encode(values[p.key]) for p in params if p.key in values and values[p.key] != p.default}


def restore(params: Sequence[Param]) -> None:
    """Seed session state from the URL, once per session and key, before the widgets are created."""
    query = {key: st.query_params.get(key) for key in st.query_params}
    for param in params:
        if param.key not in st.session_state:
            st.session_state[param.key] = param.decode(param.raw_from(query))


def publish(params: Sequence[Param]) -> None:
    """Write the current widget values to the URL, removing entries that are back at their default."""
    values = {p.key: st.session_state[p.key] for p in params if p.key in st.session_state}
    wanted = encode_changed(params, values)
    for param in params:
        for old in param.aliases:
            if old in st.query_params:
                del st.query_params[old]
        current = st.query_params.get(param.name)
        if param.name in wanted:
            if current != wanted[param.name]:
                st.query_params[param.name] = wanted[param.name]
        elif current is not None:
            del st.query_params[param.name]


def keep_valid(key: str, choices: Sequence[Any], default: Any = None) -> bool:
    """Reset ``st.session_state[key]`` to ``default`` (the first choice when None) if it is not among
    ``choices``, so a widget whose options changed never sees a stale value. Returns True when it was reset."""
    if key in st.session_state and st.session_state[key] in choices:
        return False
    if default is None and not choices:
        return st.session_state.pop(key, None) is not None
    st.session_state[key] = choices[0] if default is None else default
    return True


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if isinstance(default, (list, tuple)):
        items = [item for item in raw.split(",") if item]
        element = default[0] if default else ""
        return type(default)(_parse(item, element) for item in items)
    return raw
