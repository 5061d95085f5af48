"""tonic transforms as graph nodes: ``tonic.events`` (events -> events) and ``tonic.frames`` (events -> frames).

A node names a class of :mod:`tonic.transforms` and its keyword arguments;
``sensor_size`` is filled in from the stream's geometry when the transform
takes one and it is not given. tonic transforms are per-sample: the node
applies the transform to each packet on its own, so unlike evstream's binners
and filters the result depends on the packet boundaries (tonic's ``ToFrame``
restarts its windows at each packet's first event, ``Denoise`` forgets the
previous packet). Empty packets are passed through (events) or skipped (frames).

Frames from ``tonic.frames`` come as ``(N, C, H, W)`` (a 3-D result is one
frame); frame ``i`` of a packet is stamped with the ``i``-th of ``N`` equal
parts of the packet's time range, because tonic reports no frame times.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from evstream.errors import require
from evstream.events import EventPacket, as_events, to_tonic
from evstream.graph.node import Param, ParamError, Transform, suggest
from evstream.graph.registry import register
from evstream.packets import FramePacket

__all__ = ["TonicEventsNode", "TonicFramesNode"]


class _TonicNode(Transform):
    input_kind = "events"
    params = {
        "transform": Param(str, doc="class name in tonic.transforms, e.g. 'Denoise' or 'ToFrame'"),
        "kwargs": Param(dict, {}, doc="keyword arguments of the transform (sensor_size is filled in)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        transforms = require("tonic.transforms", "tonic", "dev", f"node {name!r} ({self.type_name})")
        self._class = getattr(transforms, self.transform, None)
        if not inspect.isclass(self._class):
            known = [n for n in dir(transforms) if inspect.isclass(getattr(transforms, n))]
            raise ParamError(f"node {name!r}: tonic.transforms has no transform {self.transform!r}"
                             f"{suggest(self.transform, known)}")
        self._fn = None
        self._geometry: tuple[int, int] | None = None
        self._seq = 0

    def _apply(self, packet: EventPacket) -> Any:
        if self._fn is None or self._geometry != (packet.width, packet.height):
            kwargs = dict(self.kwargs)
            if "sensor_size" in inspect.signature(self._class).parameters and "sensor_size" not in kwargs:
                kwargs["sensor_size"] = (packet.width, packet.height, 2)
            try:
                self._fn = self._class(**kwargs)
            except TypeError as exc:
                raise ParamError(f"node {self.name!r}: tonic.transforms.{self.transform}: {exc}") from exc
            self._geometry = (packet.width, packet.height)
        return self._fn(to_tonic(packet.events))


@register
class TonicEventsNode(_TonicNode):
    """Apply an event-to-event tonic transform (Denoise, TimeJitter, ...) to each packet."""

    type_name = "tonic.events"
    output_kind = "events"

    def process(self, packet: EventPacket, port: str) -> list[EventPacket]:
        if not len(packet):
            return [packet]
        result = self._apply(packet)
        events = as_events(result) if len(result) else packet.events[:0]
        if len(events) and np.any(np.diff(events["t"]) < 0):
            events = events[np.argsort(events["t"], kind="stable")]
        t_start, t_end = packet.t_start, packet.t_end
        if len(events):  # a transform that moves time may leave the packet's range
            t_start = min(t_start, int(events["t"][0]))
            t_end = max(t_end, int(events["t"][-1]) + 1)
        return [EventPacket(events, packet.width, packet.height, t_start, t_end, packet.seq)]


@register
class TonicFramesNode(_TonicNode):
    """Apply an event-to-frames tonic transform (ToFrame, ToVoxelGrid, ToTimesurface, ...) to each packet."""

    type_name = "tonic.frames"
    output_kind = "frames"

    def process(self, packet: EventPacket, port: str) -> list[FramePacket]:
        if not len(packet):
            return []
        frames = np.asarray(self._apply(packet))
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4:
            raise ParamError(f"node {self.name!r}: tonic.transforms.{self.transform} returned shape "
                             f"{frames.shape}, not frames (N, C, H, W); use tonic.events for event transforms")
        n = len(frames)
        edges = packet.t_start + (np.arange(n + 1) * packet.duration_us) // max(n, 1)
        out = FramePacket(frames, edges[:-1], np.maximum(edges[1:], edges[:-1] + 1), self._seq)
        self._seq += 1
        return [out]
