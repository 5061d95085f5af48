"""Numba kernels that decode and encode Prophesee EVT 2.0, EVT 2.1 and EVT 3.0 data (DAT records are
decoded by :mod:`evstream.io.time32_kernels`).

Conventions shared by every decoder here (and in :mod:`evstream.io.aedat_kernels`):

* Output goes to ``out``, the flat int64 view (shape ``(2 * capacity,)``) of an
  :data:`evstream.events.EVENT_DTYPE` array (see :mod:`evstream.io.packed_events`).
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

from evstream.io.packed_events import emit, pack

EVT2_STATE = 4
"""EVT 2.0 / 2.1 state: [time-high in µs incl. loops, have time-high, last t, dropped events]."""
EVT3_STATE = 10
"""EVT 3.0 state: [y, have time-high, time-high, time-low, loops, vector base x, vector polarity,
row is CD, time register µs, dropped events]."""

EVT2_MAX_TIME_HIGH_US = ((1 << 28) - 1) << 6
EVT2_LOOP_US = 1 << 34
EVT3_LOOP_US = 1 << 24
EVT3_PLAIN_TYPES = (1 << 0x0) | (1 << 0x2) | (1 << 0x6)
"""EVT 3.0 word types decoded without branches: ADDR_Y, ADDR_X, TIME_LOW (the bulk of a stream)."""


@njit(cache=True, nogil=True)
def _evt2_time_high(th_us: int, have: int, new_us: int) -> int:
    """New time base (µs) after a TIME_HIGH word; a large backwards step is a 2^34 µs loop (OpenEB)."""
    cur = th_us & (EVT2_LOOP_US - 1)
    base = th_us - cur
    if have and cur - new_us >= EVT2_MAX_TIME_HIGH_US - 10000:
        base += EVT2_LOOP_US
    return base + new_us


EVT2_SCAN_WORDS = 64
"""Words tested at once (one vectorised OR) while looking for the end of a run of EVT 2.0 CD words."""


@njit(cache=True, nogil=True)
def _evt2_cd_run(words: np.ndarray, limit: int) -> int:
    """Length of the run of EVT 2.0 CD words (type 0 or 1: bits 31-29 clear) at the start of
    ``words[:limit]`` (the first word is one)."""
    k = 1
    while k + EVT2_SCAN_WORDS <= limit:
        block = words[k:k + EVT2_SCAN_WORDS]
        high = 0
        for j in range(EVT2_SCAN_WORDS):
            high |= np.int64(block[j]) >> 29
        if high & 7:
            break
        k += EVT2_SCAN_WORDS
    while k < limit and (np.int64(words[k]) >> 29) & 7 == 0:
        k += 1
    return k


@njit(cache=True, nogil=True)
def _evt2_plain_run(words: np.ndarray, first_t: int, last_t: int, width: int, height: int) -> bool:
    """True when every CD word of ``words`` lies inside the sensor, the 6-bit times never step back
    and the first time ``first_t`` (µs) is not before ``last_t``."""
    bad = np.int64(first_t < last_t)
    prev = 0
    for k in range(words.shape[0]):
        w = np.int64(words[k])
        low = (w >> 22) & 0x3F
        bad |= np.int64(low < prev) | np.int64(((w >> 11) & 0x7FF) >= width) | np.int64((w & 0x7FF) >= height)
        prev = low
    return bad == 0


@njit(cache=True, nogil=True)
def _evt2_convert_run(words: np.ndarray, out: np.ndarray, th: int) -> None:
    """Write the EVT 2.0 CD words ``words`` as events at time ``th`` + their 6-bit time (µs) into ``out``."""
    for k in range(words.shape[0]):
        w = np.int64(words[k])
        out[2 * k] = th + ((w >> 22) & 0x3F)
        out[2 * k + 1] = pack((w >> 11) & 0x7FF, w & 0x7FF, (w >> 28) & 1)


@njit(cache=True, nogil=True)
def decode_evt2(words: np.ndarray, start: int, out: np.ndarray, state: np.ndarray,
                width: int, height: int, legacy: bool = False) -> tuple[int, int]:
    """Decode EVT 2.0 (uint32 ``words``) or EVT 2.1 (uint64 ``words``) from ``words[start:]`` into ``out``.

    An EVT 2.1 word is an EVT 2.0 word in its high 32 bits plus a validity mask in
    its low 32 bits: bit i is an event at ``x + i``. ``legacy`` (EVT 2.1 only): the
    two halves are swapped (``endianness=legacy`` files). CD events before the first
    TIME_HIGH have no time base and are skipped (OpenEB). A run of EVT 2.0 CD words
    inside the sensor with non-decreasing times is converted by a vectorised loop.
    Returns ``(n_events, next_word)``.
    """
    wide = words.itemsize == 8
    shift = 32 if wide else 0
    mask_bits = 0xFFFFFFFF if wide else 0
    single = 0 if wide else 1
    room = 32 if wide else 1
    th = state[0]
    have = state[1]
    last_t = state[2]
    dropped = state[3]
    size = out.shape[0] // 2
    n = 0
    i = start
    nw = words.shape[0]
    while i < nw and n + room <= size:
        w = np.int64(words[np.uint64(i)])
        if legacy:
            w = ((w & 0xFFFFFFFF) << 32) | ((w >> 32) & 0xFFFFFFFF)
        head = (w >> shift) & 0xFFFFFFFF
        typ = head >> 28
        if typ == 8:
            th = _evt2_time_high(th, have, (head & 0xFFFFFFF) << 6)
            have = 1
        elif typ <= 1 and have:
            run = 1
            if not wide:
                run = _evt2_cd_run(words[i:], min(nw - i, size - n))
                if _evt2_plain_run(words[i:i + run], th + ((head >> 22) & 0x3F), last_t, width, height):
                    _evt2_convert_run(words[i:i + run], out[2 * n:2 * (n + run)], th)
                    n += run
                    last_t = th + ((np.int64(words[np.uint64(i + run - 1)]) >> 22) & 0x3F)
                    i += run
                    continue
            for k in range(i, i + run):
                w = np.int64(words[np.uint64(k)])
                if legacy:
                    w = ((w & 0xFFFFFFFF) << 32) | ((w >> 32) & 0xFFFFFFFF)
                head = (w >> shift) & 0xFFFFFFFF
                t = max(th + ((head >> 22) & 0x3F), last_t)
                x = (head >> 11) & 0x7FF
                y = head & 0x7FF
                mask = (w & mask_bits) | single
                while mask != 0:
                    if mask & 1:
                        if x < width and y < height:
                            emit(out, n, t, pack(x, y, head >> 28))
                            n += 1
                            last_t = t
                        else:
                            dropped += 1
                    mask >>= 1
                    x += 1
            i += run
            continue
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
    non-CD row (type 0x1) are skipped. ADDR_Y, ADDR_X and TIME_LOW words, whose
    order is unpredictable, are decoded without branches: every ADDR_X is stored and
    the event count advances only for a valid one. Returns ``(n_events, next_word)``.
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
    tbase = loops * EVT3_LOOP_US + (high << 12)
    n = 0
    i = start
    nw = words.shape[0]
    while i < nw and n <= cap:
        w = np.int64(words[np.uint64(i)])
        typ = w >> 12
        i += 1
        if (EVT3_PLAIN_TYPES >> typ) & 1:
            v = w & 0x7FF
            y_mask = -np.int64(typ == 0x0)  # all ones for ADDR_Y
            low_mask = -np.int64(typ == 0x6)  # all ones for TIME_LOW
            y = (v & y_mask) | (y & ~y_mask)
            is_cd |= y_mask & 1
            low = (w & 0xFFF & low_mask) | (low & ~low_mask)
            t = max(t, tbase + low)  # t >= tbase + low holds between time words: a no-op unless TIME_LOW
            emit(out, n, t, pack(v, y, (w >> 11) & 1))
            row = np.int64(typ == 0x2) & have & is_cd
            inside = np.int64(v < width) & np.int64(y < height)
            n += row & inside
            dropped += row & (1 - inside)
        elif typ == 0x4 or typ == 0x5:
            nbits = 12 if typ == 0x4 else 8
            if have and is_cd:
                for b in range(nbits):
                    if (w >> b) & 1:
                        x = base_x + b
                        if x < width and y < height:
                            emit(out, n, t, pack(x, y, vpol))
                            n += 1
                        else:
                            dropped += 1
            base_x += nbits
        elif typ == 0x3:
            base_x = w & 0x7FF
            vpol = (w >> 11) & 1
        elif typ == 0x8:
            new_high = w & 0xFFF
            if have and high >= new_high + 2048:
                loops += 1
            if new_high != high:
                low = 0
            high = new_high
            tbase = loops * EVT3_LOOP_US + (high << 12)
            if tbase + low > t or not have:
                t = tbase + low
            have = 1
        elif typ == 0x1:
            is_cd = 0
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
