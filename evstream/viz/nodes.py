"""The ``viz.view`` sink: feeds a :class:`~evstream.viz.state.ViewState` that the viewer window draws.

Ports: ``events`` (required), ``frames`` and ``labels`` (optional). Every
packet is folded in at once (O(events), no drawing), so the node keeps up with
lossless (``block``) edges and never drops an event; only the latest frame and
label are kept for drawing. Label packets may carry, per label, ``arrival_ns``
(``perf_counter_ns`` when the label's events entered the graph, -1 unknown)
for the latency display, and ``spikes`` ``(N, neurons)`` for the raster.
The node needs no Qt: ``evstream view GRAPH.toml`` opens the window on it;
under ``evstream run`` it only counts.
"""

from __future__ import annotations

import time
from typing import Any

from evstream.graph.node import Param, Sink
from evstream.graph.registry import register
from evstream.viz.state import ViewState

__all__ = ["ViewNode"]


@register
class ViewNode(Sink):
    """Live view of events (with decay), the binned frame, a spike raster, the label and stats."""

    type_name = "viz.view"
    input_ports = {"events": "events", "frames": "frames", "labels": "labels"}
    params = {
        "title": Param(str, "evstream", doc="window title"),
        "tau_us": Param(float, 30_000.0, doc="decay time constant of the event image, µs"),
        "raster_neurons": Param(int, 128, doc="neurons shown in the spike raster"),
        "history": Param(int, 200, doc="steps shown in the spike raster"),
        "layer_name": Param(str, "spikes", doc="caption of the raster"),
        "fps": Param(float, 30.0, doc="drawing rate of the window, frames per second"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.state = ViewState(self.tau_us, self.raster_neurons, self.history)

    def reset(self) -> None:
        self.state = ViewState(self.tau_us, self.raster_neurons, self.history)

    def consume(self, packet: Any, port: str) -> None:
        if port == "events":
            self.state.add_events(packet.events, packet.width, packet.height, packet.t_end)
        elif port == "frames":
            if len(packet):
                self.state.set_frame(packet.data[-1], count=len(packet))
        elif len(packet):
            now = time.perf_counter_ns()
            arrival = getattr(packet, "arrival_ns", None)
            latency = [] if arrival is None else [(now - int(ns)) / 1e3 for ns in arrival if ns >= 0]
            label = int(packet.label[-1])
            names = packet.names or ()
            self.state.add_labels(names[label] if label < len(names) else str(label), float(packet.confidence[-1]),
                                  getattr(packet, "spikes", None), latency)

    def stats_extra(self) -> dict[str, Any]:
        return {k: v for k, v in self.state.stats().items() if not k.startswith("latency")}
