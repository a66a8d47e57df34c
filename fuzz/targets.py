"""Fuzz targets: each takes arbitrary bytes and must either succeed or raise the reader's own typed error.

Anything else (a TypeError from a decoder, a RecursionError from a nested document, an OverflowError) is a
traceback a visitor would see in the browser, so the fuzzer reports it as a crash. Seeds are built here, not
committed as binaries.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...]  # the typed errors that carry a message for the person
    seeds: Callable[[], list[bytes]]

    def one_input(self, data: bytes) -> None:
        try:
            self.run(data)
        except self.expected:
            pass


def _image_seeds() -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    seeds = []
    for fmt, mode in (("PNG", "RGBA"), ("GIF", "P"), ("JPEG", "RGB"), ("WEBP", "RGB"), ("BMP", "RGB"), ("TIFF", "RGB")):
        buffer = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(buffer, format=fmt)
        seeds.append(buffer.getvalue())
    return seeds


def _load_image(data: bytes) -> object:
    from fuzz.fuzz_images import one_input  # also checks that what loads is a usable RGB uint8 picture

    return one_input(data)


def _image_errors() -> tuple[type[BaseException], ...]:
    from services.imaging import ImageInputError

    return (ImageInputError,)


def _csv_seeds() -> list[bytes]:
    return [
        b"name,lat,lon,population\nParis,48.8566,2.3522,2100000\nQuito,-0.18,-78.47,1600000\n",
        b"x;y;label\n1,5;2,5;a\n3;4;b\n",
        b"sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n",
    ]


def _read_map_table(data: bytes) -> object:
    from services.geo.places import guess_coordinate_columns, points_from_table, read_table

    table = read_table(data)
    lat, lon = guess_coordinate_columns(table.columns)
    return points_from_table(table, lat, lon)


def _map_errors() -> tuple[type[BaseException], ...]:
    from services.geo.places import PointsFileError

    return (PointsFileError,)


def _read_knn_table(data: bytes) -> object:
    from services.knn import dataset_from_frame, numeric_columns, read_csv_table

    frame = read_csv_table(data, "fuzz.csv")
    numeric = numeric_columns(frame)
    if len(numeric) >= 2:
        labels = [c for c in frame.columns if c not in numeric[:2]] or [numeric[-1]]
        return dataset_from_frame(frame, numeric[0], numeric[1], labels[0], drop_missing=True)
    return frame


def _knn_errors() -> tuple[type[BaseException], ...]:
    from services.knn import KnnError

    return (KnnError,)


def _geojson_seeds() -> list[bytes]:
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
             "properties": {"name": "Paris", "population": 2100000}}
    multi = {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[0, 0], [10, 10]]},
             "properties": {}}
    collection = {"type": "FeatureCollection", "features": [point, multi]}
    geometry = {"type": "GeometryCollection", "geometries": [point["geometry"]]}
    return [json.dumps(doc).encode() for doc in (collection, point, geometry)]


def _read_geojson(data: bytes) -> object:
    from services.geo.places import read_geojson_points

    return read_geojson_points(data)


_GEOJSON_WORDS = ("type", "Feature", "FeatureCollection", "features", "geometry", "geometries", "Point",
                  "MultiPoint", "GeometryCollection", "coordinates", "properties", "name", "population")


def _random_json(data: bytes) -> object:
    """A JSON value built from the fuzzer's bytes, using GeoJSON's own keys and types, so mutations reach the
    reader's structure checks instead of stopping at the JSON parser."""
    import atheris

    provider = atheris.FuzzedDataProvider(data)

    def value(depth: int) -> object:
        kind = provider.ConsumeIntInRange(0, 7 if depth < 6 else 4)
        if kind == 0:
            return provider.ConsumeFloat()
        if kind == 1:
            return provider.ConsumeIntInRange(-(2**40), 2**40)
        if kind == 2:
            return provider.PickValueInList(list(_GEOJSON_WORDS))
        if kind == 3:
            return provider.ConsumeBool()
        if kind == 4:
            return None
        if kind == 5:
            return [value(depth + 1) for _ in range(provider.ConsumeIntInRange(0, 4))]
        return {provider.PickValueInList(list(_GEOJSON_WORDS)): value(depth + 1)
                for _ in range(provider.ConsumeIntInRange(0, 4))}

    return value(0)


def _read_structured_geojson(data: bytes) -> object:
    from services.geo.places import read_geojson_points

    return read_geojson_points(json.dumps(_random_json(data)).encode())


def _weights_seeds() -> list[bytes]:
    import torch

    buffer = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(2)}, buffer)
    return [buffer.getvalue()]


def _read_weights(data: bytes) -> object:
    """What ``load_model(weights_file=...)`` does with the bytes, into one network built once: building a
    ResNet-18 per input (with its guided copy and channel probe) held the fuzzer to about 2 inputs a second."""
    from services.cam.models import load_weights_file, model_spec

    return load_weights_file(_weights_network(), model_spec("resnet18"), data)


@functools.cache
def _weights_network():
    from services.cam.models import build_network, model_spec

    return build_network(model_spec("resnet18"))


def _cam_errors() -> tuple[type[BaseException], ...]:
    from services.cam import CamError

    return (CamError,)


def target(name: str) -> Target:
    """The named target, with its reader's typed errors resolved (imports happen under instrumentation)."""
    readers = {
        "images": (_load_image, _image_errors, _image_seeds),
        "map-csv": (_read_map_table, _map_errors, _csv_seeds),
        "knn-csv": (_read_knn_table, _knn_errors, _csv_seeds),
        "geojson": (_read_geojson, _map_errors, _geojson_seeds),
        "geojson-structure": (_read_structured_geojson, _map_errors, lambda: [bytes(range(256))]),
        "weights": (_read_weights, _cam_errors, _weights_seeds),
    }
    run, errors, seeds = readers[name]
    return Target(run, errors(), seeds)


NAMES = ("images", "map-csv", "knn-csv", "geojson", "geojson-structure", "weights")
