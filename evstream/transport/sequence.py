"""Exact loss accounting from per-session sequence numbers.

A sender numbers the packets of one run (a *session*) 0, 1, 2, ...; it also
numbers the packets it drops itself, so every loss shows as a hole. A
receiver feeds every accepted message to :class:`SequenceTracker`, which keeps
for each stream:

* ``received``: data packets accepted;
* ``gaps``: packets of a session that never arrived, counted from the first
  packet of the session this receiver saw (HWM drops, reconnects, a sender
  that restarted before the receiver caught its first packets, and, once the
  end-of-stream message arrives, packets lost at the tail);
* ``joined_at``: sequence number of the first packet seen of the first session
  (the packets a receiver missed because it joined mid-stream);
* ``restarts``: how many new sender sessions appeared after the first;
* ``out_of_order``: duplicates or packets older than one already seen (never
  produced by ZeroMQ, which keeps order per connection; counted, not delivered).

Invariant once a session's end-of-stream message has arrived:
``received + gaps + joined_at == sent`` summed over its sessions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["SequenceTracker", "StreamCounts"]


@dataclass
class StreamCounts:
    """Counters of one stream (see the module docstring)."""

    received: int = 0
    gaps: int = 0
    joined_at: int = 0
    restarts: int = 0
    out_of_order: int = 0
    sent: int | None = None
    """Packets the current session reported sending in its end-of-stream message."""

    def lost(self) -> int:
        """Packets the receiver knows it did not get: ``gaps + joined_at``."""
        return self.gaps + self.joined_at


class SequenceTracker:
    """Counts received packets and holes per stream from ``(session, seq)`` pairs."""

    def __init__(self) -> None:
        self._counts: dict[str, StreamCounts] = {}
        self._session: dict[str, str] = {}
        self._next: dict[str, int] = {}

    def _enter(self, stream: str, session: str, seq: int) -> StreamCounts:
        """Counters of ``stream``, switching to ``session`` (whose first seen packet is ``seq``)."""
        counts = self._counts.get(stream)
        if counts is None:
            counts = self._counts[stream] = StreamCounts(joined_at=seq)
        elif self._session[stream] != session:
            counts.restarts += 1
            counts.gaps += seq
            counts.sent = None
        else:
            return counts
        self._session[stream] = session
        self._next[stream] = seq
        return counts

    def packet(self, stream: str, session: str, seq: int) -> bool:
        """Account one data packet; ``False`` when it is a duplicate or older than one already seen."""
        counts = self._enter(stream, session, seq)
        expected = self._next[stream]
        if seq < expected:
            counts.out_of_order += 1
            return False
        counts.gaps += seq - expected
        counts.received += 1
        self._next[stream] = seq + 1
        return True

    def end(self, stream: str, session: str, sent: int) -> None:
        """Account the end-of-stream message of a session that sent ``sent`` packets."""
        counts = self._enter(stream, session, sent)
        counts.gaps += max(0, sent - self._next[stream])
        self._next[stream] = max(sent, self._next[stream])
        counts.sent = sent

    def streams(self) -> dict[str, StreamCounts]:
        """Counters per stream name (live objects; do not modify)."""
        return self._counts

    def totals(self) -> dict[str, int]:
        """Counters summed over streams (``sent`` left out)."""
        keys = ("received", "gaps", "joined_at", "restarts", "out_of_order")
        return {k: sum(getattr(c, k) for c in self._counts.values()) for k in keys}

    def as_dict(self) -> dict[str, dict]:
        """Per-stream counters as plain dicts (for stats and JSON)."""
        return {name: asdict(c) for name, c in self._counts.items()}
