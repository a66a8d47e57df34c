"""The map component: the base map is rendered once per map, and a rerun sends exactly what st_folium would."""

import streamlit_folium

from components import folium_map as component
from components.static_files import FOLDER, published_url
from services.geo.mapview import base_map, outlines_json, results_script
from tests.test_geo_mapview import OUTLINES, _results


def _sent(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **arguments: calls.append(arguments))
    return calls


def _comparable(arguments: dict) -> dict:
    return {name: value for name, value in arguments.items() if name != "on_change"}  # a new closure per call


def test_a_rerun_sends_what_st_folium_sends_without_building_the_map_again(monkeypatch):
    component._base_arguments.clear()
    builds = []

    def build():
        builds.append(1)
        return base_map(OUTLINES, "outlines", None, publish=published_url)

    sent = _sent(monkeypatch)
    layers = [results_script(lat, 2.35, _results(["a"]), radius_km=None) for lat in (48.85, 10.0)]
    for layer in layers:
        component.folium_map(("test", 1), build, key="nn_map", height=400, layer_script=layer)
    assert len(builds) == 1
    streamlit_folium.st_folium(build(), key="nn_map", height=400, use_container_width=True,
                               returned_objects=["last_clicked"])
    own = _comparable(sent.pop())
    assert [call["feature_group"] for call in sent] == layers
    assert [_comparable({**call, "feature_group": None}) for call in sent] == [own, own]


def test_a_dropped_data_file_is_published_again(monkeypatch):
    component._base_arguments.clear()
    outlines = outlines_json({"type": "FeatureCollection", "features": []}) + " "  # its own file name
    builds = []

    def build():
        builds.append(1)
        return base_map(outlines, "outlines", None, publish=published_url)

    sent = _sent(monkeypatch)
    component.folium_map(("test", 2), build, key="nn_map", height=400, layer_script=None)
    data = [url for url in sent[0]["js_links"] if "outlines-" in url]
    (FOLDER / data[0].rsplit("/", 1)[1]).unlink()
    component.folium_map(("test", 2), build, key="nn_map", height=400, layer_script=None)
    assert len(builds) == 2 and (FOLDER / data[0].rsplit("/", 1)[1]).exists()
    component.folium_map(("test", 2), build, key="nn_map", height=400, layer_script=None)
    assert len(builds) == 2
