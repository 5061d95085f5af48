"""``evstream bench graph``: the runtime's cost per packet per node and its pass-through throughput.

Chains ``source -> k x identity -> sink`` of the graph runtime are timed
against the same chains built from plain threads and ``queue.Queue`` (the
baseline any hand-written pipeline starts from). The source yields one
pre-built packet over and over, so only the runtime is measured.

* ``us_per_packet_node``: ``(wall(k=8) - wall(k=0)) / (8 * packets)``, µs.
* ``mev_s``: events through ``source -> identity -> sink`` per second.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from collections.abc import Iterator

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket
from evstream.graph.builtin import CountSink, Identity
from evstream.graph.node import Source
from evstream.graph.runtime import Graph

HELP = "runtime overhead per packet per node (µs) and pass-through Mev/s vs plain queue.Queue threads"
_DEEP = 8


class _Repeat(Source):
    type_name = "bench.repeat"
    output_kind = "events"

    def __init__(self, name: str, packet: EventPacket, count: int) -> None:
        super().__init__(name)
        self.packet, self.count = packet, count

    def generate(self) -> Iterator[EventPacket]:
        for _ in range(self.count):
            yield self.packet


def _evstream_chain(packet: EventPacket, count: int, depth: int) -> float:
    g = Graph()
    last = g.add(_Repeat("src", packet, count))
    for i in range(depth):
        last = g.add(Identity(f"id{i}"), input=last)
    g.add(CountSink("out"), input=last)
    t0 = time.perf_counter()
    g.run(handle_signals=False)
    return time.perf_counter() - t0


def _queue_chain(packet: EventPacket, count: int, depth: int) -> float:
    stop = object()
    queues = [queue.Queue(maxsize=8) for _ in range(depth + 1)]

    def source() -> None:
        for _ in range(count):
            queues[0].put(packet)
        queues[0].put(stop)

    def stage(i: int) -> None:
        while (item := queues[i].get()) is not stop:
            queues[i + 1].put(item)
        queues[i + 1].put(stop)

    def sink() -> None:
        n = 0
        while (item := queues[-1].get()) is not stop:
            n += len(item)

    threads = [threading.Thread(target=source), threading.Thread(target=sink)]
    threads += [threading.Thread(target=stage, args=(i,)) for i in range(depth)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--packets", type=int, default=2000, help="packets per run (default 2000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="events per packet (default 1000 10000 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is kept")


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    for size in args.sizes:
        ev = np.zeros(size, dtype=EVENT_DTYPE)
        ev["t"] = np.arange(size)
        packet = EventPacket(ev, 128, 128)
        for tool, chain in (("evstream", _evstream_chain), ("queue.Queue", _queue_chain)):
            base = min(chain(packet, args.packets, 0) for _ in range(args.repeat))
            one = min(chain(packet, args.packets, 1) for _ in range(args.repeat))
            deep = min(chain(packet, args.packets, _DEEP) for _ in range(args.repeat))
            rows.append({"case": f"{size} ev/packet", "tool": tool,
                         "us_per_packet_node": round((deep - base) / (_DEEP * args.packets) * 1e6, 2),
                         "mev_s": round(size * args.packets / one / 1e6, 1)})
        ours, peer = rows[-2], rows[-1]
        ours["ratio"] = round(ours["mev_s"] / peer["mev_s"], 2)
    return rows
