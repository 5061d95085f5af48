"""Numba kernels that decode iniVation AEDAT 2.0 and AEDAT 3.1 polarity records.

Output and state conventions as in :mod:`evstream.io.prophesee_kernels`: ``out``
is the flat int64 view of an event array, state is an int64 array
``[previous raw t, loops, last t, dropped events]`` (32-bit µs counters wrap
after 2^32 µs; timestamps never decrease).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evstream.io.prophesee_kernels import _emit, _pack, _unwrap32

AEDAT2_DVS128 = 0
"""jAER DVS128 address layout: x bits 7-1 mirrored, y bits 14-8, bit 0 = 0 is ON, bit 15 special."""
AEDAT2_DAVIS = 1
"""jAER DAVIS layout: bit 31 APS/IMU, bit 10 external, x bits 21-12, y bits 30-22, p bit 11."""
TIME32_STATE = 4


@njit(cache=True, nogil=True)
def _bswap32(v: int) -> int:
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | ((v >> 24) & 0xFF)


@njit(cache=True, nogil=True)
def decode_aedat2(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                  layout: int, width: int, height: int) -> tuple[int, int]:
    """Decode big-endian AEDAT 2.0 records (address, timestamp) from ``words`` (uint32
    read little-endian, shape (2n,)) into ``out``, with y flipped to a top-left origin.

    ``start`` and the returned next index count records. Returns ``(n_events, next_record)``.
    """
    cap = out.shape[0] // 2
    n = 0
    i = start
    nrec = words.shape[0] // 2
    prev, loops, last_t, dropped = state[0], state[1], state[2], state[3]
    while i < nrec and n < cap:
        a = _bswap32(np.int64(words[np.uint64(2 * i)]))
        raw_t = _bswap32(np.int64(words[np.uint64(2 * i + 1)]))
        i += 1
        if layout == AEDAT2_DVS128:
            if a & 0x8000:
                continue
            x = 127 - ((a >> 1) & 0x7F)
            yb = (a >> 8) & 0x7F
            p = 1 - (a & 1)
        else:
            if a & 0x80000400:
                continue
            x = (a >> 12) & 0x3FF
            yb = (a >> 22) & 0x1FF
            p = (a >> 11) & 1
        last_t, loops = _unwrap32(raw_t, prev, loops, last_t)
        prev = raw_t
        if x < width and yb < height:
            _emit(out, n, last_t, _pack(x, height - 1 - yb, p))
            n += 1
        else:
            dropped += 1
    state[0], state[1], state[2], state[3] = prev, loops, last_t, dropped
    return n, i


@njit(cache=True, nogil=True)
def decode_aedat3_polarity(words: np.ndarray, out: np.ndarray, state: np.ndarray,
                           overflow: int, width: int, height: int) -> int:
    """Decode one AEDAT 3.1 polarity packet payload (uint32 LE pairs data, ts; shape (2n,)).

    Invalid events (bit 0 clear) are skipped; t = ``overflow << 31 | ts``. ``out``
    must hold n events. Returns the number of events written.
    """
    n = 0
    base = overflow << 31
    for i in range(words.shape[0] // 2):
        d = np.int64(words[np.uint64(2 * i)])
        if not d & 1:
            continue
        x = d >> 17
        y = (d >> 2) & 0x7FFF
        t = base + (np.int64(words[np.uint64(2 * i + 1)]) & 0x7FFFFFFF)
        if t < state[2]:
            t = state[2]
        if x < width and y < height:
            state[2] = t
            _emit(out, n, t, _pack(x, y, (d >> 1) & 1))
            n += 1
        else:
            state[3] += 1
    return n
