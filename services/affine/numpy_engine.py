"""The from-scratch sampler: the seed's bilinear algorithm done right, vectorised with numpy only.

Conventions (identical to ``torch.nn.functional.grid_sample(align_corners=True)``):
pixel centres sit at integer coordinates; ``zeros`` treats every pixel outside the image as 0, ``border``
clamps the coordinate to the image, ``reflection`` mirrors it about the first and last pixel centres
(…, 2, 1 | 0, 1, 2, …, W-1 | W-2, …), repeating. Nearest rounds half to even, like torch.

Why it is fast without C: (1) work goes in blocks of rows so every temporary stays in cache; (2) the image is
copied once into a table of horizontal *pairs* (I[x], I[x+1]) stored as complex64, so one gather fetches both
left and right neighbours, and a border of zeros (one pixel before, two after; only the border is zeroed, the rest
is written once) makes every neighbour index valid without masks; (3) the weights ((1-fx) - i fx) (1-fy) and
((1-fx) - i fx) fy are complex too, so the whole bilinear blend is ``Re(top * w_top) + Re(bottom * w_bottom)``: two
complex products per channel, whose real parts are added straight into the interleaved output; (4) gathers use
``np.take(..., mode="clip", out=...)`` on contiguous memory with flat indices, which numpy runs as a tight loop (the
indices are summed as floats, exact below 2**24 table entries and cheaper than int64 arithmetic);
(5) numpy releases the GIL inside these loops, so the calling thread and a small pool of helpers claim blocks of
rows from a shared queue (as OpenCV and torch use every core too); (6) the pair table's buffer is kept between
calls, so a slider move does not page-fault 25 MB afresh. Coordinates are float32, as in torch and OpenCV.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

#: Output rows per block: 64 rows of a 1024-wide image keep each temporary at 256 KiB.
ROWS_PER_BLOCK = 64
#: Rows of the pair table copied per task.
TABLE_ROWS = 256
#: Threads for blocks of rows (numpy's loops release the GIL).
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Keys' cubic convolution parameter used by torch and OpenCV.
CUBIC_A = -0.75

#: Zero rows/columns added to each side: one before (index -1) and two after, so that a coordinate clipped to
#: the far edge of the zero border still has a right/bottom neighbour.
PAD = 3

_F32 = np.float32


def warp_numpy(image: np.ndarray, pixel_map: np.ndarray, interpolation: str, padding: str) -> np.ndarray:
    """Sample ``image`` (H, W, C float32) at ``pixel_map`` @ (x, y, 1) for every output pixel (x, y).

    ``pixel_map`` is the 2x3 output -> input map in pixel coordinates (origin at the top-left pixel centre).
    """
    height, width, channels = image.shape
    out = np.empty((height, width, channels), dtype=np.float32)
    if interpolation != "bilinear":
        table = _padded_planes(image)
        sample = _nearest_block if interpolation == "nearest" else _bicubic_block
        _sample_rows(table, sample, pixel_map, padding, out)
        return out
    with _SCRATCH.borrow((channels, height + PAD, width + PAD, 2)) as pairs:
        _sample_rows(_pair_table(image, pairs), _bilinear_block, pixel_map, padding, out)
    return out


def _sample_rows(table, sample, pixel_map, padding, out) -> None:
    """Fill ``out`` block by block of rows with ``sample`` over ``table``."""
    height, width = out.shape[:2]

    def run_block(top: int) -> None:
        bottom = min(height, top + ROWS_PER_BLOCK)
        x, y = _block_coordinates(pixel_map, top, bottom, width)
        sample(table, x, y, height, width, padding, out[top:bottom])

    _in_parallel(run_block, range(0, height, ROWS_PER_BLOCK))


class _ScratchBuffer:
    """One float32 buffer kept between calls, lent to one call at a time.

    The pair table is twice the image (25 MB at 1024² RGB); a fresh one costs page faults and kernel zeroing on
    every slider move. A second concurrent call (another session) simply gets a fresh array.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._free: np.ndarray | None = None

    @contextmanager
    def borrow(self, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
        with self._lock:
            buffer, self._free = self._free, None
        if buffer is None or buffer.shape != shape:
            buffer = np.empty(shape, dtype=np.float32)
        try:
            yield buffer
        finally:
            if buffer.nbytes <= self._max_bytes:
                with self._lock:
                    self._free = buffer


#: Keeps the pair table of images up to 2048² RGB (100 MB) between calls.
_SCRATCH = _ScratchBuffer(max_bytes=2**27)


def _in_parallel(task, items) -> None:
    """Run ``task(item)`` for every item, on the calling thread and the pool's helpers together.

    Items are claimed one at a time from a shared queue, so the caller never sits idle, and a helper that starts
    late (its CPU was idle, or the pool is busy with another session's call) simply claims fewer items.
    """
    pending = list(items)
    if WORKERS == 1 or len(pending) == 1:
        for item in pending:
            task(item)
        return
    queue = iter(pending)
    lock = threading.Lock()
    done = object()

    def drain() -> None:
        while True:
            with lock:
                item = next(queue, done)
            if item is done:
                return
            task(item)

    helpers = [_pool().submit(drain) for _ in range(min(WORKERS, len(pending)) - 1)]
    try:
        drain()
    finally:
        for helper in helpers:
            if not helper.cancel():  # a helper still queued (the pool busy with another call) is not waited for
                helper.result()  # waits for a running helper; re-raises its exception here


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS - 1, thread_name_prefix="affine-warp")


def _block_coordinates(pixel_map: np.ndarray, top: int, bottom: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Input coordinates (float32, shape rows x width) sampled by output rows ``top:bottom``."""
    (a, b, c), (d, e, f) = np.asarray(pixel_map, dtype=np.float64)
    columns = np.arange(width, dtype=_F32)
    rows = np.arange(top, bottom, dtype=_F32)[:, None]
    x = _F32(a) * columns + (_F32(b) * rows + _F32(c))
    y = _F32(d) * columns + (_F32(e) * rows + _F32(f))
    return x, y


def _reflect(coord: np.ndarray, size: int) -> np.ndarray:
    """Mirror coordinates into [0, size-1] about the first and last pixel centres (period 2(size-1)), in place."""
    period = _F32(2 * (size - 1))
    np.abs(coord, out=coord)
    np.fmod(coord, period, out=coord)
    coord -= _F32(size - 1)
    np.abs(coord, out=coord)
    np.subtract(_F32(size - 1), coord, out=coord)
    return coord


def _apply_padding(coord: np.ndarray, size: int, padding: str) -> np.ndarray:
    """Apply the padding rule to continuous coordinates, in place.

    Afterwards -1 <= coord <= size, so floor(coord) + 1 and floor(coord) + 2 are valid indices into the table
    padded with one pixel before and two after. For zeros, anything a pixel or more outside lands exactly on the
    zero padding.
    """
    if padding == "reflection":
        _reflect(coord, size)
    if padding == "zeros":
        np.clip(coord, _F32(-1.0), _F32(size), out=coord)
    else:
        np.clip(coord, _F32(0.0), _F32(size - 1), out=coord)
    return coord


def _pair_table(image: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(C, (H+3)(W+3)) complex64 table whose entry j holds (I[j], I[j+1]) of the zero-padded channel plane.

    It is written into ``pairs``, a (C, H+3, W+3, 2) float32 buffer whose old contents are all overwritten.
    """
    height, width, channels = image.shape
    pairs[:, 0] = 0  # zero only the border; copy_rows overwrites the rest
    pairs[:, height + 1 :] = 0
    pairs[:, 1 : height + 1, 0, 0] = 0
    pairs[:, 1 : height + 1, width, 1] = 0
    pairs[:, 1 : height + 1, width + 1 :] = 0
    planes = image.transpose(2, 0, 1)

    def copy_rows(top: int) -> None:
        bottom = min(height, top + TABLE_ROWS)
        pairs[:, top + 1 : bottom + 1, 1 : width + 1, 0] = planes[:, top:bottom]
        pairs[:, top + 1 : bottom + 1, 0:width, 1] = planes[:, top:bottom]

    _in_parallel(copy_rows, range(0, height, TABLE_ROWS))
    return pairs.view(np.complex64).reshape(channels, -1)


def _padded_planes(image: np.ndarray) -> np.ndarray:
    """(C, (H+3)(W+3)) float32 channel planes with a border of zeros: one pixel before, two after."""
    height, width, channels = image.shape
    planes = np.zeros((channels, height + PAD, width + PAD), dtype=np.float32)
    planes[:, 1 : height + 1, 1 : width + 1] = image.transpose(2, 0, 1)
    return planes.reshape(channels, -1)


def _bilinear_block(pairs, x, y, height, width, padding, out) -> None:
    padded_width = width + PAD
    _apply_padding(x, width, padding)
    _apply_padding(y, height, padding)
    x0 = np.floor(x)
    y0 = np.floor(y)
    x -= x0  # fractional parts fx, fy in [0, 1)
    y -= y0
    # flat index (y0 + 1) * padded_width + (x0 + 1), added up as floats (cheaper than int64) while they are exact;
    # float32 to int32 is one vector instruction, to int64 is not
    exact = _F32 if pairs.shape[1] <= 2**24 else np.float64
    index = np.multiply(y0, padded_width, dtype=exact)
    index += x0
    index += exact(padded_width + 1)
    index = index.astype(np.int32 if pairs.shape[1] < 2**31 else np.intp).astype(np.intp).ravel()
    fx, fy = x.ravel(), y.ravel()
    w_top = np.empty(fx.size, dtype=np.complex64)
    np.subtract(_F32(1.0), fx, out=w_top.real)
    np.negative(fx, out=w_top.imag)
    w_bottom = w_top * fy.astype(np.complex64)  # an explicit cast beats the ufunc's buffered one
    w_top -= w_bottom
    top = np.empty_like(w_top)
    bottom = np.empty_like(w_top)
    rows = out.shape[0]
    for channel in range(pairs.shape[0]):
        table = pairs[channel]
        table.take(index, mode="clip", out=top)
        table[padded_width:].take(index, mode="clip", out=bottom)
        top *= w_top
        bottom *= w_bottom
        np.add(top.real.reshape(rows, width), bottom.real.reshape(rows, width), out=out[:, :, channel])


def _nearest_block(planes, x, y, height, width, padding, out) -> None:
    if padding == "reflection":
        _reflect(x, width)
        _reflect(y, height)
    np.rint(x, out=x)  # half to even, as torch
    np.rint(y, out=y)
    low = -1.0 if padding == "zeros" else 0.0
    np.clip(x, _F32(low), _F32(width if padding == "zeros" else width - 1), out=x)
    np.clip(y, _F32(low), _F32(height if padding == "zeros" else height - 1), out=y)
    index = (y.astype(np.intp) + 1) * (width + PAD) + (x.astype(np.intp) + 1)
    index = index.ravel()
    values = np.empty(index.size, dtype=np.float32)
    rows = out.shape[0]
    for channel in range(planes.shape[0]):
        planes[channel].take(index, mode="clip", out=values)
        out[:, :, channel] = values.reshape(rows, width)


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """Keys' cubic convolution weights for the neighbours at offsets -1, 0, 1, 2 of fraction ``t``."""
    a = _F32(CUBIC_A)

    def near(s):  # |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _cubic_indices(base: np.ndarray, size: int, padding: str) -> list[np.ndarray]:
    """Padded-table indices of the four neighbours base-1 .. base+2 under the padding rule (zeros -> index 0)."""
    indices = []
    for offset in (-1, 0, 1, 2):
        idx = base + offset
        if padding == "border":
            idx = np.clip(idx, 0, size - 1)
        elif padding == "reflection":
            period = 2 * (size - 1)
            idx = np.mod(idx, period)
            idx = np.where(idx > size - 1, period - idx, idx)
        else:
            idx = np.where((idx >= 0) & (idx <= size - 1), idx, -1)
        indices.append(idx + 1)
    return indices


def _bicubic_block(planes, x, y, height, width, padding, out) -> None:
    coords = []
    for coord, size in ((x, width), (y, height)):
        if padding == "reflection":
            np.mod(coord, _F32(2 * (size - 1)), out=coord)  # the index mirroring repeats with this period
        else:
            np.clip(coord, _F32(-3.0), _F32(size + 2), out=coord)  # beyond this the result no longer changes
        base = np.floor(coord)
        coords.append((_cubic_weights(coord - base), _cubic_indices(base.astype(np.intp), size, padding)))
    (wx, ix), (wy, iy) = coords
    padded_width = width + PAD
    rows = out.shape[0]
    values = np.empty(x.shape, dtype=np.float32)
    for channel in range(planes.shape[0]):
        table = planes[channel]
        total = np.zeros(x.shape, dtype=np.float32)
        for weight_y, row in zip(wy, iy):
            row_start = row * padded_width
            line = np.zeros(x.shape, dtype=np.float32)
            for weight_x, column in zip(wx, ix):
                table.take(row_start + column, mode="clip", out=values)
                line += weight_x * values
            total += weight_y * line
        out[:, :, channel] = total.reshape(rows, width)
