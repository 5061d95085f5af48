"""Frame representations: how the events of consecutive windows fill frames.

A representation owns the state that carries over between packets (the partial
frame of the open window, or the last-timestamp map of a time surface) and
calls the kernels of :mod:`evstream.binning._kernels`. The binners of
:mod:`evstream.binning.frames` decide *which* events belong to which window;
representations decide *what* a window's frame holds. All times are µs; frames
are ``(S, C, H, W)`` arrays.
"""

from __future__ import annotations

import numpy as np

from evstream.binning import _kernels
from evstream.binning.config import FrameConfig
from evstream.events import EVENT_DTYPE

__all__ = ["Representation", "make_representation"]

_NO_EVENTS = np.zeros(0, dtype=EVENT_DTYPE)


class Representation:
    """Base: accumulate events window by window into ``(C, H, W)`` frames.

    ``complete(...)`` fills one zeroed output slot per finished window (slot 0
    continues the open window), ``partial(...)`` adds events of the still open
    window to the state, ``pending(frames, t0)`` writes the open window's frame
    (for ``flush``), ``reset()`` forgets everything.
    """

    def __init__(self, config: FrameConfig, dtype: str | None = None) -> None:
        self.config = config
        self.xmap, self.ymap = config.coordinate_maps()
        self.mapped = config.crop is not None or config.downsample != 1
        self.dtype = np.dtype(dtype or config.dtype)
        self.acc = np.zeros(config.frame_shape, dtype=self.dtype)
        self._acc_used = False  # acc holds events (else it is all zeros and need not be read)

    def reset(self) -> None:
        if self._acc_used:
            self.acc.fill(0)
            self._acc_used = False

    def complete(self, events: np.ndarray, bounds: np.ndarray, t0: int, span_us: int, frames: np.ndarray) -> None:
        """Fill ``frames[s]`` with the window starting at ``t0 + s * span_us`` (events ``bounds[s]:bounds[s+1]``)."""
        if self._acc_used:
            frames[0] += self.acc
            self.reset()
        self._bin(events, bounds, t0, span_us, frames)
        self.finish(frames, span_us)

    def partial(self, events: np.ndarray, lo: int, hi: int, t0: int, span_us: int) -> None:
        """Add events ``lo:hi`` (all in the open window starting at ``t0``) to the state."""
        if hi > lo:
            self._bin(events, np.array([lo, hi], dtype=np.int64), t0, span_us, self.acc[None])
            self._acc_used = True

    def pending(self, frames: np.ndarray, t0: int, span_us: int) -> None:
        """Write the open window's frame (starting at ``t0``) into ``frames[0]`` without changing the state."""
        if self._acc_used:
            frames[0] += self.acc
        self.finish(frames, span_us)

    def finish(self, frames: np.ndarray, span_us: int) -> None:
        """Post-process finished frames in place (binary clipping, rate scaling)."""

    def _bin(self, events, bounds, t0, span_us, frames) -> None:
        raise NotImplementedError


class Accumulated(Representation):
    """count, signed, binary and rate frames: per-event adds from a (channel, weight) table per polarity.

    ``raw=True`` keeps exact int32 sums and skips :meth:`finish` (the base bins
    of sliding windows, which are summed before clipping or scaling).
    """

    _TABLES = {  # representation -> (channel of OFF, ON), (weight of OFF, ON)
        "count": ((0, 1), (1, 1)),
        "binary": ((0, 1), (1, 1)),
        "signed": ((0, 0), (-1, 1)),
        "rate": ((0, 0), (1, 1)),
    }

    def __init__(self, config: FrameConfig, raw: bool = False) -> None:
        super().__init__(config, "int32" if raw else None)
        self.raw = raw
        chans, weights = self._TABLES[config.representation]
        # Polarity values other than 0/1 break the event contract; they count as ON, like tonic's bool cast.
        self.channel = np.full(256, chans[1], dtype=np.int64)
        self.channel[0] = chans[0]
        self.weight = np.full(256, weights[1], dtype=self.dtype)
        self.weight[0] = weights[0]

    def _bin(self, events, bounds, t0, span_us, frames) -> None:
        _kernels.accumulate_windows(events, bounds, self.mapped, self.xmap, self.ymap, self.channel, self.weight,
                                    frames)

    def finish(self, frames: np.ndarray, span_us: int) -> None:
        if self.raw:
            return
        if self.config.representation == "binary":
            np.minimum(frames, 1, out=frames)
        elif self.config.representation == "rate":
            frames *= 1e6 / span_us


class Voxel(Representation):
    """Voxel grids: ``n_time_bins`` channels, bilinear in time inside each window."""

    def _bin(self, events, bounds, t0, span_us, frames) -> None:
        _kernels.voxel_windows(events, bounds, t0, span_us, self.mapped, self.xmap, self.ymap, frames)


class TimeSurface(Representation):
    """Time surfaces: the per-pixel last timestamps persist across windows and packets."""

    def __init__(self, config: FrameConfig) -> None:
        super().__init__(config)
        shape = config.frame_shape
        self.last = np.full(shape, _kernels.NEVER_US, dtype=np.int64)
        self.touched = np.zeros(shape, dtype=np.uint8)
        self.surface = np.zeros(shape, dtype=np.float64)
        self._none = np.zeros((0, *shape), dtype=self.dtype)

    def reset(self) -> None:
        self.last.fill(_kernels.NEVER_US)
        self.touched.fill(0)
        self.surface.fill(0)

    def complete(self, events, bounds, t0, span_us, frames) -> None:
        self._bin(events, bounds, t0, span_us, frames)

    def partial(self, events, lo, hi, t0, span_us) -> None:
        if hi > lo:
            self._bin(events, np.array([lo, hi], dtype=np.int64), t0, span_us, self._none)

    def pending(self, frames, t0, span_us) -> None:
        """The open window's surface (this advances the decay state: call it only at flush)."""
        self._bin(_NO_EVENTS, np.zeros(2, dtype=np.int64), t0, span_us, frames)

    def _bin(self, events, bounds, t0, span_us, frames) -> None:
        _kernels.time_surface_windows(events, bounds, t0, span_us, float(self.config.tau_us), self.mapped,
                                      self.xmap, self.ymap, self.last, self.touched, self.surface, frames)


def make_representation(config: FrameConfig) -> Representation:
    """The representation object for ``config.representation``."""
    if config.representation == "voxel":
        return Voxel(config)
    if config.representation == "timesurface":
        return TimeSurface(config)
    return Accumulated(config)
