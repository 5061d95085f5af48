"""On-the-fly binning and event filters: Numba kernels that never look back.

Binners (:mod:`evstream.binning.frames`, :mod:`evstream.binning.sliding`;
:func:`make_binner` picks one) turn event packets into frames
``(N, C, H, W)`` with absolute window edges, constant frame rate and
packet-independent results; filters (:mod:`evstream.binning.filters`) turn
event packets into event packets. Both keep explicit state, run as graph nodes
(:mod:`evstream.binning.nodes`) and work as tonic transforms.

For whole recordings, the functions of :mod:`evstream.binning.functional`
(:func:`to_frames`, :func:`to_voxel_grid`, :func:`to_time_surfaces`) need no
stream plumbing.
"""

from __future__ import annotations

from evstream.binning.config import BinningError, FrameConfig
from evstream.binning.filters import (
    DecimationFilter,
    DenoiseFilter,
    DownsampleFilter,
    EventFilter,
    HotPixelFilter,
    OrientFilter,
    PolarityFilter,
    RefractoryFilter,
    RoiFilter,
    TimeFilter,
)
from evstream.binning.binners import make_binner
from evstream.binning.frames import CountBinner, FrameBinner, TimeBinner
from evstream.binning.sliding import SampledSlidingBinner, SlidingBinner
from evstream.binning.functional import to_frames, to_time_surfaces, to_voxel_grid

__all__ = [
    "BinningError", "CountBinner", "DecimationFilter", "DenoiseFilter", "DownsampleFilter", "EventFilter",
    "FrameBinner", "FrameConfig", "SampledSlidingBinner", "HotPixelFilter", "OrientFilter", "PolarityFilter", "RefractoryFilter",
    "RoiFilter", "SlidingBinner", "TimeBinner", "TimeFilter", "make_binner", "to_frames",
    "to_time_surfaces", "to_voxel_grid",
]
