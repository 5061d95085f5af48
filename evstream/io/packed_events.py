"""How the Numba decoding kernels store events: the flat int64 view of an :data:`~evstream.events.EVENT_DTYPE` array.

``out[2i]`` is event i's ``t`` (µs), ``out[2i + 1]`` packs ``x | y << 16 | p << 32``
(x, y in pixels; the pad bytes stay zero), so each event is two 8-byte stores.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["emit", "pack"]


@njit(cache=True, nogil=True, inline="always")
def pack(x: int, y: int, p: int) -> int:
    """The second int64 of an event: ``x | y << 16 | p << 32``."""
    return x | (y << 16) | (p << 32)


@njit(cache=True, nogil=True, inline="always")
def emit(out: np.ndarray, n: int, t: int, packed: int) -> None:
    """Store event ``n``; unsigned indices spare Numba's negative-index wraparound code."""
    k = np.uint64(2 * n)
    out[k] = t
    out[k + np.uint64(1)] = packed
