"""Plain numpy/python references for the camera kernels (slow, readable)."""

from __future__ import annotations

import math

import numpy as np


def emit_crossings(log_prev, log_next, ref, last_t, c_on, c_off, t0, t1, refractory_us):
    """Reference of :func:`evstream.cameras._kernels.emit_crossings`: returns (events list, dropped).

    ``ref`` and ``last_t`` are updated in place like the kernel's.
    """
    events, dropped = [], 0
    f32 = np.float32
    h, w = ref.shape
    for y in range(h):
        for x in range(w):
            a, b, r = f32(log_prev[y, x]), f32(log_next[y, x]), f32(ref[y, x])
            # number of whole thresholds between the reference and the new level (float32 like the sensor model)
            if b > r:
                k, step, pol = int(math.floor(f32(b - r) / c_on[y, x])), f32(c_on[y, x]), 1
            elif b < r:
                k, step, pol = int(math.floor(f32(r - b) / c_off[y, x])), f32(-c_off[y, x]), 0
            else:
                k = 0
            for _ in range(k):
                r = f32(r + step)
                frac = 0.0 if b == a else min(max(float(f32(f32(r - a) / f32(b - a))), 0.0), 1.0)
                t = min(t0 + int(math.floor(frac * (t1 - t0))), t1 - 1)
                if t - last_t[y, x] < refractory_us:
                    dropped += 1
                    continue
                last_t[y, x] = t
                events.append((t, x, y, pol))
            ref[y, x] = r
    return events, dropped


def draw_capsules(image, capsules):
    """Reference of :func:`evstream.cameras._kernels.draw_capsules` over the whole image."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for ax, ay, bx, by, rad, val in capsules:
        d = np.array([bx - ax, by - ay])
        len2 = d @ d
        s = np.clip(((xx - ax) * d[0] + (yy - ay) * d[1]) / len2, 0, 1) if len2 > 0 else np.zeros_like(xx)
        dist = np.hypot(xx - (ax + s * d[0]), yy - (ay + s * d[1]))
        cover = np.clip(rad + 0.5 - dist, 0.0, 1.0)
        image[:] = np.where(cover > 0, image * (1 - cover) + val * cover, image)
