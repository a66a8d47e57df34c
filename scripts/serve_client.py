"""A headless Streamlit client on the browser's own websocket protocol, for load tests, failover and warm-up.

It does what the browser does, minus painting: ``GET /`` (which is where the load balancer's affinity cookie is
set), one websocket on ``/_stcore/stream``, a ``BackMsg.rerun_script`` with the page, the query string and the
widget values, then every ``ForwardMsg`` until ``script_finished``; media (``/media/...``) referenced by the run
are fetched over HTTP with the same cookie, as the browser's ``<img>`` tags would. Widgets seen in the deltas are
remembered by label so a scenario can say "set K to 9" without knowing widget ids.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.util import calc_hash
from websockets.sync.client import connect

SUBPROTOCOLS = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]
MEDIA_URL = re.compile(rb"/media/[0-9a-f]{20,}\.[a-z0-9]{2,5}")
#: Element types that are widgets, and how each one sends its value (streamlit's ``value_type``).
WIDGET_VALUE_TYPES = {
    "slider": "double_array_value", "number_input": "double_value", "selectbox": "string_value",
    "radio": "string_value", "select_slider": "string_array_value", "checkbox": "bool_value",
    "button": "trigger_value", "text_input": "string_value", "segmented_control": "string_array_value",
    "button_group": "string_array_value", "multiselect": "string_array_value",
}


class ServerGone(ConnectionError):
    """The websocket closed before the script finished: the replica died or restarted."""


@dataclass
class Widget:
    """A widget the server drew: its id, type, label, the fragment it lives in, and its element proto."""

    id: str
    kind: str
    label: str
    fragment_id: str
    proto: Any

    @property
    def options(self) -> list[str]:
        return list(getattr(self.proto, "options", []))

    @property
    def value(self) -> object:
        """What the widget shows: the value the server set (session state, URL) or else its default."""
        for name in ("value", "raw_value"):
            if self.proto.DESCRIPTOR.fields_by_name.get(name) and getattr(self.proto, "set_value", False):
                field_value = getattr(self.proto, name)
                return list(field_value) if hasattr(field_value, "__len__") and not isinstance(field_value, str) \
                    else field_value
        default = getattr(self.proto, "default", None)
        return list(default) if hasattr(default, "__len__") and not isinstance(default, str) else default


@dataclass
class RunResult:
    """One script run as the viewer experiences it."""

    seconds: float  # from sending the request to script_finished and the run's media fetched
    ws_bytes: int
    media_bytes: int
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # st.error bodies: the page's own clear messages
    query_string: str = ""  # as the page wrote it back into the URL (st.query_params)
    page_not_found: bool = False
    finished_status: int = -1


class StreamlitSession:
    """One viewer: a cookie jar with the affinity cookie, one websocket, the widgets seen so far."""

    def __init__(self, base_url: str, *, timeout_s: float = 120.0, fetch_media: bool = True,
                 cookie: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.fetch_media = fetch_media
        self.cookie = cookie  # a returning viewer keeps its cookies (the load balancer's routing cookie)
        self.replica = ""  # the upstream that answered, where the local nginx says so
        self.widgets: dict[str, Widget] = {}
        self.widget_states: dict[str, WidgetState] = {}
        self.page = ""
        self.query_string = ""
        self._ws = None

    # -- connection --------------------------------------------------------------------------------------
    def open(self) -> StreamlitSession:
        request = urllib.request.Request(self.base_url + "/", headers={"Cookie": self.cookie} if self.cookie else {})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            cookies = response.headers.get_all("Set-Cookie") or []
            self.replica = response.headers.get("X-Explorable-Replica", "")
            response.read()
        if cookies:
            self.cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
        ws_url = self.base_url.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": self.cookie} if self.cookie else None
        self._connection = connect(ws_url, subprotocols=SUBPROTOCOLS, max_size=None, additional_headers=headers,
                                   open_timeout=self.timeout_s, close_timeout=2)
        self._ws = self._connection.__enter__()
        return self

    def close(self) -> None:
        if self._ws is not None:
            self._ws = None
            self._connection.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a viewer does ------------------------------------------------------------------------------
    def load(self, page: str, query: dict[str, str] | str = "") -> RunResult:
        """Open ``page`` (its url_path; "" for the default page) with a query string, as a fresh page load."""
        self.page = page
        self.widgets.clear()
        self.widget_states.clear()
        self.query_string = query if isinstance(query, str) else urlencode(query)
        return self._rerun(fragment_id="")

    def set(self, label: str, value: object) -> RunResult:
        """Change the widget whose label starts with ``label`` to ``value`` (an option's label for choices)."""
        widget = self.widget(label)
        self.widget_states[widget.id] = _widget_state(widget, value)
        return self._rerun(fragment_id=widget.fragment_id)

    def widget(self, label: str) -> Widget:
        for widget in self.widgets.values():
            if widget.label.startswith(label):
                return widget
        raise KeyError(f"no widget labelled {label!r} on /{self.page}; seen: {sorted(self.widgets)}")

    # -- protocol ----------------------------------------------------------------------------------------
    def _rerun(self, fragment_id: str) -> RunResult:
        if self._ws is None:
            raise ServerGone("not connected")
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = calc_hash(self.page) if self.page else ""
        state.page_name = self.page
        state.fragment_id = fragment_id
        state.widget_states.widgets.extend(self.widget_states.values())
        started = time.perf_counter()
        try:
            self._ws.send(message.SerializeToString())
            result = self._read_until_finished(started)
        except (OSError, EOFError) as error:
            raise ServerGone(str(error)) from error
        except Exception as error:  # websockets.ConnectionClosed* derive from Exception only
            if type(error).__module__.startswith("websockets"):
                raise ServerGone(str(error)) from error
            raise
        return result

    def _read_until_finished(self, started: float) -> RunResult:
        result = RunResult(seconds=0.0, ws_bytes=0, media_bytes=0, query_string=self.query_string)
        media: list[str] = []
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"/{self.page}: no script_finished within {self.timeout_s:.0f} s")
            raw = self._ws.recv(timeout=remaining)
            if isinstance(raw, str):
                continue
            result.ws_bytes += len(raw)
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "delta":
                self._note_delta(message, result)
                media.extend(m.decode() for m in MEDIA_URL.findall(raw))
            elif kind == "page_info_changed":
                result.query_string = self.query_string = message.page_info_changed.query_string
            elif kind == "page_not_found":
                result.page_not_found = True
            elif kind == "script_finished":
                result.finished_status = message.script_finished
                if message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    break
        if self.fetch_media:
            for url in dict.fromkeys(media):
                result.media_bytes += self._fetch(url)
        result.seconds = time.perf_counter() - started
        return result

    def _note_delta(self, message: ForwardMsg, result: RunResult) -> None:
        delta = message.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            result.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            result.errors.append(element.alert.body)
        elif kind in WIDGET_VALUE_TYPES:
            proto = getattr(element, kind)
            if proto.id:
                self.widgets[proto.label] = Widget(proto.id, kind, proto.label, delta.fragment_id, proto)

    def _fetch(self, path: str) -> int:
        request = urllib.request.Request(self.base_url + path, headers={"Cookie": self.cookie})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return len(response.read())


def _widget_state(widget: Widget, value: object) -> WidgetState:
    state = WidgetState(id=widget.id)
    value_type = WIDGET_VALUE_TYPES[widget.kind]
    if value_type == "double_array_value":
        state.double_array_value.data.extend(value if isinstance(value, (list, tuple)) else [float(value)])
    elif value_type == "string_array_value":
        state.string_array_value.data.extend(value if isinstance(value, (list, tuple)) else [str(value)])
    elif value_type == "double_value":
        state.double_value = float(value)
    elif value_type == "bool_value":
        state.bool_value = bool(value)
    elif value_type == "trigger_value":
        state.trigger_value = True
    else:
        state.string_value = str(value)
    return state
