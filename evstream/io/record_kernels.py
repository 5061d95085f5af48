"""Numba kernels for headerless 5-byte N-MNIST records and for checking event arrays.

Output convention as in :mod:`evstream.io.prophesee_kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evstream.io.packed_events import emit, pack

NMNIST_STATE = 3
"""N-MNIST state: [overflow offset µs, last t, dropped events]."""
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_US = 1 << 13


@njit(cache=True, nogil=True)
def decode_nmnist(data: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                  width: int, height: int) -> tuple[int, int]:
    """Decode 5-byte big-endian records (x 8b, y 8b, p 1b, t 23b µs) from ``data`` (uint8).

    A record with y == 240 is a time-overflow marker: it is dropped and later
    times grow by 2^13 µs (tonic's convention). ``start`` and the returned index
    count records. Returns ``(n_events, next_record)``.
    """
    cap = out.shape[0] // 2
    n = 0
    i = start
    nrec = data.shape[0] // 5
    offset = state[0]
    last_t = state[1]
    while i < nrec and n < cap:
        o = 5 * i
        i += 1
        x = np.int64(data[np.uint64(o)])
        y = np.int64(data[np.uint64(o + 1)])
        b2 = np.int64(data[np.uint64(o + 2)])
        if y == NMNIST_OVERFLOW_Y:
            offset += NMNIST_OVERFLOW_US
            continue
        low = (np.int64(data[np.uint64(o + 3)]) << 8) | np.int64(data[np.uint64(o + 4)])
        t = offset + (((b2 & 0x7F) << 16) | low)
        if t < last_t:
            t = last_t
        if x < width and y < height:
            last_t = t
            emit(out, n, t, pack(x, y, b2 >> 7))
            n += 1
        else:
            state[2] += 1
    state[0] = offset
    state[1] = last_t
    return n, i


@njit(cache=True, nogil=True)
def max_xy(events: np.ndarray) -> tuple[int, int]:
    """Largest x and y (pixels) of events (int64 view, shape (n, 2)); ``(-1, -1)`` when empty."""
    mx = my = -1
    for i in range(events.shape[0]):
        xy = events[i, 1]
        mx = max(mx, xy & 0xFFFF)
        my = max(my, (xy >> 16) & 0xFFFF)
    return mx, my


@njit(cache=True, nogil=True)
def first_invalid(events: np.ndarray, last_t: int, width: int, height: int) -> int:
    """Index of the first event (int64 view, shape (n, 2)) that is out of ``width x height``,
    has a polarity other than 0/1 or a time before its predecessor (or ``last_t``); -1 if none."""
    prev = last_t
    for i in range(events.shape[0]):
        t = events[i, 0]
        xy = events[i, 1]
        if t < prev or (xy & 0xFFFF) >= width or ((xy >> 16) & 0xFFFF) >= height or ((xy >> 32) & 0xFF) > 1:
            return i
        prev = t
    return -1


@njit(cache=True, nogil=True)
def sanitize(events: np.ndarray, out: np.ndarray, state: np.ndarray, width: int, height: int) -> int:
    """Copy valid events into ``out``: drop out-of-range pixels, polarity as 0/1, hold
    times that step back at the latest time. ``state``: [last t, dropped]. Returns the count."""
    n = 0
    last_t = state[0]
    for i in range(events.shape[0]):
        t = events[i, 0]
        xy = events[i, 1]
        x = xy & 0xFFFF
        y = (xy >> 16) & 0xFFFF
        if x >= width or y >= height:
            state[1] += 1
            continue
        if t < last_t:
            t = last_t
        last_t = t
        out[n, 0] = t
        out[n, 1] = pack(x, y, 1 if (xy >> 32) & 0xFF else 0)
        n += 1
    state[0] = last_t
    return n
