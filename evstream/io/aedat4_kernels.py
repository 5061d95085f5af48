"""Numba kernels of the AEDAT 4 reader (:mod:`evstream.io.aedat4`): packet listing and LZ4 event packets.

A packet is ``(int32 stream id, int32 size, payload)``, little-endian;
:func:`packet_spans` walks the headers of a chunk in one call, so the reading
thread spends no Python work per packet. :func:`lz4_events` decodes a batch of
LZ4-compressed ``EVTS`` packets in one call without the GIL: it parses each LZ4
frame (``lz4_frame_format.md``: magic, FLG/BD descriptor, header checksum,
blocks), decompresses the blocks with liblz4 (the copy python-lz4 loads,
called through a function pointer), finds the events in the flatbuffer and
packs them, checked, into one array. Frames with checksums or a dictionary id,
and anything damaged, are left to the per-packet Python path, which reports
the damage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from numba import njit

SPANS_MORE = 0
"""``packet_spans`` status: the chunk ended (fewer than 8 bytes left, or a packet it holds only in part)."""
SPANS_BAD_SIZE = 1
"""``packet_spans`` status: a packet header gives a negative or implausible size."""
SPANS_PAST_END = 2
"""``packet_spans`` status: a packet runs past the end of the file."""


@njit(cache=True, nogil=True)
def _u32(buf: np.ndarray, at: int) -> int:
    """Little-endian uint32 at ``buf[at]``."""
    return (np.int64(buf[at]) | (np.int64(buf[at + 1]) << 8) | (np.int64(buf[at + 2]) << 16)
            | (np.int64(buf[at + 3]) << 24))


@njit(cache=True, nogil=True)
def _int32(buf: np.ndarray, at: int) -> int:
    """Little-endian int32 at ``buf[at]``."""
    u = _u32(buf, at)
    return u - (u >> 31 << 32)


@njit(cache=True, nogil=True)
def _u16(buf: np.ndarray, at: int) -> int:
    return np.int64(buf[at]) | (np.int64(buf[at + 1]) << 8)


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


LZ4_OK = 0
"""``lz4_events`` status: every packet decoded, each valid and each starting at or after the previous one's end."""
LZ4_INVALID = 1
"""``lz4_events`` status: every packet decoded, but some event is out of order or out of range (the
caller mends the block)."""
LZ4_FALLBACK = 2
"""``lz4_events`` status: a packet is not a plain LZ4 frame of events or is damaged; the caller
decodes the batch packet by packet (and reports the damage)."""

_LZ4_MAGIC = 0x184D2204
_LZ4_WINDOW = 1 << 16
_XXH_P1, _XXH_P2, _XXH_P3, _XXH_P4, _XXH_P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_U32_MASK = 0xFFFFFFFF


@functools.cache
def lz4_block_decoder() -> Callable[..., int] | None:
    """liblz4's ``LZ4_decompress_safe_usingDict`` (the library python-lz4 loads) as a ctypes function whose
    pointer arguments are addresses, for :func:`lz4_events`; ``None`` where the symbol is not found."""
    import ctypes

    import lz4.block

    try:
        fn = ctypes.CDLL(lz4.block._block.__file__).LZ4_decompress_safe_usingDict
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


@njit(cache=True, nogil=True)
def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _U32_MASK


@njit(cache=True, nogil=True)
def _xxh32_short(buf: np.ndarray, start: int, n: int) -> int:
    """XXH32 (seed 0) of ``buf[start:start + n]``, ``n < 16`` (an LZ4 frame descriptor)."""
    h = (_XXH_P5 + n) & _U32_MASK
    at = start
    while at + 4 <= start + n:
        h = (_rotl32((h + _u32(buf, at) * _XXH_P3) & _U32_MASK, 17) * _XXH_P4) & _U32_MASK
        at += 4
    while at < start + n:
        h = (_rotl32((h + np.int64(buf[at]) * _XXH_P5) & _U32_MASK, 11) * _XXH_P1) & _U32_MASK
        at += 1
    h ^= h >> 15
    h = (h * _XXH_P2) & _U32_MASK
    h ^= h >> 13
    h = (h * _XXH_P3) & _U32_MASK
    return h ^ (h >> 16)


@njit(cache=True, nogil=True)
def _frame_header(buf: np.ndarray, s: int, end: int) -> tuple[int, int, bool]:
    """``(offset of the first block, largest block (bytes), blocks linked)`` of the LZ4 frame at
    ``buf[s:end]``; offset -1 unless it is a plain frame: version 1, a valid header checksum, no
    dictionary id and no block or content checksums."""
    if end - s < 7 or _u32(buf, s) != _LZ4_MAGIC:
        return -1, 0, False
    flg = buf[s + 4]
    bd = buf[s + 5]
    size = 3 + (8 if flg & 8 else 0)  # FLG, BD, content size: the bytes the header checksum covers
    if (flg >> 6) != 1 or flg & 0x17 or bd & 0x8F or (bd >> 4) < 4 or end - s < 4 + size:
        return -1, 0, False
    if (_xxh32_short(buf, s + 4, size - 1) >> 8) & 0xFF != buf[s + 3 + size]:
        return -1, 0, False
    return s + 4 + size, 1 << (8 + 2 * (bd >> 4)), not flg & 0x20


@njit(cache=True, nogil=True)
def lz4_bound(chunk: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> int:
    """Bytes that decompressing the LZ4 frames ``chunk[starts[i]:][:sizes[i]]`` may need (blocks x their
    largest size), or -1 when a packet is not one whole plain frame (see :func:`lz4_events`)."""
    bound = 0
    for i in range(starts.shape[0]):
        end = starts[i] + sizes[i]
        s, block_max, _ = _frame_header(chunk, starts[i], end)
        if s < 0:
            return -1
        while True:
            if s + 4 > end:
                return -1
            bs = _u32(chunk, s) & 0x7FFFFFFF
            s += 4
            if bs == 0:
                break
            if bs > block_max or s + bs > end:
                return -1
            s += bs
            bound += block_max
        if s != end:
            return -1
    return bound


@njit(cache=True, nogil=True)
def _event_vector(out: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """``(offset in out, count)`` of the events of the size-prefixed ``EVTS`` flatbuffer ``out[start:stop]``
    (count 0 when the table has no events field); offset -1 where an offset leaves the buffer (the
    checks of :func:`evstream.io.aedat4.parse_event_packet`)."""
    n = stop - start
    if n < 12 or out[start + 8] != 69 or out[start + 9] != 86 or out[start + 10] != 84 or out[start + 11] != 83:
        return -1, 0  # no "EVTS" identifier
    table = 4 + _u32(out, start + 4)
    if table + 4 > n:
        return -1, 0
    vtable = table - _int32(out, start + table)
    if vtable < 0 or vtable + 2 > n:
        return -1, 0
    if _u16(out, start + vtable) < 6:
        return start, 0
    if vtable + 6 > n:
        return -1, 0
    off = _u16(out, start + vtable + 4)
    if off == 0:
        return start, 0
    field = table + off
    if field + 4 > n:
        return -1, 0
    vec = field + _u32(out, start + field)
    if vec + 4 > n:
        return -1, 0
    count = _u32(out, start + vec)
    if vec + 4 + 16 * count > n:
        return -1, 0
    return start + vec + 4, count


@njit(cache=True, nogil=True)
def lz4_events(decode: Callable[..., int], chunk: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
               out: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Decompress AEDAT 4 ``EVTS`` packets (LZ4 frames) and pack their events into ``out``, checking them.

    Args:
        decode: :func:`lz4_block_decoder`.
        chunk: uint8 file chunk; packet ``i``'s payload is ``chunk[starts[i]:][:sizes[i]]``.
        out: uint8, :func:`lz4_bound` bytes or more, a multiple of 16; receives the 16-byte events of
            every packet back to back (each packet is decompressed at the end of the events so far,
            then its events are moved down over its 32-odd-byte table prefix).
    Returns ``(status, events, first t, last t)`` (µs), status :data:`LZ4_OK`,
    :data:`LZ4_INVALID` (times out of order or an event outside ``width x height`` or
    with a polarity above 1) or :data:`LZ4_FALLBACK` (nothing usable).
    """
    out64 = out.view(np.int64)
    chunk_at = chunk.ctypes.data
    out_at = out.ctypes.data
    e = 0  # bytes of packed events
    prev = np.iinfo(np.int64).min
    first = prev
    bad = False
    for i in range(starts.shape[0]):
        end = starts[i] + sizes[i]
        s, block_max, linked = _frame_header(chunk, starts[i], end)
        if s < 0:
            return LZ4_FALLBACK, 0, 0, 0
        o = e
        while True:
            if s + 4 > end:
                return LZ4_FALLBACK, 0, 0, 0
            word = _u32(chunk, s)
            s += 4
            bs = word & 0x7FFFFFFF
            if bs == 0:
                break
            if bs > block_max or s + bs > end or o + block_max > out.shape[0]:
                return LZ4_FALLBACK, 0, 0, 0
            if word >> 31:  # stored uncompressed
                out[o:o + bs] = chunk[s:s + bs]
                got = bs
            else:
                window = min(o - e, _LZ4_WINDOW) if linked else 0
                got = decode(chunk_at + s, out_at + o, bs, block_max, out_at + o - window, window)
                if got < 0:
                    return LZ4_FALLBACK, 0, 0, 0
            o += got
            s += bs
        if s != end:
            return LZ4_FALLBACK, 0, 0, 0
        src, n = _event_vector(out, e, o)
        if src < 0 or src % 8:
            return LZ4_FALLBACK, 0, 0, 0
        a = src // 8
        b = e // 8
        for k in range(2 * n):  # move the events down, checking them
            if k % 2 == 0:
                t = out64[a + k]
                bad |= t < prev
                prev = t
                out64[b + k] = t
            else:
                xy = out64[a + k]
                bad |= (xy & 0xFFFF) >= width or ((xy >> 16) & 0xFFFF) >= height or ((xy >> 32) & 0xFF) > 1
                out64[b + k] = xy
        if n and e == 0:
            first = out64[0]
        e += 16 * n
    return (LZ4_INVALID if bad else LZ4_OK), e // 16, first, prev
