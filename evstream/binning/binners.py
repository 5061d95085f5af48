"""Which binner a :class:`~evstream.binning.config.FrameConfig` needs."""

from __future__ import annotations

from evstream.binning.config import FrameConfig
from evstream.binning.frames import CountBinner, FrameBinner, TimeBinner
from evstream.binning.sliding import SampledSlidingBinner, SlidingBinner

__all__ = ["make_binner"]


def make_binner(config: FrameConfig) -> FrameBinner:
    """The binner for ``config``: event-count, sliding (per representation) or tumbling time windows."""
    if config.event_count is not None:
        return CountBinner(config)
    if not config.sliding:
        return TimeBinner(config)
    if config.representation == "timesurface":
        return SampledSlidingBinner(config)
    return SlidingBinner(config)
