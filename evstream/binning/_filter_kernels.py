"""Numba kernels of the stateful event filters (``@njit`` only).

Each kernel reads the records of a packet's :data:`~evstream.events.EVENT_DTYPE`
array ``events`` (``t`` int64 µs, ``x``, ``y`` uint16 pixels), updates its per-pixel state array in place (shape
``(H, W)``, indexed ``[y, x]``) and copies the kept events, in order, to the
front of ``out`` (an :data:`~evstream.events.EVENT_DTYPE` array as long as
``events``). Kernels return the number of kept events; events outside the
``(H, W)`` state are dropped (they cannot come from this sensor).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def refractory_filter(events, last, period_us, out):
    """Keep an event when ``t - last[y, x] > period_us``; ``last`` is updated by every event.

    As in tonic's ``RefractoryPeriod``, a dropped event restarts the pixel's
    refractory period. ``last`` int64 ``(H, W)``, ``NEVER_US`` = no event yet.
    """
    h, w = last.shape
    j = 0
    for i in range(events.shape[0]):
        xi = events[i].x
        yi = events[i].y
        if xi >= w or yi >= h:
            continue
        ti = events[i].t
        if ti - last[yi, xi] > period_us:
            out[j] = events[i]
            j += 1
        last[yi, xi] = ti
    return j


@njit(cache=True, nogil=True)
def background_activity_filter(events, last, window_us, eight, out):
    """Keep an event when a neighbour pixel fired less than ``window_us`` µs before it.

    Neighbours are the 4 edge neighbours, plus the 4 diagonal ones when
    ``eight`` is true; the pixel itself does not count. ``last`` int64
    ``(H + 2, W + 2)`` holds each pixel's latest timestamp at ``[y + 1, x + 1]``
    inside a border that never fires (so no neighbour needs a bounds check);
    it is updated by every event, kept or not, as in tonic's ``Denoise``.
    """
    h, w = last.shape[0] - 2, last.shape[1] - 2
    j = 0
    for i in range(events.shape[0]):
        e = events[i]
        if e.x >= w or e.y >= h:
            continue
        r = np.int64(e.y) + 1
        c = np.int64(e.x) + 1
        t = e.t
        last[r, c] = t
        # branchless: the latest neighbour time decides, and every event is copied to out[j] but counted
        # only when supported (where about half the events are noise, a branch per event mispredicts;
        # 3x faster on the shared DVS128 recording, the same on dense EVT 2 data)
        latest = max(max(last[r - 1, c], last[r + 1, c]), max(last[r, c - 1], last[r, c + 1]))
        if eight:
            latest = max(latest, max(max(last[r - 1, c - 1], last[r - 1, c + 1]),
                                     max(last[r + 1, c - 1], last[r + 1, c + 1])))
        out[j] = e
        j += np.int64(latest > t - window_us)
    return j


@njit(cache=True, nogil=True)
def mask_filter(events, mask, out):
    """Keep events whose pixel has ``mask[y, x] == 0`` (``mask`` uint8 ``(H, W)``, 1 = masked)."""
    h, w = mask.shape
    j = 0
    for i in range(events.shape[0]):
        xi = events[i].x
        yi = events[i].y
        if xi < w and yi < h and mask[yi, xi] == 0:
            out[j] = events[i]
            j += 1
    return j


@njit(cache=True, nogil=True)
def decimation_filter(events, counter, n, out):
    """Keep every ``n``-th event of each pixel (``counter`` int64 ``(H, W)``, events since the last kept one)."""
    h, w = counter.shape
    j = 0
    for i in range(events.shape[0]):
        xi = events[i].x
        yi = events[i].y
        if xi >= w or yi >= h:
            continue
        counter[yi, xi] += 1
        if counter[yi, xi] >= n:
            counter[yi, xi] = 0
            out[j] = events[i]
            j += 1
    return j


@njit(cache=True, nogil=True)
def count_pixels(events, counts):
    """``counts[y, x] += 1`` per event (``counts`` int64 ``(H, W)``; outside events ignored)."""
    h, w = counts.shape
    for i in range(events.shape[0]):
        xi = events[i].x
        yi = events[i].y
        if xi < w and yi < h:
            counts[yi, xi] += 1


@njit(cache=True, nogil=True)
def polarity_filter(events, polarity, out):
    """Keep events with ``p == polarity``."""
    j = 0
    for i in range(events.shape[0]):
        if events[i].p == polarity:
            out[j] = events[i]
            j += 1
    return j


@njit(cache=True, nogil=True)
def roi_filter(events, x0, y0, w, h, out):
    """Keep events inside ``[x0, x0 + w) x [y0, y0 + h)`` with coordinates relative to ``(x0, y0)``."""
    j = 0
    for i in range(events.shape[0]):
        dx = np.int64(events[i].x) - x0
        dy = np.int64(events[i].y) - y0
        if 0 <= dx < w and 0 <= dy < h:
            out[j] = events[i]
            out[j].x = dx
            out[j].y = dy
            j += 1
    return j


@njit(cache=True, nogil=True)
def downsample_events(events, factor, out):
    """Copy every event with ``x // factor``, ``y // factor``; returns the count (all events)."""
    for i in range(events.shape[0]):
        out[i] = events[i]
        out[i].x = events[i].x // factor
        out[i].y = events[i].y // factor
    return events.shape[0]


@njit(cache=True, nogil=True)
def scale_times(t, scale, offset_us):
    """``t[i] = floor(t[i] * scale) + offset_us`` in place (µs, int64; float64 product, as numpy computes it).

    ``t`` may be the strided ``t`` field of an event array: one pass, no temporaries.
    """
    for i in range(t.shape[0]):
        t[i] = np.int64(np.floor(float(t[i]) * scale)) + offset_us
