"""The fan-out merge: gather the workers' results and hand them out per stream in order, exactly once.

A PULL socket (bound) receives three kinds of messages (see :mod:`.fanout`):

* ``result``: a worker's result packet in the wire format; its ``seq`` is the
  dispatcher's sequence number of the frame packet within its stream;
* ``lost``: the dispatcher gave up on some packets of a stream (their worker
  left and ``on_lost = "drop"``, or no worker was left);
* ``end``: the dispatcher's run is over and had ``n`` packets per stream.

Per stream, results are held until every earlier sequence number has been
handed out or declared lost, so each stream comes out in sequence (time)
order. A result that arrives twice (a worker that was declared gone still
delivered it, and its re-sent copy came too) is handed out once: the first
copy wins, the other is counted in ``duplicates``. A result that arrives after
its packet was declared lost but before the merge reached it is handed out
and counted in ``recovered``; one that arrives after the merge skipped it is
a duplicate. Only the first dispatcher run (session) seen is merged; messages
of another run are counted in ``other_session``.

Invariant once the run is complete, per stream: ``delivered + lost == packets``
(the count in the ``end`` message), and the dispatcher's ``lost`` equals
``lost + recovered`` here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import zmq

from evstream.transport.fanout import END, LOST, RESULT, parse_control
from evstream.transport.receiver import DEFAULT_MAX_BYTES
from evstream.transport.sockets import Endpoint, SocketConfig
from evstream.transport.wire import REJECT_REASONS, WireError, decode

__all__ = ["Merger", "StreamMerge"]

_POLL_MS = 100


@dataclass
class StreamMerge:
    """Order state and counters of one stream."""

    next: int = 0
    """Sequence number of the next result to hand out."""
    delivered: int = 0
    lost: int = 0
    recovered: int = 0
    duplicates: int = 0
    waiting: dict[int, Any] = field(default_factory=dict, repr=False)
    declared_lost: set[int] = field(default_factory=set, repr=False)

    def counts(self) -> dict[str, int]:
        out = asdict(self)
        del out["waiting"], out["declared_lost"]
        return out


class Merger(Endpoint):
    """Receive fan-out results and yield them per stream in sequence order.

    Args:
        config: the address workers and the dispatcher push to (bound: ``bind=True``).
        max_bytes: result messages larger than this (bytes) are rejected.
    """

    def __init__(self, config: SocketConfig, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(config)
        self.socket_kind = zmq.PULL
        self.max_bytes = max_bytes
        self.streams: dict[str, StreamMerge] = {}
        self.expected: dict[str, int] | None = None
        self.session: str | None = None
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)
        self.other_session = 0

    def _ours(self, session: Any) -> bool:
        if self.session is None and isinstance(session, str):
            self.session = session
        if session != self.session:
            self.other_session += 1
            return False
        return True

    def _stream(self, name: str) -> StreamMerge:
        state = self.streams.get(name)
        if state is None:
            state = self.streams[name] = StreamMerge()
        return state

    def _take(self, frames: list[Any]) -> str | None:
        """Account one message; the name of the stream it may have advanced, if any."""
        op = frames[0].bytes if frames else b""
        if op == RESULT:
            try:
                msg = decode(frames[1:], self.max_bytes)
            except WireError as exc:
                self.rejected[exc.reason] += 1
                return None
            if msg.kind not in ("tensor", "labels"):
                self.rejected["malformed"] += 1
                return None
            if not self._ours(msg.session):
                return None
            state = self._stream(msg.stream)
            if msg.seq < state.next or msg.seq in state.waiting:
                state.duplicates += 1
                return None
            state.waiting[msg.seq] = msg.packet
            return msg.stream
        body = parse_control(frames)
        if body is None or op not in (LOST, END):
            self.rejected["malformed"] += 1
            return None
        if not self._ours(body.get("session")):
            return None
        if op == LOST:
            stream, seqs = body.get("stream"), body.get("seqs")
            if not isinstance(stream, str) or not isinstance(seqs, list) or not all(type(s) is int for s in seqs):
                self.rejected["malformed"] += 1
                return None
            state = self._stream(stream)
            state.recovered += sum(1 for s in seqs if s < state.next)  # handed out before the notice came
            state.declared_lost.update(s for s in seqs if s >= state.next)
            return stream
        streams = body.get("streams")
        if not isinstance(streams, dict) or not all(type(n) is int for n in streams.values()):
            self.rejected["malformed"] += 1
            return None
        self.expected = streams
        for name in streams:
            self._stream(name)
        return None

    def _ready(self, name: str) -> Iterator[Any]:
        """Hand out the results of ``name`` that are next in order, skipping packets declared lost."""
        state = self.streams[name]
        while True:
            packet = state.waiting.pop(state.next, None)
            if packet is not None:
                state.delivered += 1
                if state.next in state.declared_lost:
                    state.declared_lost.discard(state.next)
                    state.recovered += 1
            elif state.next in state.declared_lost:
                state.declared_lost.discard(state.next)
                state.lost += 1
            else:
                return
            state.next += 1
            if packet is not None:
                yield packet

    def complete(self) -> bool:
        """Whether the dispatcher's run ended and every stream reached its packet count."""
        return self.expected is not None and all(self.streams[s].next >= n for s, n in self.expected.items())

    def results(self, stop: threading.Event | None = None,
                idle_timeout_s: float = 0.0) -> Iterator[tuple[str, Any]]:
        """Yield ``(stream, result packet)`` in per-stream order until the run is complete.

        Also returns when ``stop`` is set or after ``idle_timeout_s`` s without a message (0: never).
        """
        if self.sock is None:
            self.open()
        heard = time.monotonic()
        while not self.complete() and (stop is None or not stop.is_set()):
            if not self.sock.poll(_POLL_MS, zmq.POLLIN):
                if idle_timeout_s and time.monotonic() - heard > idle_timeout_s:
                    return
                continue
            heard = time.monotonic()
            name = self._take(self.sock.recv_multipart(copy=False))
            if name is not None:
                for packet in self._ready(name):
                    yield name, packet

    def stats(self) -> dict[str, Any]:
        """Counters summed over streams, ``pending`` results held, rejects, and the per-stream detail."""
        keys = ("delivered", "lost", "recovered", "duplicates")
        totals = {k: sum(getattr(s, k) for s in self.streams.values()) for k in keys}
        return {**totals, "pending": sum(len(s.waiting) for s in self.streams.values()),
                "expected": sum(self.expected.values()) if self.expected is not None else None,
                "rejected": dict(self.rejected), "other_session": self.other_session,
                "per_stream": {name: s.counts() for name, s in self.streams.items()}}
