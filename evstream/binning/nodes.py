"""Graph nodes of the binning room: ``binning.*`` (events -> frames) and ``filters.*`` (events -> events).

Each node wraps one binner of :mod:`evstream.binning.frames` or one filter of
:mod:`evstream.binning.filters`, built on the first packet from its geometry.
Parameter names are those of :class:`~evstream.binning.config.FrameConfig`
and of the filter constructors. Binner nodes add to the graph stats
``frames_out`` and ``frame_lag_us`` (p50/p99/max): how long after the end of
its window (on the stream clock, aligned to wall time on the packet that
arrived earliest relative to its ``t_end``) each frame left the node; with a
paced live source that is the frame latency.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from evstream.binning.config import DTYPES, BinningError, FrameConfig
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
from evstream.binning.frames import FrameBinner
from evstream.events import EventPacket
from evstream.graph.node import Param, Transform
from evstream.graph.registry import register
from evstream.graph.stats import LatencyReservoir
from evstream.packets import FramePacket

__all__ = ["BinnerNode", "FilterNode"]

_WINDOW_PARAMS: dict[str, Param] = {
    "window_us": Param(int, 10_000, doc="window length, µs"),
    "stride_us": Param(int, None, doc="µs between window starts (sliding windows); default: window_us"),
    "origin_us": Param(int, 0, doc="time of window edge 0, µs (edges at origin + k * stride)"),
}
_OUTPUT_PARAMS: dict[str, Param] = {
    "crop": Param(list, None, doc="[x, y, width, height] of the sensor region to keep, pixels"),
    "downsample": Param(int, 1, doc="integer spatial downsampling factor (after crop)"),
    "dtype": Param(str, "float32", doc="frame dtype", choices=DTYPES),
    "output": Param(str, "numpy", doc="frame container", choices=("numpy", "torch")),
    "pin_memory": Param(bool, False, doc="torch output in pinned memory (needs CUDA)"),
    "max_frames": Param(int, 256, doc="most frames per output packet"),
}


def _check_geometry(node: str, packet: EventPacket, width: int, height: int) -> None:
    if (packet.width, packet.height) != (width, height):
        raise BinningError(f"node {node!r}: the stream changed geometry from {width}x{height} to "
                           f"{packet.width}x{packet.height} pixels; one node bins one sensor")


class BinnerNode(Transform):
    """Base of the ``binning.*`` nodes: builds the binner on the first packet, measures frame lag."""

    input_kind = "events"
    output_kind = "frames"
    representation: ClassVar[str] = "count"

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.binner: FrameBinner | None = None
        self.frames_out = 0
        self._lag = LatencyReservoir()
        self._clock_us: float | None = None  # wall µs minus stream µs, minimum seen

    def config(self, width: int, height: int) -> FrameConfig:
        """The :class:`FrameConfig` of this node for a ``width`` x ``height`` stream."""
        values = self.param_values()
        if values.get("crop") is not None:
            values["crop"] = tuple(values["crop"])
        values.setdefault("representation", self.representation)
        return FrameConfig(width=width, height=height, **values)

    def process(self, packet: EventPacket, port: str) -> list[FramePacket]:
        if self.binner is None:
            self.binner = make_binner(self.config(packet.width, packet.height))
        _check_geometry(self.name, packet, self.binner.width, self.binner.height)
        now_us = time.perf_counter_ns() / 1e3
        offset = now_us - packet.t_end
        self._clock_us = offset if self._clock_us is None else min(self._clock_us, offset)
        return self._count(self.binner.process(packet))

    def flush(self) -> list[FramePacket]:
        return [] if self.binner is None else self._count(self.binner.flush())

    def reset(self) -> None:
        if self.binner is not None:
            self.binner.reset()
        self._clock_us = None

    def stats_extra(self) -> dict[str, Any]:
        lag = {f"frame_lag_{k}": v for k, v in self._lag.percentiles().items()}
        return {"frames_out": self.frames_out, **lag}

    def _count(self, packets: list[FramePacket]) -> list[FramePacket]:
        now_us = time.perf_counter_ns() / 1e3
        for packet in packets:
            self.frames_out += len(packet)
            if self._clock_us is not None:
                for t_end in packet.t_end.tolist():
                    self._lag.add(max(0.0, now_us - (self._clock_us + t_end)))
        return packets


def _binner_node(type_name: str, representation: str, doc: str, extra: dict[str, Param] | None = None,
                 windows: dict[str, Param] | None = None) -> type[BinnerNode]:
    params = {**(_WINDOW_PARAMS if windows is None else windows), **(extra or {}), **_OUTPUT_PARAMS}
    cls = type(type_name.split(".")[1].title().replace("_", "") + "Node", (BinnerNode,),
               {"type_name": type_name, "representation": representation, "params": params, "__doc__": doc,
                "__module__": __name__})
    return register(cls)


_binner_node("binning.count", "count", "Per-polarity event counts (2, H, W) per time window.")
_binner_node("binning.signed", "signed", "ON minus OFF events (1, H, W) per time window.")
_binner_node("binning.binary", "binary", "1 where a pixel fired, per polarity (2, H, W), per time window.")
_binner_node("binning.rate", "rate", "Events per second per pixel (1, H, W) per time window.")
_binner_node("binning.voxel", "voxel", "Voxel grid (n_time_bins, H, W), bilinear in time, per time window.",
             {"n_time_bins": Param(int, 5, doc="time bins per window")})
_binner_node("binning.timesurface", "timesurface", "Per-polarity time surfaces (2, H, W) at each window end.",
             {"tau_us": Param(float, 10_000.0, doc="decay time constant, µs")})
_binner_node("binning.event_count", "count", "Frames of a fixed number of events (count, signed or binary).",
             {"event_count": Param(int, doc="events per frame"),
              "timeout_us": Param(int, None, doc="a frame also closes, with fewer events, this many µs after "
                                                 "its first event once an event or a clock tick reaches then"),
              "representation": Param(str, "count", doc="frame type", choices=("count", "signed", "binary"))},
             windows={})


class FilterNode(Transform):
    """Base of the ``filters.*`` nodes: builds the filter on the first packet from its geometry."""

    input_kind = "events"
    output_kind = "events"
    filter_class: ClassVar[type[EventFilter]]

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.filter: EventFilter | None = None

    def process(self, packet: EventPacket, port: str) -> list[EventPacket]:
        if self.filter is None:
            self.filter = self.filter_class(packet.width, packet.height, **self.param_values())
        _check_geometry(self.name, packet, self.filter.width, self.filter.height)
        return self.filter.process(packet)

    def flush(self) -> list[EventPacket]:
        return [] if self.filter is None else self.filter.flush()

    def reset(self) -> None:
        if self.filter is not None:
            self.filter.reset()


def _filter_node(type_name: str, filter_class: type[EventFilter], params: dict[str, Param]) -> type[FilterNode]:
    cls = type(filter_class.__name__ + "Node", (FilterNode,),
               {"type_name": type_name, "filter_class": filter_class, "params": params,
                "__doc__": filter_class.__doc__, "__module__": __name__})
    return register(cls)


_filter_node("filters.refractory", RefractoryFilter,
             {"period_us": Param(int, 1000, doc="refractory period per pixel, µs")})
_filter_node("filters.denoise", DenoiseFilter, {
    "time_us": Param(int, 10_000, doc="a neighbour must have fired within this time, µs"),
    "neighbours": Param(int, 8, doc="4 (edges) or 8 (with diagonals)", choices=(4, 8)),
})
_filter_node("filters.hot_pixels", HotPixelFilter, {
    "learn_us": Param(int, 1_000_000, doc="learning time from the stream start, µs (0: no detection)"),
    "sigma": Param(float, 5.0, doc="hot if count > mean + sigma * std"),
    "min_count": Param(int, 10, doc="hot pixels need at least this many events while learning"),
    "pixels": Param(list, [], doc="[[x, y], ...] pixels masked from the start"),
})
_filter_node("filters.roi", RoiFilter, {
    "x": Param(int, doc="left column, pixels"), "y": Param(int, doc="top row, pixels"),
    "w": Param(int, doc="width, pixels"), "h": Param(int, doc="height, pixels"),
})
_filter_node("filters.polarity", PolarityFilter, {"polarity": Param(int, 1, doc="1 ON or 0 OFF", choices=(0, 1))})
_filter_node("filters.orient", OrientFilter, {
    "flip_x": Param(bool, False, doc="mirror left-right"), "flip_y": Param(bool, False, doc="mirror up-down"),
    "transpose": Param(bool, False, doc="swap x and y"),
    "rotate": Param(int, 0, doc="clockwise rotation, degrees", choices=(0, 90, 180, 270)),
})
_filter_node("filters.time", TimeFilter, {
    "offset_us": Param(int, 0, doc="added to every timestamp after scaling, µs"),
    "scale": Param(float, 1.0, doc="timestamp multiplier (> 0)"),
})
_filter_node("filters.decimate", DecimationFilter, {"n": Param(int, 2, doc="keep every n-th event per pixel")})
_filter_node("filters.downsample", DownsampleFilter, {"factor": Param(int, 2, doc="integer coordinate divisor")})
