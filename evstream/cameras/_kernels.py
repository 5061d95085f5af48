"""Numba kernels of the camera emulators: the DVS contrast model and the scene rasteriser.

Only this module imports numba. Kernels take plain arrays, mutate the explicit
state arrays they are given and write into caller-allocated outputs; the
orchestration (allocation, sorting, noise) lives in :mod:`evstream.cameras.contrast`
and :mod:`evstream.cameras.scene`. Reference versions in plain numpy are in
``tests/cameras/naive.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _signed_crossings(ref: float, level: float, c_on: float, c_off: float) -> int:
    """Threshold crossings from reference ``ref`` to log level ``level``: > 0 ON, < 0 OFF."""
    if level > ref:
        return int(math.floor((level - ref) / c_on))
    if level < ref:
        return -int(math.floor((ref - level) / c_off))
    return 0


@njit(cache=True, nogil=True)
def log_and_count(image: np.ndarray, prev_image: np.ndarray, log_eps: float, log_prev: np.ndarray,
                  log_out: np.ndarray, ref: np.ndarray, c_on: np.ndarray, c_off: np.ndarray,
                  active: np.ndarray) -> tuple[int, int]:
    """Log intensities of a new frame, and which pixels will fire how many events.

    Writes ``log(image + log_eps)`` into ``log_out`` (reusing ``log_prev`` where
    ``image`` equals ``prev_image``: a still background costs no logarithm) and
    the flat indices ``y * W + x`` of the pixels whose level crossed at least
    one threshold from ``ref`` into ``active`` (ascending). An unchanged pixel
    has no crossing: every step leaves ``ref`` within one threshold of the
    pixel's level (the caller keeps that invariant, as
    :class:`~evstream.cameras.contrast.DvsPixelModel` does).

    Args:
        image, prev_image: ``(H, W)`` float32 intensities of this and the previous frame
            (``prev_image`` NaN for none).
        log_prev: ``(H, W)`` float32 log intensities of the previous frame.
        log_out: ``(H, W)`` float32 output.
        ref, c_on, c_off: ``(H, W)`` float32 reference levels and ON / OFF thresholds.
        active: ``(H * W,)`` int64 output.

    Returns:
        ``(events, n_active)``: how many events :func:`emit_crossings` can write
        for this step (before refractory drops), and how many indices ``active`` holds.
    """
    h, w = ref.shape
    n = 0
    k = 0
    for y in range(h):
        for x in range(w):
            v = image[y, x]
            if v == prev_image[y, x]:
                # Unchanged since the last step, which left ref within one threshold: no crossing.
                log_out[y, x] = log_prev[y, x]
                continue
            level = np.float32(math.log(v + log_eps))
            log_out[y, x] = level
            c = abs(_signed_crossings(ref[y, x], level, c_on[y, x], c_off[y, x]))
            if c:
                n += c
                active[k] = y * w + x
                k += 1
    return n, k


@njit(cache=True, nogil=True)
def emit_crossings(log_prev: np.ndarray, log_next: np.ndarray, ref: np.ndarray, last_t: np.ndarray,
                   c_on: np.ndarray, c_off: np.ndarray, active: np.ndarray, t0: int, t1: int, refractory_us: int,
                   out_t: np.ndarray, out_x: np.ndarray, out_y: np.ndarray, out_p: np.ndarray) -> tuple[int, int]:
    """Events of the ``active`` pixels, whose log intensity ramps linearly from ``log_prev``
    (at ``t0`` µs) to ``log_next`` (at ``t1`` µs).

    Each crossing of the level ``ref ± k * c`` emits one event at the
    interpolated time (floored to µs, inside ``[t0, t1)``) and moves ``ref`` by
    one threshold. An event less than ``refractory_us`` after the pixel's
    previous event (``last_t``, µs) is dropped, but ``ref`` still moves.

    Args:
        log_prev, log_next: ``(H, W)`` float32 log intensities.
        ref: ``(H, W)`` float32 reference levels (state, updated).
        last_t: ``(H, W)`` int64 time of each pixel's last event in µs (state, updated).
        c_on, c_off: ``(H, W)`` float32 per-pixel ON / OFF thresholds (log units, > 0).
        active: flat pixel indices ``y * W + x`` to visit (from :func:`log_and_count`);
            other pixels have no crossing.
        out_t, out_x, out_y, out_p: outputs of length >= the count of
            :func:`log_and_count`, filled pixel by pixel (not time-sorted across pixels).

    Returns:
        ``(written, dropped)``: events written and events dropped as refractory.
    """
    w = ref.shape[1]
    span = t1 - t0
    n = 0
    dropped = 0
    for i in range(active.shape[0]):
        y = active[i] // w
        x = active[i] - y * w
        r = ref[y, x]
        a = log_prev[y, x]
        b = log_next[y, x]
        k = _signed_crossings(r, b, c_on[y, x], c_off[y, x])
        if k == 0:
            continue
        step = c_on[y, x] if k > 0 else -c_off[y, x]
        pol = 1 if k > 0 else 0
        slope = b - a
        for _ in range(abs(k)):
            r += step
            frac = (r - a) / slope if slope != 0.0 else 0.0
            frac = min(max(frac, 0.0), 1.0)
            t = t0 + int(math.floor(frac * span))
            if t >= t1:
                t = t1 - 1
            if t - last_t[y, x] < refractory_us:
                dropped += 1
                continue
            last_t[y, x] = t
            out_t[n] = t
            out_x[n] = x
            out_y[n] = y
            out_p[n] = pol
            n += 1
        ref[y, x] = r
    return n, dropped


@njit(cache=True, nogil=True)
def draw_capsules(image: np.ndarray, capsules: np.ndarray) -> None:
    """Paint anti-aliased capsules (thick segments with round ends) over ``image``.

    Args:
        image: ``(H, W)`` float32 intensities in [0, 1], modified in place.
        capsules: ``(K, 6)`` float64 rows ``(ax, ay, bx, by, radius, value)``:
            segment end points and radius in pixels, fill intensity in [0, 1].
            A pixel centre at distance ``d`` from the segment gets coverage
            ``clip(radius + 0.5 - d, 0, 1)``, blended over what is already there,
            so moving edges change intensity smoothly (sub-pixel motion).
    """
    h, w = image.shape
    for k in range(capsules.shape[0]):
        ax, ay, bx, by, rad, val = capsules[k]
        x_lo = max(int(math.floor(min(ax, bx) - rad - 1.0)), 0)
        x_hi = min(int(math.ceil(max(ax, bx) + rad + 1.0)), w - 1)
        y_lo = max(int(math.floor(min(ay, by) - rad - 1.0)), 0)
        y_hi = min(int(math.ceil(max(ay, by) + rad + 1.0)), h - 1)
        dx = bx - ax
        dy = by - ay
        len2 = dx * dx + dy * dy
        for y in range(y_lo, y_hi + 1):
            for x in range(x_lo, x_hi + 1):
                s = ((x - ax) * dx + (y - ay) * dy) / len2 if len2 > 0.0 else 0.0
                s = min(max(s, 0.0), 1.0)
                ex = x - (ax + s * dx)
                ey = y - (ay + s * dy)
                cover = rad + 0.5 - math.sqrt(ex * ex + ey * ey)
                if cover <= 0.0:
                    continue
                if cover > 1.0:
                    cover = 1.0
                image[y, x] = image[y, x] * (1.0 - cover) + val * cover
