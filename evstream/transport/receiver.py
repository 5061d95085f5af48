"""Receive packets over ZeroMQ: SUB (one copy of a published stream) or PULL (a share of the work).

Every message is decoded by :func:`evstream.transport.wire.decode`; messages
that fail (malformed, oversize, unknown version) are dropped and counted in
``rejected``, never raised. Accepted messages feed a
:class:`~evstream.transport.sequence.SequenceTracker`, so the stats say
exactly how many packets never arrived.

With ``conflate=True`` (live views) each :meth:`Receiver.recv` returns only
the newest packet waiting in the queue; the older ones are counted in
``conflated`` (ZeroMQ's own ``CONFLATE`` option cannot carry multipart
messages, so it is done here). With several PULL receivers on one PUSH, each
receiver's ``gaps`` include the packets handed to the others, and only one of
them gets the end-of-stream message.

Opening a receiver tunes the C allocator of the process once
(:func:`keep_freed_buffers`): libzmq mallocs every large incoming message,
and with glibc's default thresholds a freed 1.6 MB buffer often goes back to
the kernel, so the next message page-faults all of its pages in again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import zmq

from evstream.allocator import keep_freed_buffers
from evstream.transport.sequence import SequenceTracker
from evstream.transport.sockets import Endpoint, SocketConfig, TransportError
from evstream.transport.wire import REJECT_REASONS, Message, WireError, decode, topic

__all__ = ["DEFAULT_MAX_BYTES", "RECEIVE_MODES", "Receiver", "keep_freed_buffers"]

log = logging.getLogger(__name__)

RECEIVE_MODES: tuple[str, ...] = ("sub", "pull")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Default cap on one message (all frames together), bytes."""


class Receiver(Endpoint):
    """A SUB or PULL socket that yields decoded messages.

    Args:
        config: address, bind (default for receivers: connect), hwm, CURVE keys.
        mode: ``"sub"`` or ``"pull"``.
        streams: stream names to accept (empty: all streams).
        conflate: keep only the newest waiting packet (see the module docstring).
        max_bytes: messages larger than this (bytes, all frames) are rejected.
    """

    def __init__(self, config: SocketConfig, *, mode: str = "sub", streams: Sequence[str] = (),
                 conflate: bool = False, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if mode not in RECEIVE_MODES:
            raise TransportError(f"receiver mode must be one of {', '.join(RECEIVE_MODES)} (got {mode!r})")
        if max_bytes < 1:
            raise TransportError(f"max_bytes must be positive (got {max_bytes})")
        super().__init__(config)
        self.socket_kind = zmq.SUB if mode == "sub" else zmq.PULL
        self.mode = mode
        self.streams = frozenset(streams)
        self.conflate = conflate
        self.max_bytes = max_bytes
        self.tracker = SequenceTracker()
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)
        self.conflated = 0
        self.other_streams = 0
        self.bytes = 0
        self._pending: Message | None = None
        self._timeout_ms = -1
        """The receive timeout set on the socket (ms; -1: ZeroMQ's default, wait forever)."""

    def open(self) -> None:
        """Tune the allocator for large messages (:func:`keep_freed_buffers`), then bind or connect."""
        keep_freed_buffers()
        if self.sock is None:
            self._timeout_ms = -1
        super().open()

    def configure(self, sock: zmq.Socket) -> None:
        if self.mode == "sub":
            for name in sorted(self.streams) or [None]:
                sock.subscribe(b"" if name is None else topic(name))

    def _accept(self, frames: list[Any]) -> Message | None:
        """Decode and account one raw message; ``None`` when it is rejected or not wanted."""
        try:
            msg = decode(frames, self.max_bytes)
        except WireError as exc:
            self.rejected[exc.reason] += 1
            log.debug("rejected %s", exc)
            return None
        if self.streams and msg.stream not in self.streams:
            self.other_streams += 1
            return None
        self.bytes += msg.nbytes
        if msg.kind == "eos":
            self.tracker.end(msg.stream, msg.session, msg.seq)
        elif not self.tracker.packet(msg.stream, msg.session, msg.seq):
            return None
        return msg

    def _next(self, timeout_ms: int) -> list[Any] | None:
        """The next raw message, waiting up to ``timeout_ms`` ms.

        A blocking receive with the socket's receive timeout: no poller object
        and no failed non-blocking attempt per message (about 30 µs less
        latency than polling first).
        """
        if timeout_ms != self._timeout_ms:
            self.sock.rcvtimeo = timeout_ms
            self._timeout_ms = timeout_ms
        try:
            return self.sock.recv_multipart(copy=False)
        except zmq.Again:
            return None

    def _read_waiting(self) -> Message | None:
        """The next accepted message already queued, or ``None``."""
        try:
            return self._accept(self.sock.recv_multipart(zmq.NOBLOCK, copy=False))
        except zmq.Again:
            return None

    def recv(self, timeout_ms: int = 100) -> Message | None:
        """The next accepted message (data or ``eos``), or ``None`` after ``timeout_ms`` ms.

        Rejected messages are counted and skipped; a call may return ``None``
        early when only rejected messages arrived.
        """
        if self.sock is None:
            self.open()
        if self._pending is not None:
            msg, self._pending = self._pending, None
            return msg
        raw = self._next(timeout_ms)
        if raw is None:
            return None
        msg = self._accept(raw)
        while self.conflate and msg is not None and msg.kind != "eos":
            newer = self._read_waiting()
            if newer is None:
                break
            if newer.kind == "eos":
                self._pending = newer
                break
            self.conflated += 1
            msg = newer
        return msg

    def stats(self) -> dict[str, Any]:
        """Counters: sequence-tracker totals, ``rejected`` per reason, ``conflated``, ``bytes``, per-stream detail."""
        return {**self.tracker.totals(), "rejected": dict(self.rejected), "conflated": self.conflated,
                "other_streams": self.other_streams, "bytes": self.bytes, "streams": self.tracker.as_dict()}
