"""Frame representations: what the frame of a window holds.

A representation owns the kernel call and the state that is not a frame (the
last-timestamp map of a time surface). The binners of
:mod:`evstream.binning.frames` decide *which* events belong to which window and
own the frames, including the partial frame of the still open window. All
times are µs; frames are ``(S, C, H, W)`` arrays.
"""

from __future__ import annotations

import numpy as np

from evstream.binning import _kernels
from evstream.binning.config import FrameConfig

__all__ = ["Representation", "make_representation"]


class Representation:
    """Base: bin events window by window into ``(S, C, H, W)`` frames.

    ``bin(events, bounds, t0, span_us, frames, fresh)`` adds the events
    ``bounds[s]:bounds[s+1]`` of the window starting at ``t0 + s * span_us`` to
    ``frames[s]``; it can be called several times on the same frame (packet
    after packet of the open window). With ``fresh`` the frames are
    uninitialised memory (``np.empty``) that the kernel zeroes or overwrites. ``finish(frames, span_us)`` turns
    complete frames into their final values, once. ``per_window`` says whether
    the open window needs its own frame while it fills (accumulating
    representations) or only updates state (time surfaces).
    """

    per_window = True

    def __init__(self, config: FrameConfig) -> None:
        self.config = config
        self.xmap, self.ymap = config.coordinate_maps()
        self.mapped = config.crop is not None or config.downsample != 1
        self.dtype = np.dtype(config.dtype)

    def reset(self) -> None:
        """Forget the state carried between windows (none for per-window representations)."""

    def bin(self, events: np.ndarray, bounds: np.ndarray, t0: int, span_us: int, frames: np.ndarray,
            fresh: bool = False) -> None:
        raise NotImplementedError

    def finish(self, frames: np.ndarray, span_us: int) -> None:
        """Post-process complete frames in place (binary clipping, rate scaling)."""


class Accumulated(Representation):
    """count, signed, binary and rate frames: per-event adds from a (channel, weight) table per polarity."""

    _TABLES = {  # representation -> (channel of OFF, ON), (weight of OFF, ON)
        "count": ((0, 1), (1, 1)),
        "binary": ((0, 1), (1, 1)),
        "signed": ((0, 0), (-1, 1)),
        "rate": ((0, 0), (1, 1)),
    }

    def __init__(self, config: FrameConfig) -> None:
        super().__init__(config)
        chans, weights = self._TABLES[config.representation]
        plane = config.out_size[0] * config.out_size[1]
        # Polarity values other than 0/1 break the event contract; they count as ON, like tonic's bool cast.
        self.offset = np.full(256, chans[1] * plane, dtype=np.int64)
        self.offset[0] = chans[0] * plane
        self.weight = np.full(256, weights[1], dtype=self.dtype)
        self.weight[0] = weights[0]

    def bin(self, events, bounds, t0, span_us, frames, fresh=False) -> None:
        _kernels.accumulate_windows(events, bounds, self.mapped, self.xmap, self.ymap, self.offset, self.weight,
                                    frames, fresh)

    def finish(self, frames: np.ndarray, span_us: int) -> None:
        if self.config.representation == "binary":
            np.minimum(frames, 1, out=frames)
        elif self.config.representation == "rate":
            frames *= 1e6 / span_us


class Voxel(Representation):
    """Voxel grids: ``n_time_bins`` channels, bilinear in time inside each window."""

    def bin(self, events, bounds, t0, span_us, frames, fresh=False) -> None:
        _kernels.voxel_windows(events, bounds, t0, span_us, self.mapped, self.xmap, self.ymap, frames, fresh)


class TimeSurface(Representation):
    """Time surfaces: the per-pixel last timestamps persist across windows and packets.

    ``bin`` with fewer frame slots than windows only takes in the events of
    the windows without a slot (the open window).
    """

    per_window = False

    def __init__(self, config: FrameConfig) -> None:
        super().__init__(config)
        shape = config.frame_shape
        self.last = np.full(shape, _kernels.NEVER_US, dtype=np.int64)
        self.touched = np.zeros(shape, dtype=np.uint8)
        self.surface = np.zeros(shape, dtype=np.float64)

    def reset(self) -> None:
        self.last.fill(_kernels.NEVER_US)
        self.touched.fill(0)
        self.surface.fill(0)

    def bin(self, events, bounds, t0, span_us, frames, fresh=False) -> None:  # every element is written
        _kernels.time_surface_windows(events, bounds, t0, span_us, float(self.config.tau_us), self.mapped,
                                      self.xmap, self.ymap, self.last, self.touched, self.surface, frames)


def make_representation(config: FrameConfig) -> Representation:
    """The representation object for ``config.representation``."""
    if config.representation == "voxel":
        return Voxel(config)
    if config.representation == "timesurface":
        return TimeSurface(config)
    return Accumulated(config)
