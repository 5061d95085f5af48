"""Bounded edges between nodes and the inbox that merges a node's input edges.

Each edge is a bounded FIFO with a backpressure policy:

* ``block``: a producer waits while the edge is full. Lossless; for files and
  training, where the slowest node sets the pace.
* ``drop-oldest``: a full edge drops its oldest packet to make room. For live
  sources and viewers, where fresh data matters more than old data. Every drop
  is counted on the edge (``dropped``), so ``produced = delivered + dropped``.

End-of-stream markers are never dropped and never wait for room.
All edges into one node share that node's :class:`Inbox` lock, so the node
waits on one condition for whichever input has data.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

__all__ = ["END", "POLICIES", "Edge", "Inbox"]

POLICIES: tuple[str, ...] = ("block", "drop-oldest")


class _End:
    """The end-of-stream marker sent once by every node on each of its output edges."""

    def __repr__(self) -> str:
        return "END"


END = _End()


class Edge:
    """A bounded queue from ``source`` to input ``port`` of ``target``, holding ``(packet, t_enqueued_ns)``."""

    def __init__(self, source: str, target: str, port: str, capacity: int, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"edge policy must be one of {POLICIES} (got {policy!r})")
        if capacity < 1:
            raise ValueError(f"edge queue capacity must be >= 1 packet (got {capacity})")
        self.source = source
        self.target = target
        self.port = port
        self.capacity = capacity
        self.policy = policy
        self.items: deque[tuple[Any, int]] = deque()
        self.inbox: Inbox | None = None
        self.sent = 0
        self.delivered = 0
        self.dropped = 0
        self.max_depth = 0

    def stats(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "port": self.port, "policy": self.policy,
                "capacity": self.capacity, "sent": self.sent, "delivered": self.delivered,
                "dropped": self.dropped, "max_depth": self.max_depth, "depth": len(self.items)}


class Inbox:
    """The input side of one node: its incoming edges behind one lock and condition."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self.cond = threading.Condition(lock)          # the consumer waits here for data
        self.not_full = threading.Condition(lock)      # producers on full `block` edges wait here
        self.edges: list[Edge] = []
        self.closed = False
        self._next = 0

    def attach(self, edge: Edge) -> None:
        edge.inbox = self
        self.edges.append(edge)

    def put(self, edge: Edge, item: Any) -> bool:
        """Enqueue ``item`` on ``edge`` following its policy; ``False`` if the inbox was closed."""
        with self.cond:
            if item is not END:
                while edge.policy == "block" and len(edge.items) >= edge.capacity and not self.closed:
                    self.not_full.wait(0.05)
                if self.closed:
                    return False
                if len(edge.items) >= edge.capacity:
                    self._drop_oldest(edge)
                edge.sent += 1
                edge.max_depth = max(edge.max_depth, len(edge.items) + 1)
            edge.items.append((item, time.perf_counter_ns()))
            self.cond.notify()
            return True

    @staticmethod
    def _drop_oldest(edge: Edge) -> None:
        for i, (queued, _) in enumerate(edge.items):
            if queued is not END:
                del edge.items[i]
                edge.dropped += 1
                return

    def get(self, timeout: float = 0.05) -> tuple[Edge, Any, int] | None:
        """The next ``(edge, item, t_enqueued_ns)``, edges served round-robin; ``None`` once closed.

        Waits while every edge is empty, waking every ``timeout`` s to notice a close.
        """
        with self.cond:
            while True:
                n = len(self.edges)
                for k in range(n):
                    edge = self.edges[(self._next + k) % n]
                    if edge.items:
                        self._next = (self._next + k + 1) % n
                        item, t_ns = edge.items.popleft()
                        if item is not END:
                            edge.delivered += 1
                        if edge.policy == "block":
                            self.not_full.notify_all()
                        return edge, item, t_ns
                if self.closed:
                    return None
                self.cond.wait(timeout)

    def depth(self) -> int:
        return sum(len(e.items) for e in self.edges)

    def close(self) -> None:
        """Wake every waiting producer and the consumer; later puts are refused."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()
            self.not_full.notify_all()
