"""Numba kernels that bin events into frames (``@njit`` only, no Python objects).

Shared conventions:

* ``events``: an :data:`evstream.events.EVENT_DTYPE` array (records ``t``
  int64 µs, ``x``/``y`` uint16 pixels, ``p`` uint8 0 OFF / 1 ON), sorted by
  ``t``. Reading whole 16-byte records is faster than three strided field views.
* ``bounds`` int64 ``(S + 1,)``: slot ``s`` of the output receives events
  ``bounds[s]:bounds[s + 1]`` (one slot is one frame / one window).
* ``mapped``, ``xmap`` / ``ymap`` int32 ``(65536,)``: with ``mapped``, sensor
  column / row -> output column / row, or -1 for pixels outside the crop (or
  the sensor): cropping and downsampling fused into one table lookup. Without
  it coordinates index the frame directly (events outside it are skipped).
* ``frames`` ``(S, C, H, W)``: preallocated output, accumulated into. With
  ``fresh`` its memory is uninitialised and each slot is zeroed right before
  its events are binned (the slot is then hot in cache for the scattered adds;
  measured faster and far steadier than a calloc'd block); without it the
  slots already hold partial sums (the frame of the open window).

Kernels never allocate per event and hold no state of their own: every state
array (last timestamps of a time surface) is passed in and mutated in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEVER_US = np.int64(-(2**62))
"""Timestamp (µs) that marks "no event yet" in per-pixel state arrays."""


@njit(cache=True, nogil=True, inline="always")
def _pixel(e, mapped, xmap, ymap, h, w):
    """Output ``(row, column)`` of event record ``e``, or ``(-1, -1)`` when it falls outside."""
    if mapped:
        c = xmap[e.x]
        r = ymap[e.y]
        if c < 0 or r < 0:
            return -1, -1
        return r, c
    if e.x >= w or e.y >= h:
        return -1, -1
    return np.int32(e.y), np.int32(e.x)


@njit(cache=True, nogil=True)
def accumulate_windows(events, bounds, mapped, xmap, ymap, offset, weight, frames, fresh):
    """Add ``weight[p]`` at channel ``offset[p] / (H * W)``, ``row``, ``column`` of ``frames[s]`` per event.

    Args:
        offset: int64 ``(256,)`` flat offset of the output channel per
            polarity value (channel * H * W).
        weight: ``(256,)`` value added per polarity value (1 for counts,
            -1/+1 for signed frames), same dtype as ``frames``.
        frames: C-contiguous (the kernel indexes it flat: one multiply-add per
            event instead of four strided index terms).

    Count, signed, binary (clipped afterwards) and rate (scaled afterwards)
    frames are all this kernel with other ``offset``/``weight`` tables. Frames
    are accumulated in their own dtype: an int32 accumulator cast on output
    measured no faster (the scattered adds cost the same in any width).
    """
    h, w = frames.shape[2], frames.shape[3]
    size = frames.shape[1] * h * w
    flat = frames.reshape(-1)
    for s in range(bounds.shape[0] - 1):
        base = s * size
        if fresh:
            flat[base:base + size] = 0
        for i in range(bounds[s], bounds[s + 1]):
            e = events[i]
            r, c = _pixel(e, mapped, xmap, ymap, h, w)
            if r >= 0:
                flat[base + offset[e.p] + r * w + c] += weight[e.p]


@njit(cache=True, nogil=True)
def voxel_windows(events, bounds, t0, span_us, mapped, xmap, ymap, frames, fresh):
    """Voxel grid with bilinear interpolation in time (Zhu et al. 2019).

    Slot ``s`` covers ``[t0 + s * span_us, t0 + (s + 1) * span_us)``; with
    ``B = frames.shape[1]`` time bins an event at ``t`` sits at
    ``u = B * (t - start) / span_us`` and adds ``pol * (1 - frac(u))`` to bin
    ``floor(u)`` and ``pol * frac(u)`` to bin ``floor(u) + 1`` (bins ``>= B``
    are dropped), ``pol`` = +1 ON / -1 OFF. This is tonic's ``ToVoxelGrid``
    normalisation with a fixed span instead of the first-to-last event span
    (tonic divides per event; the multiplication here can differ by one ulp).
    """
    n_bins, h, w = frames.shape[1], frames.shape[2], frames.shape[3]
    scale = float(n_bins) / float(span_us)  # one multiply per event instead of a division
    for s in range(bounds.shape[0] - 1):
        frame = frames[s]
        if fresh:
            frame[...] = 0.0
        start = t0 + s * span_us
        for i in range(bounds[s], bounds[s + 1]):
            e = events[i]
            r, c = _pixel(e, mapped, xmap, ymap, h, w)
            if r < 0 or e.t < start:
                continue
            u = float(e.t - start) * scale
            b = int(u)
            du = u - b
            pol = 1.0 if e.p else -1.0
            if b < n_bins:
                frame[b, r, c] += pol * (1.0 - du)
            if b + 1 < n_bins:
                frame[b + 1, r, c] += pol * du


@njit(cache=True, nogil=True)
def time_surface_windows(events, bounds, t0, window_us, tau_us, mapped, xmap, ymap, last, touched, surface, frames):
    """Per-polarity time surfaces sampled at the end of each slot.

    State (all ``(2, H, W)``, persisting across calls): ``last`` int64, the
    latest timestamp per (polarity, row, column); ``touched`` uint8, 1 where
    ``last`` changed since the previous sample; ``surface`` float64, the
    previous sample. Slot ``s`` ends at ``e = t0 + (s + 1) * window_us``; its
    frame (every element written, so ``frames`` may be uninitialised) is ``exp(-(e - last) / tau_us)`` (0 where no event was seen).
    Consecutive samples are one window apart, so an untouched pixel is the
    previous sample times ``exp(-window_us / tau_us)``: one multiply instead of
    one ``exp`` per pixel (values below the smallest normal float64 become 0).
    Pass ``frames`` with zero slots to only take in events.
    """
    h, w = last.shape[1], last.shape[2]
    decay = np.exp(-window_us / tau_us)
    tiny = np.finfo(np.float64).tiny
    last_flat, touched_flat, surface_flat = last.ravel(), touched.ravel(), surface.ravel()
    for s in range(bounds.shape[0] - 1):
        for i in range(bounds[s], bounds[s + 1]):
            e = events[i]
            r, c = _pixel(e, mapped, xmap, ymap, h, w)
            if r >= 0:
                ch = 1 if e.p else 0
                last[ch, r, c] = e.t
                touched[ch, r, c] = 1
        if s < frames.shape[0]:
            end = t0 + (s + 1) * window_us
            frame = frames[s].ravel()
            for k in range(last_flat.shape[0]):
                if touched_flat[k]:
                    v = np.exp(-float(end - last_flat[k]) / tau_us)
                    touched_flat[k] = 0
                else:
                    v = surface_flat[k] * decay
                    if v < tiny:
                        v = 0.0
                surface_flat[k] = v
                frame[k] = v


@njit(cache=True, nogil=True)
def window_bounds(events, lo, first_edge, window_us, bounds):
    """Cut ``events[lo:]`` at the edges ``first_edge + k * window_us`` µs.

    Writes ``bounds[0] = lo`` and ``bounds[k + 1]`` = index of the first event
    at or after edge ``k`` (binary search).
    """
    bounds[0] = lo
    n = events.shape[0]
    for k in range(bounds.shape[0] - 1):
        edge = first_edge + k * window_us
        a = bounds[k]
        b = n
        while a < b:
            m = (a + b) >> 1
            if events[m].t < edge:
                a = m + 1
            else:
                b = m
        bounds[k + 1] = a


@njit(cache=True, nogil=True)
def count_cuts(t, held, open_t0, count, timeout_us, covered_us, cuts, ends):
    """Where the event-count frames of one packet end: returns how many frames close.

    Args:
        t: int64 event times of the packet, µs.
        held: events already in the open frame (from earlier packets);
            ``open_t0`` the time of its first event, µs.
        count: events per frame.
        timeout_us: if > 0, a frame also closes, with fewer events, at
            ``first event time + timeout_us`` once the stream reaches that
            time (``covered_us``: the stream is complete before it, so a clock
            tick closes it too); its later events start the next frame.
        cuts, ends: outputs, at least ``len(t) + 1`` long: frame ``f`` holds
            the packet's events before index ``cuts[f]`` (from the previous
            cut) and covers time up to ``ends[f]`` µs (last event + 1, or the
            timeout deadline).
    """
    n = t.shape[0]
    i = 0
    nf = 0
    while True:
        if held == 0:
            if i >= n:
                break
            open_t0 = t[i]
        j = min(i + count - held, n)
        if timeout_us > 0:
            deadline = open_t0 + timeout_us
            a, b = i, j  # first index in [i, j) at or after the deadline
            while a < b:
                m = (a + b) >> 1
                if t[m] < deadline:
                    a = m + 1
                else:
                    b = m
            if a < j or (held + j - i < count and covered_us >= deadline):
                cuts[nf] = a
                ends[nf] = deadline
                nf += 1
                held = 0
                i = a
                continue
        if held + j - i < count:
            break
        cuts[nf] = j
        ends[nf] = t[j - 1] + 1
        nf += 1
        held = 0
        i = j
    return nf

