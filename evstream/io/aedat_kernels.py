"""Numba kernel that decodes iniVation AEDAT 3.1 polarity packets (AEDAT 2.0 records are decoded by
:mod:`evstream.io.time32_kernels`).

Output and state conventions as in :mod:`evstream.io.prophesee_kernels`: ``out``
is the flat int64 view of an event array, the state is
:data:`evstream.io.time32_kernels.TIME32_STATE` long (its last t and dropped events are used).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evstream.io.packed_events import emit, pack


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
            emit(out, n, t, pack(x, y, (d >> 1) & 1))
            n += 1
        else:
            state[3] += 1
    return n
