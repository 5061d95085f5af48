"""Accounting of an ``evstream bench soak`` run: where every packet went, latency, memory over time.

The soak pipeline is one chain of nodes in the sending process, a ZeroMQ hop,
and a receiver -> sink chain in the receiving process. Every hop is balanced
from independent counters:

* a graph edge ``A -> B``: packets ``A`` produced = delivered to ``B`` +
  dropped by the edge's drop-oldest policy + still queued;
* the ZeroMQ hop: packets the sender numbered (sent + dropped on a full peer,
  ``hwm_dropped``) = received + sequence gaps + packets missed before joining;
  losses in transit are the gaps that the sender did not count itself;
* a node: packets delivered on its input edges = packets it processed.

``unexplained`` is what a hop cannot account for; it must be 0. Filters
removing events are not drops (packets still flow, only fuller or emptier).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Sample", "cpu_cores", "hop_ledger", "latency_series", "rss_growth_pct"]


@dataclass(frozen=True)
class Sample:
    """One point of the time series: ``t_s`` seconds since the start, resident memory (MB) and CPU time
    used so far (s) of both processes, and the sending graph's running totals."""

    t_s: float
    rss_send_mb: float
    rss_recv_mb: float
    cpu_send_s: float
    cpu_recv_s: float
    events_in: int
    frames_out: int
    drops: int


def _edge_hops(stats: dict[str, Any], side: str) -> list[dict[str, Any]]:
    """Ledger rows of every edge (and of the node it feeds) of one graph's stats."""
    rows = []
    for name, node in stats["nodes"].items():
        delivered_total = 0
        for edge in node["inputs"]:
            produced = stats["nodes"][edge["from"]]["packets_out"]
            delivered_total += edge["delivered"]
            rows.append({"hop": f"{side}: {edge['from']} -> {edge['to']}", "counter": f"edge {edge['policy']}",
                         "produced": produced, "delivered": edge["delivered"], "dropped": edge["dropped"],
                         "queued": edge["depth"],
                         "unexplained": produced - edge["delivered"] - edge["dropped"] - edge["depth"]})
        if node["inputs"]:
            rows.append({"hop": f"{side}: {name} (node)", "counter": "runtime", "produced": delivered_total,
                         "delivered": node["packets_in"], "dropped": 0, "queued": 0,
                         "unexplained": delivered_total - node["packets_in"]})
    return rows


def _wire_hop(sender: dict[str, Any], receiver: dict[str, Any], hop: str) -> list[dict[str, Any]]:
    """Ledger rows of the ZeroMQ hop: sender's own drops, losses in transit, receiver node."""
    numbered = sender["sent"] + sender["hwm_dropped"]
    missing = receiver["gaps"] + receiver["joined_at"]
    transit = max(0, missing - sender["hwm_dropped"])
    accepted = receiver["received"] - receiver["wrong_kind"]
    return [
        {"hop": f"{hop} (sender)", "counter": "zmq hwm_dropped", "produced": sender["packets_in"],
         "delivered": sender["sent"], "dropped": sender["hwm_dropped"], "queued": 0,
         "unexplained": sender["packets_in"] - sender["sent"] - sender["hwm_dropped"]},
        {"hop": f"{hop} (wire)", "counter": "zmq sequence gaps", "produced": sender["sent"],
         "delivered": receiver["received"], "dropped": transit, "queued": 0,
         "unexplained": numbered - receiver["received"] - missing},
        {"hop": f"{hop} (receiver)", "counter": "wrong kind", "produced": receiver["received"],
         "delivered": receiver["packets_out"], "dropped": receiver["wrong_kind"], "queued": 0,
         "unexplained": accepted - receiver["packets_out"]},
    ]


def hop_ledger(send_stats: dict[str, Any], recv_stats: dict[str, Any], sender: str,
               receiver: str) -> list[dict[str, Any]]:
    """Every hop from the camera to the sink, each balanced (see the module docstring).

    Args:
        send_stats: :meth:`Graph.run` result of the sending process.
        recv_stats: the same of the receiving process.
        sender: name of the ``transport.send`` node; receiver: of the ``transport.receive`` node.
    """
    wire = _wire_hop(send_stats["nodes"][sender], recv_stats["nodes"][receiver], f"zmq: {sender} -> {receiver}")
    return _edge_hops(send_stats, "send") + wire + _edge_hops(recv_stats, "receive")


def latency_series(t_end_us: np.ndarray, arrival_s: np.ndarray, due: Callable[[int], float],
                   t0_s: float, edges_s: Sequence[float]) -> tuple[np.ndarray, list[dict[str, float | None]]]:
    """Per-frame latency (ms) from window end to arrival at the sink, and its p50/p99/max per interval.

    Args:
        t_end_us: window end of each frame, stream µs.
        arrival_s: arrival of each frame at the sink, ``time.perf_counter`` s.
        due: the camera pacer's map from stream µs to ``perf_counter`` s.
        t0_s: start of the run on ``perf_counter``; ``edges_s`` interval ends, s after ``t0_s``.

    Returns:
        ``(latency_ms per frame, [{"p50_ms", "p99_ms", "max_ms", "interval_frames"} per interval])``.
    """
    window_end = np.fromiter((due(int(t)) for t in t_end_us), dtype=np.float64, count=len(t_end_us))
    latency_ms = (arrival_s - window_end) * 1e3
    at = arrival_s - t0_s
    out = []
    start = -np.inf
    for end in edges_s:
        chunk = latency_ms[(at > start) & (at <= end)]
        start = end
        if len(chunk):
            p50, p99 = np.percentile(chunk, [50, 99])
            out.append({"p50_ms": float(p50), "p99_ms": float(p99), "max_ms": float(chunk.max()),
                        "interval_frames": len(chunk)})
        else:
            out.append({"p50_ms": None, "p99_ms": None, "max_ms": None, "interval_frames": 0})
    return latency_ms, out


def _after_warmup(samples: Sequence[Sample], warmup_s: float) -> list[Sample] | None:
    after = [s for s in samples if s.t_s >= warmup_s]
    return after if len(after) >= 2 else None


def rss_growth_pct(samples: Sequence[Sample], side: str, warmup_s: float) -> float | None:
    """Resident memory growth of process ``side`` (``"send"`` or ``"recv"``) after the warm-up, %.

    The median RSS of the last third of the samples past ``warmup_s`` over that
    of the first third: a trend, not the allocator's saw-tooth (a few % up and
    down as buffers are freed and reused). ``None`` with fewer than two samples
    past the warm-up (a run shorter than it).
    """
    after = _after_warmup(samples, warmup_s)
    if after is None:
        return None
    rss = [getattr(s, f"rss_{side}_mb") for s in after]
    third = max(1, len(rss) // 3)
    first, last = float(np.median(rss[:third])), float(np.median(rss[-third:]))
    return 100.0 * (last - first) / first


def cpu_cores(samples: Sequence[Sample], side: str, warmup_s: float) -> float | None:
    """CPU time of process ``side`` (``"send"`` or ``"recv"``) per wall second after the warm-up, in cores."""
    after = _after_warmup(samples, warmup_s)
    if after is None:
        return None
    used = getattr(after[-1], f"cpu_{side}_s") - getattr(after[0], f"cpu_{side}_s")
    return used / (after[-1].t_s - after[0].t_s)
