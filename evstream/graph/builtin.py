"""Core node types that need no other room: a synthetic source, pass-through, counting and monitoring sinks."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket
from evstream.graph.node import Param, ParamError, Sink, Source, Transform
from evstream.graph.registry import register

__all__ = ["CountSink", "Identity", "MonitorSink", "SyntheticSource"]


@register
class SyntheticSource(Source):
    """Uniformly random events at a fixed event rate, in packets of a fixed size (a finite test source).

    Timestamps advance by ``1e6 / rate_hz`` µs per event; with ``realtime``
    the source also waits so that packets leave at the pace of their
    timestamps. Deterministic for a given ``seed``.
    """

    type_name = "core.synthetic"
    output_kind = "events"
    params = {
        "events": Param(int, 1_000_000, doc="total number of events"),
        "packet": Param(int, 10_000, doc="events per packet"),
        "width": Param(int, 128, doc="sensor width, pixels"),
        "height": Param(int, 128, doc="sensor height, pixels"),
        "rate_hz": Param(float, 1e6, doc="event rate in events per second of event time"),
        "realtime": Param(bool, False, doc="pace packets by their timestamps"),
        "seed": Param(int, 0, doc="random seed"),
    }

    def start(self) -> None:
        if self.packet < 1 or self.events < 0 or self.rate_hz <= 0:
            raise ParamError(f"node {self.name!r}: need packet >= 1, events >= 0 and rate_hz > 0")
        self._done = 0

    def generate(self) -> Iterator[EventPacket]:
        rng = np.random.default_rng(self.seed)
        dt_us = 1e6 / self.rate_hz
        wall0 = time.perf_counter()
        for seq, first in enumerate(range(0, self.events, self.packet)):
            n = min(self.packet, self.events - first)
            ev = np.empty(n, dtype=EVENT_DTYPE)
            ev["t"] = ((first + np.arange(n)) * dt_us).astype(np.int64)
            ev["x"] = rng.integers(0, self.width, n)
            ev["y"] = rng.integers(0, self.height, n)
            ev["p"] = rng.integers(0, 2, n)
            t_end = int((first + n) * dt_us)
            if self.realtime:
                delay = t_end / 1e6 - (time.perf_counter() - wall0)
                if delay > 0 and self.stopping.wait(delay):
                    return
            self._done = first + n
            yield EventPacket(ev, self.width, self.height, int(first * dt_us), max(t_end, int(ev["t"][-1]) + 1), seq)

    def progress(self) -> tuple[float, float]:
        return (self._done, self.events)


@register
class Identity(Transform):
    """Forward every packet unchanged (merges several inputs into one stream)."""

    type_name = "core.identity"
    input_kind = "any"
    output_kind = "any"

    def process(self, packet: Any, port: str) -> list[Any]:
        return [packet]


@register
class CountSink(Sink):
    """Count packets and items; ``delay_ms`` makes it a deliberately slow consumer."""

    type_name = "core.count"
    input_kind = "any"
    params = {"delay_ms": Param(float, 0.0, doc="time to spend on each packet, ms (simulates a slow sink)")}

    def start(self) -> None:
        self.packets = 0
        self.items = 0
        self.seqs: list[int] = []

    def consume(self, packet: Any, port: str) -> None:
        self.packets += 1
        self.items += len(packet)
        self.seqs.append(packet.seq)
        if self.delay_ms > 0:
            time.sleep(self.delay_ms / 1e3)

    def stats_extra(self) -> dict[str, Any]:
        return {"counted_packets": getattr(self, "packets", 0), "counted_items": getattr(self, "items", 0)}


@register
class MonitorSink(Sink):
    """Print a live line of stream statistics every ``every_s`` seconds (stderr by default)."""

    type_name = "core.monitor"
    input_kind = "any"
    params = {
        "every_s": Param(float, 1.0, doc="seconds between two printed lines"),
        "stream": Param(str, "stderr", doc="where to print", choices=("stderr", "stdout")),
    }

    def start(self) -> None:
        self._out = sys.stderr if self.stream == "stderr" else sys.stdout
        self._t0 = self._last = time.perf_counter()
        self.packets = self.items = 0
        self._items_last = 0
        self._t_us: int | None = None
        self._unit = "items"

    def consume(self, packet: Any, port: str) -> None:
        self._unit = packet.kind
        self.packets += 1
        self.items += len(packet)
        t_end = packet.t_end
        self._t_us = int(t_end if np.isscalar(t_end) else (t_end[-1] if len(t_end) else self._t_us or 0))
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._print(now)

    def _print(self, now: float) -> None:
        rate = (self.items - self._items_last) / max(now - self._last, 1e-9)
        print(f"[{now - self._t0:7.2f} s] {self.name}: {self.packets} packets, {self.items} {self._unit} "
              f"({rate:,.0f}/s), stream time {(self._t_us or 0) / 1e6:.3f} s", file=self._out, flush=True)
        self._last, self._items_last = now, self.items

    def close(self) -> None:
        if hasattr(self, "_out"):
            self._print(time.perf_counter())
