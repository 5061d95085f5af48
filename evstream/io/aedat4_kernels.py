"""Numba kernel that lists the packets of an AEDAT 4 file chunk (:mod:`evstream.io.aedat4`).

A packet is ``(int32 stream id, int32 size, payload)``, little-endian; the
kernel walks the headers of a chunk in one call, so the reading thread spends
no Python work per packet.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SPANS_MORE = 0
"""``packet_spans`` status: the chunk ended (fewer than 8 bytes left, or a packet it holds only in part)."""
SPANS_BAD_SIZE = 1
"""``packet_spans`` status: a packet header gives a negative or implausible size."""
SPANS_PAST_END = 2
"""``packet_spans`` status: a packet runs past the end of the file."""


@njit(cache=True, nogil=True)
def _int32(buf: np.ndarray, at: int) -> int:
    u = (np.int64(buf[at]) | (np.int64(buf[at + 1]) << 8) | (np.int64(buf[at + 2]) << 16)
         | (np.int64(buf[at + 3]) << 24))
    return u - (u >> 31 << 32)


@njit(cache=True, nogil=True)
def packet_spans(buf: np.ndarray, chunk_pos: int, file_end: int, want: int, max_size: int,
                 starts: np.ndarray, sizes: np.ndarray) -> tuple[int, int, int, int]:
    """The whole packets of stream ``want`` in a chunk of the file.

    Args:
        buf: uint8 chunk, starting at a packet header at file offset ``chunk_pos``.
        file_end: file offset where packets must end (bytes).
        max_size: largest plausible payload (bytes).
        starts, sizes: int64 ``(len(buf) // 8 + 1,)``: receive each listed
            packet's payload offset in ``buf`` and its size (bytes).
    Returns ``(listed packets, offset in buf of the first header not consumed,
    status, size of the last header read)``; ``status`` is :data:`SPANS_MORE`,
    :data:`SPANS_BAD_SIZE` or :data:`SPANS_PAST_END` (the offset then points at the
    header at fault).
    """
    n = 0
    at = 0
    size = 0
    status = SPANS_MORE
    while buf.shape[0] - at >= 8:
        stream = _int32(buf, at)
        size = _int32(buf, at + 4)
        if size < 0 or size > max_size:
            status = SPANS_BAD_SIZE
            break
        if chunk_pos + at + 8 + size > file_end:
            status = SPANS_PAST_END
            break
        if buf.shape[0] - at < 8 + size:
            break
        if stream == want:
            starts[n] = at + 8
            sizes[n] = size
            n += 1
        at += 8 + size
    return n, at, status, size
