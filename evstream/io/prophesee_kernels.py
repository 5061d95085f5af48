"""Numba kernels that decode and encode Prophesee EVT 2.0, EVT 2.1, EVT 3.0 and DAT data.

Conventions shared by every decoder here (and in :mod:`evstream.io.aedat_kernels`):

* Output goes to ``out``, the flat int64 view (shape ``(2 * capacity,)``) of an
  :data:`evstream.events.EVENT_DTYPE` array: ``out[2i]`` is event i's ``t`` (µs),
  ``out[2i + 1]`` packs ``x | y << 16 | p << 32`` (the pad bytes stay zero).
* Decoder state lives in a small int64 array owned by the caller, so decoding a
  file chunk by chunk gives exactly the events of decoding it at once.
* A kernel stops when ``out`` could overflow and returns ``(n_events, next_word)``;
  the caller hands it a fresh buffer and calls again from ``next_word``.
* Events outside ``width x height`` pixels are dropped and counted in the state.
* Timestamps never decrease: a time that steps back is held at the latest time,
  as faery does (EVT 3 sensors emit a TIME_LOW that runs ahead, see
  ``shared/recordings/README.md``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EVT2_STATE = 4
"""EVT 2.0 / 2.1 state: [time-high in µs incl. loops, have time-high, last t, dropped events]."""
EVT3_STATE = 10
"""EVT 3.0 state: [y, have time-high, time-high, time-low, loops, vector base x, vector polarity,
row is CD, time register µs, dropped events]."""
DAT_STATE = 4
"""DAT / wrapping 32-bit time state: [previous raw t, loops, last t, dropped events]."""

EVT2_MAX_TIME_HIGH_US = ((1 << 28) - 1) << 6
EVT2_LOOP_US = 1 << 34
EVT3_LOOP_US = 1 << 24


@njit(cache=True, nogil=True)
def _pack(x: int, y: int, p: int) -> int:
    return x | (y << 16) | (p << 32)


@njit(cache=True, nogil=True, inline="always")
def _emit(out: np.ndarray, n: int, t: int, packed: int) -> None:
    """Store event ``n``; unsigned indices spare Numba's negative-index wraparound code."""
    k = np.uint64(2 * n)
    out[k] = t
    out[k + np.uint64(1)] = packed


@njit(cache=True, nogil=True)
def _evt2_time_high(th_us: int, have: int, new_us: int) -> int:
    """New time base (µs) after a TIME_HIGH word; a large backwards step is a 2^34 µs loop (OpenEB)."""
    cur = th_us & (EVT2_LOOP_US - 1)
    base = th_us - cur
    if have and cur - new_us >= EVT2_MAX_TIME_HIGH_US - 10000:
        base += EVT2_LOOP_US
    return base + new_us


@njit(cache=True, nogil=True)
def decode_evt2(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                width: int, height: int) -> tuple[int, int]:
    """Decode EVT 2.0 32-bit words (uint32, shape (n,)) from ``words[start:]`` into ``out``.

    CD events before the first TIME_HIGH have no time base and are skipped (OpenEB).
    Returns ``(n_events, next_word)``.
    """
    th = state[0]
    have = state[1]
    last_t = state[2]
    dropped = state[3]
    cap = out.shape[0] // 2
    n = 0
    i = start
    nw = words.shape[0]
    while i < nw and n < cap:
        w = np.int64(words[np.uint64(i)])
        typ = w >> 28
        if typ <= 1:
            if have:
                x = (w >> 11) & 0x7FF
                y = w & 0x7FF
                if x < width and y < height:
                    t = th + ((w >> 22) & 0x3F)
                    if t < last_t:
                        t = last_t
                    last_t = t
                    _emit(out, n, t, _pack(x, y, typ))
                    n += 1
                else:
                    dropped += 1
        elif typ == 8:
            th = _evt2_time_high(th, have, (w & 0xFFFFFFF) << 6)
            have = 1
        i += 1
    state[0] = th
    state[1] = have
    state[2] = last_t
    state[3] = dropped
    return n, i


@njit(cache=True, nogil=True)
def decode_evt21(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                 width: int, height: int, legacy: bool) -> tuple[int, int]:
    """Decode EVT 2.1 64-bit words (uint64, shape (n,)) from ``words[start:]`` into ``out``.

    Each CD word carries a 32-bit validity mask: bit i is an event at ``x_base + i``.
    ``legacy``: the two 32-bit halves are swapped (``endianness=legacy`` files).
    Returns ``(n_events, next_word)``.
    """
    th = state[0]
    have = state[1]
    last_t = state[2]
    dropped = state[3]
    cap = out.shape[0] // 2 - 32
    n = 0
    i = start
    nw = words.shape[0]
    while i < nw and n <= cap:
        w = np.int64(words[np.uint64(i)])
        if legacy:
            w = ((w & 0xFFFFFFFF) << 32) | ((w >> 32) & 0xFFFFFFFF)
        typ = (w >> 60) & 0xF
        if typ <= 1:
            if have:
                t = th + ((w >> 54) & 0x3F)
                if t < last_t:
                    t = last_t
                x0 = (w >> 43) & 0x7FF
                y = (w >> 32) & 0x7FF
                mask = w & 0xFFFFFFFF
                b = 0
                while mask != 0:
                    if mask & 1:
                        x = x0 + b
                        if x < width and y < height:
                            _emit(out, n, t, _pack(x, y, typ))
                            n += 1
                            last_t = t
                        else:
                            dropped += 1
                    mask >>= 1
                    b += 1
        elif typ == 8:
            th = _evt2_time_high(th, have, ((w >> 32) & 0xFFFFFFF) << 6)
            have = 1
        i += 1
    state[0] = th
    state[1] = have
    state[2] = last_t
    state[3] = dropped
    return n, i


@njit(cache=True, nogil=True)
def decode_evt3(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                width: int, height: int) -> tuple[int, int]:
    """Decode EVT 3.0 16-bit words (uint16, shape (n,)) from ``words[start:]`` into ``out``.

    The time register is ``loops * 2^24 + TIME_HIGH << 12 + TIME_LOW`` µs, updated
    at every time word but never moved back (faery's policy: a TIME_LOW that steps
    back holds the larger time). A TIME_HIGH that drops by at least half its range
    counts a loop, and a new TIME_HIGH resets TIME_LOW (OpenEB HAL rule); a TIME_LOW
    decrease never changes TIME_HIGH. Events before the first TIME_HIGH and after a
    non-CD row (type 0x1) are skipped. Returns ``(n_events, next_word)``.
    """
    y = state[0]
    have = state[1]
    high = state[2]
    low = state[3]
    loops = state[4]
    base_x = state[5]
    vpol = state[6]
    is_cd = state[7]
    t = state[8]
    dropped = state[9]
    cap = out.shape[0] // 2 - 12
    n = 0
    i = start
    nw = words.shape[0]
    while i < nw and n <= cap:
        w = np.int64(words[np.uint64(i)])
        typ = w >> 12
        if typ == 0x2:
            if have and is_cd:
                x = w & 0x7FF
                if x < width and y < height:
                    _emit(out, n, t, _pack(x, y, (w >> 11) & 1))
                    n += 1
                else:
                    dropped += 1
        elif typ == 0x0:
            y = w & 0x7FF
            is_cd = 1
        elif typ == 0x4 or typ == 0x5:
            nbits = 12 if typ == 0x4 else 8
            if have and is_cd:
                for b in range(nbits):
                    if (w >> b) & 1:
                        x = base_x + b
                        if x < width and y < height:
                            _emit(out, n, t, _pack(x, y, vpol))
                            n += 1
                        else:
                            dropped += 1
            base_x += nbits
        elif typ == 0x3:
            base_x = w & 0x7FF
            vpol = (w >> 11) & 1
        elif typ == 0x6:
            low = w & 0xFFF
            now = loops * EVT3_LOOP_US + (high << 12) + low
            if now > t:
                t = now
        elif typ == 0x8:
            new_high = w & 0xFFF
            if have and high >= new_high + 2048:
                loops += 1
            if new_high != high:
                low = 0
            high = new_high
            now = loops * EVT3_LOOP_US + (high << 12) + low
            if now > t or not have:
                t = now
            have = 1
        elif typ == 0x1:
            is_cd = 0
        i += 1
    state[0] = y
    state[1] = have
    state[2] = high
    state[3] = low
    state[4] = loops
    state[5] = base_x
    state[6] = vpol
    state[7] = is_cd
    state[8] = t
    state[9] = dropped
    return n, i


@njit(cache=True, nogil=True)
def _unwrap32(raw: int, prev: int, loops: int, last_t: int) -> tuple[int, int]:
    """``(t, loops)``: 64-bit time from a 32-bit µs counter (a drop of more than 2^31 from
    ``prev`` is a wrap), never before ``last_t``."""
    if raw < prev and prev - raw > (1 << 31):
        loops += 1
    t = (loops << 32) + raw
    return (t if t > last_t else last_t), loops


@njit(cache=True, nogil=True)
def decode_dat(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
               width: int, height: int, version: int) -> tuple[int, int]:
    """Decode Prophesee DAT CD records (uint32 pairs ``t, packed``; ``words`` shape (2n,)).

    ``version`` 2: x bits 13-0, y bits 27-14, p bit 28; version 1: x bits 8-0,
    y bits 16-9, p bit 17. ``start`` and the returned next index count records.
    """
    cap = out.shape[0] // 2
    n = 0
    i = start
    nrec = words.shape[0] // 2
    prev, loops, last_t, dropped = state[0], state[1], state[2], state[3]
    while i < nrec and n < cap:
        packed = np.int64(words[np.uint64(2 * i + 1)])
        if version == 1:
            x = packed & 0x1FF
            y = (packed >> 9) & 0xFF
            p = (packed >> 17) & 1
        else:
            x = packed & 0x3FFF
            y = (packed >> 14) & 0x3FFF
            p = (packed >> 28) & 1
        raw = np.int64(words[np.uint64(2 * i)])
        last_t, loops = _unwrap32(raw, prev, loops, last_t)
        prev = raw
        if x < width and y < height:
            _emit(out, n, last_t, _pack(x, y, p))
            n += 1
        else:
            dropped += 1
        i += 1
    state[0], state[1], state[2], state[3] = prev, loops, last_t, dropped
    return n, i


@njit(cache=True, nogil=True)
def encode_evt2(events: np.ndarray, start: int, out: np.ndarray, state: np.ndarray) -> tuple[int, int]:
    """Encode events (int64 view, shape (n, 2)) as EVT 2.0 words into ``out`` (uint32).

    A TIME_HIGH word precedes the first event of every 64 µs step; ``state[0]``
    holds the last emitted time-high (-1 before the first). Returns ``(n_words, next_event)``.
    """
    cap = out.shape[0] - 2
    k = 0
    i = start
    last = state[0]
    while i < events.shape[0] and k <= cap:
        t = events[i, 0]
        xy = events[i, 1]
        th = t >> 6
        if th != last:
            out[k] = (8 << 28) | (th & 0xFFFFFFF)
            k += 1
            last = th
        x = xy & 0xFFFF
        y = (xy >> 16) & 0xFFFF
        p = (xy >> 32) & 1
        out[k] = (p << 28) | ((t & 0x3F) << 22) | (x << 11) | y
        k += 1
        i += 1
    state[0] = last
    return k, i


@njit(cache=True, nogil=True)
def encode_evt3(events: np.ndarray, start: int, out: np.ndarray, state: np.ndarray) -> tuple[int, int]:
    """Encode events (int64 view, shape (n, 2)) as EVT 3.0 words into ``out`` (uint16).

    Emits TIME_HIGH for every 4096 µs step crossed (as sensors do, so every reader
    sees each 2^24 µs wrap), TIME_LOW when the low 12 bits change, ADDR_Y when y
    changes, then one ADDR_X per event. ``state``: [last absolute time-high (-1 before
    the first event), last time-low, last y]. Returns ``(n_words, next_event)``.
    """
    cap = out.shape[0] - 4
    k = 0
    i = start
    last_high = state[0]
    last_low = state[1]
    last_y = state[2]
    while i < events.shape[0] and k <= cap:
        t = events[i, 0]
        xy = events[i, 1]
        high = t >> 12
        if high != last_high:
            step = high if last_high < 0 else last_high + 1
            while step < high and k <= cap:
                out[k] = (0x8 << 12) | (step & 0xFFF)
                k += 1
                step += 1
            if step < high:
                last_high = step - 1
                break
            out[k] = (0x8 << 12) | (high & 0xFFF)
            k += 1
            last_high = high
            last_low = -1
        low = t & 0xFFF
        if low != last_low:
            out[k] = (0x6 << 12) | low
            k += 1
            last_low = low
        y = (xy >> 16) & 0xFFFF
        if y != last_y:
            out[k] = y
            k += 1
            last_y = y
        out[k] = (0x2 << 12) | (((xy >> 32) & 1) << 11) | (xy & 0xFFFF)
        k += 1
        i += 1
    state[0] = last_high
    state[1] = last_low
    state[2] = last_y
    return k, i
