"""Numba kernel that decodes 8-byte records carrying a 32-bit µs counter: Prophesee DAT and jAER AEDAT 2.0.

Output and state conventions as in :mod:`evstream.io.prophesee_kernels`; the
state is ``[previous raw t, loops, last t, dropped events]`` (:data:`TIME32_STATE`):
the counter wraps after 2^32 µs (a drop of more than 2^31 µs is a wrap) and
timestamps never decrease.

Records are read as little-endian uint64 words. Every :data:`BLOCK` records the
kernel first checks, in one vectorisable pass, whether the block is "plain" (no
skipped record, every pixel inside the sensor, raw times non-decreasing from the
previous record); a plain block is then converted by a second vectorisable loop
with one 16-byte store per event. Other blocks take the scalar path, which
handles wraps, held times, drops and skipped records; both give the same events.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evstream.io.packed_events import emit, pack

TIME32_STATE = 4
"""State length: [previous raw t, loops, last t, dropped events]."""
DAT_V1 = 0
"""DAT version 1: ``t`` uint32 then x bits 8-0, y bits 16-9, p bit 17."""
DAT_V2 = 1
"""DAT version 2: ``t`` uint32 then x bits 13-0, y bits 27-14, p bit 28."""
AEDAT2_DVS128 = 2
"""jAER DVS128, big-endian (address, t): x bits 7-1 mirrored, y bits 14-8 (flipped), bit 0 = 0 is ON,
bit 15 special (skipped)."""
AEDAT2_DAVIS = 3
"""jAER DAVIS, big-endian (address, t): x bits 21-12, y bits 30-22 (flipped), p bit 11; bit 31 (APS/IMU)
or bit 10 (external) set: skipped."""
BLOCK = 512
"""Records checked and converted together on the vectorised path (8 KiB in, 8 KiB out: fits L1)."""


@njit(cache=True, nogil=True, inline="always")
def _record(w: int, layout: int, height: int) -> tuple[int, int, int, int, int, int]:
    """``(raw t µs, x, field y, y, p, skip)`` of one little-endian uint64 record ``w`` (as int64);
    the bounds check uses the field y, the event gets ``y`` (flipped for AEDAT 2.0)."""
    if layout == DAT_V1 or layout == DAT_V2:
        raw = w & 0xFFFFFFFF
        a = (w >> 32) & 0xFFFFFFFF
        if layout == DAT_V1:
            x, yf, p = a & 0x1FF, (a >> 9) & 0xFF, (a >> 17) & 1
        else:
            x, yf, p = a & 0x3FFF, (a >> 14) & 0x3FFF, (a >> 28) & 1
        return raw, x, yf, yf, p, 0
    # big-endian (address, t) pair: the byte-swapped word is address << 32 | t
    b = ((w & 0xFF) << 56) | ((w & 0xFF00) << 40) | ((w & 0xFF0000) << 24) | ((w & 0xFF000000) << 8) \
        | ((w >> 8) & 0xFF000000) | ((w >> 24) & 0xFF0000) | ((w >> 40) & 0xFF00) | ((w >> 56) & 0xFF)
    raw = b & 0xFFFFFFFF
    a = (b >> 32) & 0xFFFFFFFF
    if layout == AEDAT2_DVS128:
        x, yf, p, skip = 127 - ((a >> 1) & 0x7F), (a >> 8) & 0x7F, 1 - (a & 1), (a >> 15) & 1
    else:
        x, yf, p, skip = (a >> 12) & 0x3FF, (a >> 22) & 0x1FF, (a >> 11) & 1, np.int64((a & 0x80000400) != 0)
    return raw, x, yf, height - 1 - yf, p, skip


@njit(cache=True, nogil=True)
def _plain(recs: np.ndarray, prev: int, layout: int, width: int, height: int) -> bool:
    """True when no record of ``recs`` is skipped or outside the sensor and raw times never step back."""
    bad = 0
    for k in range(recs.shape[0]):
        raw, x, yf, _, _, skip = _record(np.int64(recs[k]), layout, height)
        bad |= skip | np.int64(raw < prev) | np.int64(x >= width) | np.int64(yf >= height)
        prev = raw
    return bad == 0


@njit(cache=True, nogil=True)
def _convert(recs: np.ndarray, out: np.ndarray, base: int, layout: int, height: int) -> None:
    """Write every record of ``recs`` to ``out`` (flat int64 view of as many events), time ``base + raw``."""
    for k in range(recs.shape[0]):
        raw, x, _, y, p, _ = _record(np.int64(recs[k]), layout, height)
        out[2 * k] = base + raw
        out[2 * k + 1] = pack(x, y, p)


@njit(cache=True, nogil=True)
def decode_time32(recs: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                  layout: int, width: int, height: int) -> tuple[int, int]:
    """Decode 8-byte records (uint64, shape (n,)) of ``layout`` from ``recs[start:]`` into ``out``.

    Returns ``(n_events, next_record)``; ``start`` and the next index count records.
    """
    cap = out.shape[0] // 2
    stop = min(recs.shape[0], start + cap)
    n = 0
    i = start
    prev, loops, last_t, dropped = state[0], state[1], state[2], state[3]
    while i < stop:
        hi = min(i + BLOCK, stop)
        block = recs[i:hi]
        first = _record(np.int64(block[0]), layout, height)[0]
        if (loops << 32) + first >= last_t and _plain(block, prev, layout, width, height):
            _convert(block, out[2 * n:2 * (n + hi - i)], loops << 32, layout, height)
            n += hi - i
            prev = _record(np.int64(block[hi - i - 1]), layout, height)[0]
            last_t = (loops << 32) + prev
            i = hi
            continue
        for k in range(hi - i):
            raw, x, yf, y, p, skip = _record(np.int64(block[k]), layout, height)
            if skip:
                continue
            if raw < prev and prev - raw > (1 << 31):
                loops += 1
            prev = raw
            last_t = max((loops << 32) + raw, last_t)
            if x < width and yf < height:
                emit(out, n, last_t, pack(x, y, p))
                n += 1
            else:
                dropped += 1
        i = hi
    state[0], state[1], state[2], state[3] = prev, loops, last_t, dropped
    return n, i
