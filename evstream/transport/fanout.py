"""Inference fan-out: frames of many streams to N network workers, results merged back in order.

Three parties, each its own process (or graph)::

    dispatcher  ROUTER (bind `address`)  <-->  DEALER  worker 1..N  PUSH  -->  PULL (bind `results`)  merge
                  |                                                                 ^
                  +-------------------- PUSH: lost notices, end of run -------------+

Design: pinning by routing, not by round robin. A plain PUSH hands each
message to the next peer, which would split one stream's frames among
workers and break the per-stream network state. Here every worker connects a
DEALER socket whose routing id is its unique name; the dispatcher's ROUTER
sends each frame packet to the one worker its stream is pinned to.

* Registration and heartbeats: a worker says ``hello`` when it starts and
  again every ``heartbeat_s`` while idle; every message from a worker (hello,
  ack) counts as a sign of life. The first hello from an unknown worker
  registers it; the dispatcher answers ``welcome`` with the merge address.
* Pinning: a stream is pinned at its first frame to the live worker holding
  the fewest streams (earliest joined on a tie), so a worker that joins takes
  the next new streams. Pinned streams are never moved while their worker
  lives (moving would reset their state).
* Flow control: each worker has at most ``window`` packets in flight
  (sent, not yet acknowledged); :meth:`Dispatcher.send` waits for an ack
  before exceeding it. A worker acknowledges a packet after it has pushed
  the packet's result to the merge.
* Leaving: a worker leaves with a ``bye`` (clean exit), or is declared gone
  when it is silent for ``timeout_s`` or when the ROUTER finds its connection
  closed (``unreachable``). Its streams are pinned again (least-loaded rule)
  and the new worker is told to ``reset`` them first: their state starts
  afresh there, counted in ``reassigned``. The packets the leaver had in
  flight are re-sent to the new worker (``on_lost = "resend"``, counted in
  ``resent``) or declared lost to the merge (``on_lost = "drop"``, counted
  in ``lost``). With no worker left, they are lost in both modes. Workers
  are only checked while the dispatcher sends or closes.
* Failure: a worker that cannot run a packet (a user error such as frames
  that do not match the checkpoint's geometry) sends ``fail`` with its
  message and exits; the next :meth:`Dispatcher.send` raises it.
* End: :meth:`Dispatcher.close` waits (up to ``drain_timeout_s``) for every
  packet in flight to be acknowledged, declares what is still missing lost,
  then tells the merge how many packets each stream had and the workers that
  the run is over.

Sequence numbers: the dispatcher numbers each stream's packets 0, 1, 2, ...
(the wire header's ``seq``; the producer's own number travels as ``pseq``),
so the merge (:mod:`.fanout_merge`) can put results back in order and knows
exactly which are missing. Frames and results use the evstream wire format
(:mod:`.wire`, zero-copy arrays, never pickled); control messages are one op
frame and a small JSON object.

Invariant after :meth:`Dispatcher.close`: per stream ``packets == acked + lost``
at the dispatcher, and ``delivered + lost == packets`` at the merge.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import zmq

from evstream.transport.sockets import Endpoint, SocketConfig, TransportError, check_address, open_socket
from evstream.transport.wire import encode

__all__ = ["ON_LOST", "Dispatcher", "control", "parse_control"]

ON_LOST: tuple[str, ...] = ("resend", "drop")
"""What happens to the packets a leaving worker had in flight (see the module docstring)."""

# Operation frames of the protocol.
HELLO, ACK, BYE, FAIL = b"hello", b"ack", b"bye", b"fail"  # worker -> dispatcher
WELCOME, FRAMES, RESET, END = b"welcome", b"frames", b"reset", b"end"  # dispatcher -> worker
RESULT, LOST = b"result", b"lost"                      # -> merge (END too)
_MAX_CONTROL_BYTES = 1 << 20
_POLL_MS = 10


def control(op: bytes, **fields: Any) -> list[bytes]:
    """A control message: the op frame and a compact JSON object of ``fields``."""
    return [op, json.dumps(fields, separators=(",", ":")).encode()]


def parse_control(frames: list[Any]) -> dict[str, Any] | None:
    """The JSON object of a control message, or ``None`` when it is not one (counted as rejected by callers)."""
    if len(frames) != 2:
        return None
    raw = frames[1].bytes if hasattr(frames[1], "bytes") else bytes(frames[1])
    if len(raw) > _MAX_CONTROL_BYTES:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@dataclass
class _Worker:
    """What the dispatcher knows of one registered worker."""

    ident: bytes
    joined: int
    last_seen: float
    streams: set[str] = field(default_factory=set)
    inflight: deque = field(default_factory=deque)
    """``(stream, seq, packet)`` sent and not yet acknowledged, in send order."""


class Dispatcher(Endpoint):
    """Send frame packets of named streams to the worker each stream is pinned to.

    Args:
        config: the ROUTER address workers connect to (bound: ``bind=True``).
        results: address of the merge's PULL socket; workers push results there
            and the dispatcher sends its lost notices and end message there.
        window: most packets in flight per worker (sent, not yet acknowledged).
        timeout_s: a worker silent for this long (s) is declared gone.
        on_lost: ``"resend"`` or ``"drop"``: fate of a leaver's packets in flight.
        min_workers: the first :meth:`send` waits until this many workers joined.
        wait_timeout_s: how long to wait for a worker (at start, or when none is left), s.
        drain_timeout_s: how long :meth:`close` waits for outstanding acks, s.
    """

    def __init__(self, config: SocketConfig, results: str, *, window: int = 8, timeout_s: float = 2.0,
                 on_lost: str = "resend", min_workers: int = 1, wait_timeout_s: float = 30.0,
                 drain_timeout_s: float = 30.0) -> None:
        if on_lost not in ON_LOST:
            raise TransportError(f"on_lost must be one of {', '.join(ON_LOST)} (got {on_lost!r})")
        if window < 1 or min_workers < 1:
            raise TransportError(f"window and min_workers must be at least 1 (got {window}, {min_workers})")
        check_address(results, bind=False, public=False)
        super().__init__(config)
        self.socket_kind = zmq.ROUTER
        self.results = results
        self.window = window
        self.timeout_s = timeout_s
        self.on_lost = on_lost
        self.min_workers = min_workers
        self.wait_timeout_s = wait_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.session = os.urandom(8).hex()
        self.workers: dict[bytes, _Worker] = {}
        self.pinned: dict[str, bytes] = {}
        self.packets: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.lost: dict[str, int] = {}
        self.counts = dict.fromkeys(("joined", "left_bye", "left_timeout", "left_unreachable", "reassigned",
                                     "resent", "rejected", "frames"), 0)
        self._joins = 0
        self._merge: zmq.Socket | None = None
        self._started = False
        self.failure: str | None = None

    def configure(self, sock: zmq.Socket) -> None:
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)

    def open(self) -> None:
        """Bind the ROUTER and connect to the merge."""
        super().open()
        if self._merge is None:
            self._merge, _ = open_socket(self._ctx, zmq.PUSH, SocketConfig(
                self.results, bind=False, hwm=self.config.hwm, linger_ms=self.config.linger_ms))

    # -- worker messages -------------------------------------------------------------
    def _poll(self, timeout_ms: int) -> None:
        """Handle every waiting worker message (waiting up to ``timeout_ms`` for one), then check timeouts."""
        if self.sock.poll(timeout_ms, zmq.POLLIN):
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._handle(frames[0].bytes, frames[1:])
        now = time.monotonic()
        for worker in [w for w in self.workers.values() if now - w.last_seen > self.timeout_s]:
            self._leave(worker, "left_timeout")

    def _handle(self, ident: bytes, frames: list[Any]) -> None:
        body = parse_control(frames)
        op = frames[0].bytes if frames else b""
        if body is None or op not in (HELLO, ACK, BYE, FAIL):
            self.counts["rejected"] += 1
            return
        worker = self.workers.get(ident)
        if worker is None:
            if op != HELLO:  # a late message from a worker already declared gone
                return
            worker = self.workers[ident] = _Worker(ident, self._joins, time.monotonic())
            self._joins += 1
            self.counts["joined"] += 1
            self._send(worker, control(WELCOME, results=self.results, session=self.session))
            return
        worker.last_seen = time.monotonic()
        if op == ACK:
            self._ack(worker, body)
        elif op == BYE:
            self._leave(worker, "left_bye")
        elif op == FAIL and self.failure is None:
            self.failure = f"fan-out worker {ident.decode(errors='replace')}: {str(body.get('error'))[:500]}"

    def _ack(self, worker: _Worker, body: dict[str, Any]) -> None:
        if not worker.inflight:
            self.counts["rejected"] += 1
            return
        stream, seq, _ = worker.inflight[0]
        if (body.get("stream"), body.get("seq")) != (stream, seq):  # acks come in send order
            self.counts["rejected"] += 1
            return
        worker.inflight.popleft()
        self.acked[stream] += 1

    def _send(self, worker: _Worker, frames: list[Any]) -> bool:
        """Send ``frames`` to ``worker``; ``False`` (and the worker leaves) when its connection is gone."""
        try:
            self.sock.send_multipart([worker.ident, *frames], copy=False)
            return True
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self._leave(worker, "left_unreachable")
            return False

    # -- pinning ---------------------------------------------------------------------
    def _pick(self) -> _Worker | None:
        """The live worker with the fewest streams (earliest joined on a tie), waiting for one if none."""
        deadline = time.monotonic() + self.wait_timeout_s
        while not self.workers and time.monotonic() < deadline:
            self._poll(_POLL_MS)
        if not self.workers:
            return None
        return min(self.workers.values(), key=lambda w: (len(w.streams), w.joined))

    def _pin(self, stream: str, reset: bool) -> _Worker | None:
        worker = self._pick()
        if worker is None:
            return None
        if reset and not self._send(worker, [RESET, stream.encode()]):
            return self._pin(stream, reset)
        worker.streams.add(stream)
        self.pinned[stream] = worker.ident
        return worker

    def _leave(self, worker: _Worker, reason: str) -> None:
        """Forget ``worker``; pin its streams elsewhere and re-send or declare lost its packets in flight."""
        if self.workers.pop(worker.ident, None) is None:
            return
        self.counts[reason] += 1
        for stream in sorted(worker.streams):
            del self.pinned[stream]
        orphans = list(worker.inflight)
        worker.inflight.clear()
        for stream in sorted(worker.streams):
            self.counts["reassigned"] += 1
            pending = [(seq, packet) for s, seq, packet in orphans if s == stream]
            target = self._pin(stream, reset=True) if self.on_lost == "resend" and pending else None
            if target is None:
                self._declare_lost(stream, [seq for seq, _ in pending])
                continue
            for seq, packet in pending:
                self._transmit(target, stream, seq, packet)
                self.counts["resent"] += 1

    def _declare_lost(self, stream: str, seqs: list[int]) -> None:
        if seqs:
            self.lost[stream] += len(seqs)
            self._merge.send_multipart(control(LOST, stream=stream, seqs=seqs, session=self.session))

    # -- sending ---------------------------------------------------------------------
    def _transmit(self, worker: _Worker, stream: str, seq: int, packet: Any) -> None:
        frames = encode(packet, stream, self.session, seq, time.time_ns())
        worker.inflight.append((stream, seq, packet))
        self._send(worker, [FRAMES, *frames])  # a failure moves it on with the worker's other packets

    def send(self, stream: str, packet: Any) -> None:
        """Send one frame packet of ``stream`` to its worker (waits while that worker's window is full).

        Raises :class:`TransportError` when no worker joins within ``wait_timeout_s``, or
        with a worker's own message when it failed on a packet (e.g. frames of the wrong geometry).
        The packet is kept (not copied) until its worker acknowledges it: do not modify it.
        """
        if self.sock is None:
            self.open()
        if not self._started:
            deadline = time.monotonic() + self.wait_timeout_s
            while len(self.workers) < self.min_workers and time.monotonic() < deadline:
                self._poll(_POLL_MS)
            self._started = True
        self._poll(0)
        seq = self.packets.setdefault(stream, 0)
        self.acked.setdefault(stream, 0)
        self.lost.setdefault(stream, 0)
        while True:
            if self.failure is not None:
                raise TransportError(self.failure)
            ident = self.pinned.get(stream)
            worker = self.workers[ident] if ident is not None else self._pin(stream, reset=seq > 0)
            if worker is None:
                raise TransportError(f"fan-out {self.config.address}: no worker joined within "
                                     f"{self.wait_timeout_s} s; start workers (nodes/fanout-worker.toml)")
            if len(worker.inflight) < self.window:
                break
            self._poll(_POLL_MS)
        self.packets[stream] = seq + 1
        self.counts["frames"] += len(packet)
        self._transmit(worker, stream, seq, packet)

    def in_flight(self) -> int:
        """Packets sent and not yet acknowledged, all workers together."""
        return sum(len(w.inflight) for w in self.workers.values())

    def close(self) -> None:
        """Wait for outstanding acks, declare the rest lost, send the end of run, close."""
        if self.sock is not None:
            deadline = time.monotonic() + self.drain_timeout_s
            while self.in_flight() and time.monotonic() < deadline:
                self._poll(_POLL_MS)
            for worker in list(self.workers.values()):
                by_stream: dict[str, list[int]] = {}
                for stream, seq, _ in worker.inflight:
                    by_stream.setdefault(stream, []).append(seq)
                worker.inflight.clear()
                for stream, seqs in by_stream.items():
                    self._declare_lost(stream, seqs)
                self._send(worker, control(END, session=self.session))
            self._merge.send_multipart(control(END, session=self.session, streams=self.packets))
            self._merge.close()
            self._merge = None
        super().close()

    def stats(self) -> dict[str, Any]:
        """Counters: workers now, joins and leaves by reason, reassigned streams, resent and lost packets."""
        return {"workers": len(self.workers), "streams": len(self.packets), "packets": sum(self.packets.values()),
                "acked": sum(self.acked.values()), "lost": sum(self.lost.values()), **self.counts,
                "per_stream": {s: {"packets": n, "acked": self.acked[s], "lost": self.lost[s],
                                   "worker": self.pinned.get(s, b"").decode(errors="replace")}
                               for s, n in self.packets.items()}}
