"""The receiving process of ``evstream bench soak``: ZeroMQ PULL -> a sink that notes when each frame arrived.

It runs in its own (spawned) process so that the transport really crosses a
process boundary and so that its memory is measured apart from the sender's.
The sink writes, per frame, the stream time of the window end (µs) and the
arrival time on ``time.perf_counter`` (CLOCK_MONOTONIC on Linux, one clock for
every process of the host) into arrays allocated and touched up front, so the
record itself does not grow the process while it runs. The sending process
turns the pairs into latencies with its camera's pacer.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from evstream.graph.node import Sink
from evstream.graph.runtime import Graph

__all__ = ["RECEIVER", "SINK", "ArrivalSink", "receive"]

RECEIVER, SINK = "in", "sink"
"""Node names of the receiving graph."""

RECEIVE_QUEUE = 64
"""Capacity of the receiver -> sink edge, packets (drop-oldest)."""


class ArrivalSink(Sink):
    """Count packets and frames; note each frame's window end (stream µs) and arrival (perf_counter s).

    Args:
        capacity: frames to keep; later frames are counted but not timed (``untimed``).
    """

    type_name = "bench.soak_arrivals"
    input_kind = "any"

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(name)
        self.t_end_us = np.full(capacity, -1, dtype=np.int64)
        self.arrival_s = np.full(capacity, np.nan, dtype=np.float64)
        self.packets = 0
        self.frames = 0
        self.untimed = 0

    def consume(self, packet: Any, port: str) -> None:
        now = time.perf_counter()
        ends = np.asarray(packet.t_end).reshape(-1)
        n = len(ends)
        room = max(0, min(n, len(self.t_end_us) - self.frames))
        self.t_end_us[self.frames:self.frames + room] = ends[:room]
        self.arrival_s[self.frames:self.frames + room] = now
        self.untimed += n - room
        self.frames += room
        self.packets += 1

    def stats_extra(self) -> dict[str, Any]:
        return {"sink_packets": self.packets, "sink_frames": self.frames + self.untimed, "untimed": self.untimed}


def receive(address: str, capacity: int, conn: Connection, idle_timeout_s: float) -> None:
    """Process body: bind ``address`` (PULL), say ``"ready"`` on ``conn``, receive to the sender's end of stream.

    Sends back ``{"stats": graph stats, "t_end_us": array, "arrival_s": array}``
    (timed frames only), or ``{"error": text}`` when the graph failed.
    """
    from evstream.transport.nodes import ReceiveNode

    try:
        graph = Graph()
        source = ReceiveNode(RECEIVER, address=address, bind=True, mode="pull", kind="tensor",
                             idle_timeout_s=idle_timeout_s, linger_ms=0)
        sink = ArrivalSink(SINK, capacity)
        graph.add(source)
        graph.add(sink, input=source, policy="drop-oldest", queue=RECEIVE_QUEUE)
        source.start()  # bound before the sender starts: nothing is queued for a missing peer
        conn.send("ready")
        stats = graph.run(handle_signals=False, grace_s=5.0)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    conn.send({"stats": stats, "t_end_us": sink.t_end_us[:sink.frames],
               "arrival_s": sink.arrival_s[:sink.frames]})
