"""End-to-end latency of the app: when events entered the pipeline, when their label came out.

:class:`StampedSource` wraps any source node and records, for every packet it
emits, the wall-clock time (``perf_counter_ns``) against the packet's stream
end time ``t_end`` (µs) in an :class:`ArrivalLog`. A frame covering
``[a, b)`` µs can be closed only once a packet with ``t_end >= b`` arrived, so
:meth:`ArrivalLog.arrival_of` ``(b)`` is when the last events of that frame
entered: the label's latency is the time from then to the label's output.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from typing import Any

from evstream.graph.node import Source

__all__ = ["ArrivalLog", "StampedSource"]


class ArrivalLog:
    """Wall-clock arrival times of stream instants; written by one thread, read by another.

    ``keep`` bounds the memory: entries older than the last ``keep`` are dropped.
    """

    def __init__(self, keep: int = 65536) -> None:
        self._t_end: list[int] = []
        self._wall_ns: list[int] = []
        self._keep = keep
        self._lock = threading.Lock()

    def stamp(self, t_end_us: int, wall_ns: int | None = None) -> None:
        """Record that stream time ``t_end_us`` (µs) was reached at ``wall_ns`` (default: now)."""
        wall_ns = time.perf_counter_ns() if wall_ns is None else wall_ns
        with self._lock:
            if self._t_end and t_end_us < self._t_end[-1]:  # time went back (a loop, a new source): start over
                self._t_end.clear()
                self._wall_ns.clear()
            self._t_end.append(t_end_us)
            self._wall_ns.append(wall_ns)
            if len(self._t_end) > 2 * self._keep:
                del self._t_end[: self._keep]
                del self._wall_ns[: self._keep]

    def arrival_of(self, t_us: int) -> int | None:
        """``perf_counter_ns`` when stream time ``t_us`` was first reached, or ``None`` if not (yet) logged."""
        with self._lock:
            i = bisect.bisect_left(self._t_end, t_us)
            return self._wall_ns[i] if i < len(self._t_end) else None


class StampedSource(Source):
    """A source node that forwards ``inner``'s packets and logs their arrival in ``log``."""

    type_name = "gesture.stamped"

    def __init__(self, inner: Source, log: ArrivalLog) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.output_kind = inner.output_kind
        self.log = log
        self.stopping = inner.stopping  # the runtime's stop request reaches the wrapped source

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        self.inner.close()

    def generate(self) -> Iterator[Any]:
        for packet in self.inner.generate():
            self.log.stamp(int(packet.t_end))
            yield packet

    def progress(self) -> tuple[float, float] | None:
        return self.inner.progress()

    def stats_extra(self) -> dict[str, Any]:
        return self.inner.stats_extra()
