"""Hostile weights files for the Grad-CAM page (issue 13 items 2, 6, 14), each run in a subprocess by
``tests.hostile.measure``: a clear ``WeightsFileError`` message, bounded peak memory and bounded time.

The files are generated here (nothing binary is committed). A zip bomb is a torch-format archive whose tensor
record is a deflated run of zeros: a few MB on disk, gigabytes once torch inflates it. The deflate stream is
built from one full-flushed block repeated, so making a 2 GiB bomb takes well under a second.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zlib

import pytest

from services import budget
from tests.hostile import measure

MIB = 2**20
GIB = 2**30


class _Storage:
    """Pickled as torch's persistent id of a float storage record ``archive/data/0`` of ``numel`` floats."""

    def __init__(self, numel: int):
        self.numel = numel


class _Tensor:
    def __init__(self, numel: int):
        self.numel = numel

    def __reduce__(self):
        import torch

        return (torch._utils._rebuild_tensor_v2,
                (_Storage(self.numel), 0, (self.numel,), (1,), False, collections.OrderedDict()))


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        import torch

        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
        return None


def _state_pickle(numel: int) -> bytes:
    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump({"fc.weight": _Tensor(numel)})
    return buffer.getvalue()


def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """(raw deflate stream, crc32) of ``size`` zero bytes (``size`` a multiple of 1 MiB)."""
    chunk = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = first + repeat * (size // MIB - 1) + compressor.flush()
    crc, block = 0, bytes(64 * MIB)
    for start in range(0, size, len(block)):
        crc = zlib.crc32(block[: min(len(block), size - start)], crc)
    return stream, crc


def _zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive from (name, payload, method, crc32, declared uncompressed size) entries, written by hand
    because the payload may be pre-compressed and the declared size may lie."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, payload, method, crc, size in entries:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), size,
                              len(encoded), 0) + encoded + payload)
        directory.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc,
                                    len(payload), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    out.write(directory.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory.getvalue()),
                          start, 0))
    return out.getvalue()


def _stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, data, 0, zlib.crc32(data), len(data))


def zip_bomb(inflated: int, *, declared: int | None = None) -> bytes:
    """A torch-format archive whose single tensor inflates to ``inflated`` bytes; ``declared`` makes the
    directory claim another uncompressed size."""
    stream, crc = _deflated_zeros(inflated)
    return _zip([
        _stored("archive/data.pkl", _state_pickle(inflated // 4)),
        _stored("archive/byteorder", b"little"),
        ("archive/data/0", stream, 8, crc, inflated if declared is None else declared),
        _stored("archive/version", b"3\n"),
    ])


def other_compression(method: int) -> bytes:
    """A small archive whose tensor record uses bzip2 (12) or lzma (14): zipfile can, torch cannot read it."""
    import bz2
    import lzma

    raw = bytes(4 * 1000 * 512)
    payload = bz2.compress(raw) if method == 12 else lzma.compress(raw, format=lzma.FORMAT_ALONE)
    return _zip([
        _stored("archive/data.pkl", _state_pickle(len(raw) // 4)),
        _stored("archive/byteorder", b"little"),
        ("archive/data/0", payload, method, zlib.crc32(raw), len(raw)),
        _stored("archive/version", b"3\n"),
    ])


def saved(kind: str) -> bytes:
    """torch.save of a ResNet-18 state dict spoiled in one way."""
    import torch
    from torchvision.models import resnet18

    state = resnet18(weights=None).state_dict()
    if kind == "int keys":
        state = {index: value for index, value in enumerate(state.values())}
    elif kind == "tuple keys":
        state = {tuple(key.split(".")): value for key, value in state.items()}
    elif kind == "meta tensor":
        state["fc.weight"] = torch.empty(1000, 512, device="meta")
    elif kind == "sparse tensor":
        state["fc.weight"] = torch.zeros(1000, 512).to_sparse()
    elif kind == "pickled object":
        state["fc.weight"] = _Storage(3)  # a class of this module: weights_only refuses it
    elif kind == "nan weights":
        state["fc.weight"] = torch.full((1000, 512), float("nan"))
    elif kind == "inf running variance":
        state["layer1.0.bn1.running_var"][3] = float("inf")
    elif kind == "tuple keys in a checkpoint":
        state = {"state_dict": {tuple(key.split(".")): value for key, value in state.items()}}
    elif kind == "int keys, legacy format":
        state = {index: value for index, value in enumerate(state.values())}
    elif kind == "a list of tensors":
        state = list(state.values())
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=kind != "int keys, legacy format")
    return buffer.getvalue()


SETUP = """
from services.cam import WeightsFileError, load_model
from tests.test_hostile_cam import {builder}
data = {call}
"""
BODY = """
try:
    load_model("resnet18", weights_file=data)
except WeightsFileError as exc:
    print("MESSAGE" + str(exc))
    raise
"""


def _run(builder: str, call: str):
    return measure(SETUP.format(builder=builder, call=call), BODY)


@pytest.mark.parametrize("call, message", [
    ("zip_bomb(2 * GIB)", "would inflate to 2,048 MiB; the limit is 256 MiB"),
    ("zip_bomb(3 * GIB + 512 * MIB)", "would inflate to 3,584 MiB"),
    ("zip_bomb(1 * GIB, declared=200 * MIB)", "damaged zip archive"),  # a directory that lies, inside the limit
    ("zip_bomb(2 * GIB, declared=4 * MIB)", "damaged zip archive"),
])
def test_a_zip_bomb_is_refused_before_it_inflates(call, message):
    cost = _run("zip_bomb, GIB, MIB", call)
    assert cost.outcome.startswith("services.cam.errors.WeightsFileError:"), cost.outcome
    assert message in cost.outcome, cost.outcome
    assert cost.extra_bytes < budget.CAM_WEIGHTS_MAX_INFLATED_BYTES + 64 * MIB, cost
    assert cost.seconds < budget.REQUEST_SECONDS_TO_MESSAGE, cost


def zip64_locator(disks: int) -> bytes:
    """An empty archive whose zip64 locator claims ``disks`` disks (``zipfile.is_zipfile`` itself raises on it:
    found by ``make fuzz`` once the weights target ran fast)."""
    return b"PK\x06\x07" + struct.pack("<LQL", 0, 0, disks) + b"PK\x05\x06" + bytes(18)


@pytest.mark.parametrize("disks", [2, 2**32 - 1])
def test_an_archive_spanning_disks_is_refused(disks):
    from services.cam import WeightsFileError, load_model

    with pytest.raises(WeightsFileError, match="damaged zip archive"):
        load_model("resnet18", weights_file=zip64_locator(disks))


@pytest.mark.parametrize("method", [12, 14])
def test_compressions_torch_cannot_read_are_named(method):
    cost = _run("other_compression", f"other_compression({method})")
    assert "compression torch cannot read" in cost.outcome, cost.outcome
    assert cost.extra_bytes < budget.REQUEST_PEAK_BYTES and cost.seconds < budget.REQUEST_SECONDS_TO_MESSAGE


@pytest.mark.parametrize("kind, message", [
    ("int keys", "keys are parameter names"),
    ("tuple keys", "keys are parameter names"),
    ("meta tensor", "without usable values (fc.weight (a meta tensor"),
    ("sparse tensor", "without usable values (fc.weight (sparse_coo layout"),
    ("nan weights", "without usable values (fc.weight (NaN or infinite values)"),  # item 13: "p = nan"
    ("inf running variance", "without usable values (layer1.0.bn1.running_var (NaN or infinite values)"),
    ("tuple keys in a checkpoint", "keys are parameter names"),
    ("int keys, legacy format", "keys are parameter names"),  # torch's pre-zip format: no archive to inspect
    ("a list of tensors", "must hold a state dict"),
])
def test_odd_keys_and_valueless_tensors_get_a_message(kind, message):
    cost = _run("saved", f"saved({kind!r})")
    assert cost.outcome.startswith("services.cam.errors.WeightsFileError:"), cost.outcome
    assert message in cost.outcome, cost.outcome
    assert cost.extra_bytes < budget.REQUEST_PEAK_BYTES and cost.seconds < budget.REQUEST_SECONDS_TO_MESSAGE


def test_torchs_advice_to_drop_weights_only_is_never_shown():
    cost = _run("saved", "saved('pickled object')")
    assert cost.outcome.startswith("services.cam.errors.WeightsFileError:"), cost.outcome
    assert "weights_only" not in cost.outcome and "Python objects other than tensors" in cost.outcome
