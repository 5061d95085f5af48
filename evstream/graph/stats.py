"""Per-node counters: packets, events, rates, latency percentiles, queue depth, drops."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["LatencyReservoir", "NodeStats", "format_stats"]


class LatencyReservoir:
    """The last ``size`` latency samples in µs (constant memory), for p50/p99."""

    def __init__(self, size: int = 8192) -> None:
        self._buf = np.zeros(size, dtype=np.float64)
        self._n = 0

    def add(self, value_us: float) -> None:
        self._buf[self._n % len(self._buf)] = value_us
        self._n += 1

    def percentiles(self) -> dict[str, float | None]:
        filled = self._buf[: min(self._n, len(self._buf))]
        if not len(filled):
            return {"p50_us": None, "p99_us": None, "max_us": None}
        p50, p99 = np.percentile(filled, [50, 99])
        return {"p50_us": round(float(p50), 1), "p99_us": round(float(p99), 1),
                "max_us": round(float(filled.max()), 1)}


class NodeStats:
    """Counters of one node, written by the node's own thread only.

    ``latency`` is, per input packet, the time from its enqueueing on the
    node's input edge to the end of its processing (queue wait + work), µs.
    """

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type_name = type_name
        self.packets_in = 0
        self.packets_out = 0
        self.items_in = 0
        self.items_out = 0
        self.busy_ns = 0
        self.t_first_ns: int | None = None
        self.t_last_ns: int | None = None
        self.latency = LatencyReservoir()
        self.error: str | None = None

    def mark(self) -> None:
        now = time.perf_counter_ns()
        if self.t_first_ns is None:
            self.t_first_ns = now
        self.t_last_ns = now

    def as_dict(self, inputs: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
        active_s = ((self.t_last_ns or 0) - (self.t_first_ns or 0)) / 1e9
        items = self.items_in if inputs else self.items_out
        out = {
            "type": self.type_name,
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "events_in": self.items_in,
            "events_out": self.items_out,
            "events_per_s": round(items / active_s, 1) if active_s > 0 else None,
            "busy_s": round(self.busy_ns / 1e9, 4),
            "queue_max": max((e["max_depth"] for e in inputs), default=0),
            "queue_depth": sum(e["depth"] for e in inputs),
            "dropped": sum(e["dropped"] for e in inputs),
            **self.latency.percentiles(),
            "inputs": inputs,
        }
        if self.error:
            out["error"] = self.error
        out.update(extra)
        return out


def format_stats(stats: dict[str, Any]) -> str:
    """A human-readable table of :meth:`Graph.run`'s result."""
    head = ("node", "type", "pkts in", "pkts out", "events", "Mev/s", "q max", "p50 µs", "p99 µs", "dropped")
    rows = []
    for name, s in stats["nodes"].items():
        rate = s["events_per_s"]
        events = s["events_in"] if s["inputs"] else s["events_out"]
        rows.append((name, s["type"], s["packets_in"], s["packets_out"], events,
                     "-" if rate is None else f"{rate / 1e6:.2f}", s["queue_max"],
                     "-" if s["p50_us"] is None else f"{s['p50_us']:.0f}",
                     "-" if s["p99_us"] is None else f"{s['p99_us']:.0f}", s["dropped"]))
    cells = [tuple(map(str, r)) for r in [head, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.append(f"wall time {stats['wall_s']:.2f} s" + (f", stopped: {stats['stopped']}" if stats.get("stopped") else ""))
    return "\n".join(lines)
