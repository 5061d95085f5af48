"""Whole-recording binning for scripts: arrays in, arrays out, no stream plumbing.

Each function runs the streaming binner on one packet covering the recording
``[first event, last event + 1)`` µs and flushes it, so it gives exactly the
frames a live graph would give for the same events.
"""

from __future__ import annotations

import numpy as np

from evstream.binning import _kernels
from evstream.binning.config import FrameConfig
from evstream.binning.binners import make_binner
from evstream.events import as_events

__all__ = ["bin_recording", "to_frames", "to_time_surfaces", "to_voxel_grid"]


def bin_recording(events: np.ndarray, config: FrameConfig) -> np.ndarray:
    """Frames ``(N, C, H, W)`` of a whole recording (evstream or tonic structured array) under ``config``."""
    binner = make_binner(config)
    return binner(events)


def to_frames(events: np.ndarray, *, width: int, height: int, window_us: int, origin_us: int = 0,
              dtype: str = "int32") -> np.ndarray:
    """Per-polarity event counts ``(N, 2, H, W)`` in windows of ``window_us`` µs.

    Frame ``k`` covers ``[origin_us + k * window_us, origin_us + (k + 1) * window_us)``,
    from the window of the first event to the window of the last one, empty
    windows included (channel 0 OFF, 1 ON). Unlike tonic's ``ToFrame(time_window)``,
    whose windows start at the first event and drop the last partial window,
    edges are absolute: frames of different recordings line up on a common clock.

    >>> frames = to_frames(events, width=128, height=128, window_us=10_000)
    """
    config = FrameConfig(width=width, height=height, window_us=window_us, origin_us=origin_us, dtype=dtype)
    return bin_recording(events, config)


def to_time_surfaces(events: np.ndarray, *, width: int, height: int, window_us: int, tau_us: float,
                     origin_us: int = 0, dtype: str = "float64") -> np.ndarray:
    """Per-polarity time surfaces ``(N, 2, H, W)`` sampled at the end of each ``window_us`` window.

    Value ``exp(-(window end - last event of the pixel) / tau_us)``, 0 before a
    pixel's first event; windows as in :func:`to_frames`. With ``origin_us`` =
    the first event time, the first frames equal tonic's ``ToTimesurface(dt, tau)``.
    """
    config = FrameConfig(width=width, height=height, window_us=window_us, origin_us=origin_us,
                         representation="timesurface", tau_us=tau_us, dtype=dtype)
    return bin_recording(events, config)


def to_voxel_grid(events: np.ndarray, *, width: int, height: int, n_time_bins: int,
                  t_start: int | None = None, span_us: int | None = None, dtype: str = "float64") -> np.ndarray:
    """One voxel grid ``(n_time_bins, H, W)`` over ``[t_start, t_start + span_us)`` µs.

    Bilinear interpolation in time, ON +1 / OFF -1 (see
    :func:`evstream.binning._kernels.voxel_windows`). By default ``t_start`` is
    the first event and ``span_us`` the first-to-last event span: tonic's
    ``ToVoxelGrid`` normalisation (where the last event falls on bin
    ``n_time_bins`` and so contributes nothing); events before ``t_start`` are
    ignored. For streams use a binner with
    ``representation="voxel"``, which uses each window as the span.
    """
    ev = as_events(events)
    config = FrameConfig(width=width, height=height, representation="voxel", n_time_bins=n_time_bins, dtype=dtype)
    out = np.zeros(config.frame_shape, dtype=dtype)
    if not len(ev):
        return out
    t = ev["t"]
    t0 = int(t[0]) if t_start is None else int(t_start)
    span = int(t[-1]) - t0 if span_us is None else int(span_us)
    span = max(span, 1)  # one timestamp: everything in bin 0 (tonic divides by zero)
    xmap, ymap = config.coordinate_maps()
    bounds = np.array([0, len(ev)], dtype=np.int64)
    _kernels.voxel_windows(ev, bounds, t0, span, False, xmap, ymap, out[None], False)
    return out

