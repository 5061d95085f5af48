"""Send packets over ZeroMQ: PUB (fan-out to every subscriber) or PUSH (share work).

Each :class:`Sender` run is a *session* with a random id; it numbers its
packets 0, 1, 2, ... and ends with an end-of-stream message carrying the
count, so receivers can count every loss exactly (:mod:`.sequence`).

What happens when a peer is slower than the stream (``on_full``):

* ``"block"``: lossless. PUB waits while any subscriber's queue holds ``hwm``
  messages; PUSH waits for a free peer. A PUB with no subscriber at all
  sends into the void: use ``wait_for`` to wait for subscribers first.
* ``"drop"``: never waits. When a subscriber's queue (PUB) or every peer's
  queue (PUSH) is full, the packet is dropped for all and counted here in
  ``dropped``. Dropped packets still use up a sequence number, so receivers
  see them as gaps too. A live view that must not slow others down should
  receive with ``conflate=True``, which empties its queue as fast as it comes.

PUB runs with ZeroMQ's ``XPUB_NODROP``: ZeroMQ never drops silently, so
every loss is either counted here or (a receiver that died or has not joined
yet) shows as a hole in the receiver's sequence numbers.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from evstream.transport.sockets import Endpoint, SocketConfig, TransportError
from evstream.transport.wire import encode, encode_eos, topic

__all__ = ["SEND_MODES", "Sender"]

SEND_MODES: tuple[str, ...] = ("pub", "push")
_POLL_MS = 100


class Sender(Endpoint):
    """A PUB or PUSH socket that sends packets of one named stream.

    Args:
        config: address, bind (default for senders: bind), hwm, CURVE keys.
        mode: ``"pub"`` or ``"push"``.
        stream: stream name; receivers select streams by name.
        on_full: ``"block"`` or ``"drop"`` (see the module docstring).
        wait_for: PUB only: :meth:`open` waits until this many subscriptions
            to ``stream`` have arrived (0: do not wait).
        wait_timeout_s: how long :meth:`open` waits for them (s).
    """

    def __init__(self, config: SocketConfig, *, mode: str = "pub", stream: str = "events",
                 on_full: str = "block", wait_for: int = 0, wait_timeout_s: float = 10.0) -> None:
        if mode not in SEND_MODES:
            raise TransportError(f"sender mode must be one of {', '.join(SEND_MODES)} (got {mode!r})")
        if on_full not in ("block", "drop"):
            raise TransportError(f"on_full must be 'block' or 'drop' (got {on_full!r})")
        if wait_for and mode != "pub":
            raise TransportError("wait_for counts subscribers and needs mode 'pub'")
        super().__init__(config)
        self.socket_kind = zmq.XPUB if mode == "pub" else zmq.PUSH
        self.mode = mode
        self.stream = stream
        self.on_full = on_full
        self.wait_for = wait_for
        self.wait_timeout_s = wait_timeout_s
        self.session = os.urandom(8).hex()
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self.bytes = 0
        self.subscribers = 0
        self.peers = 0
        self._topic = topic(stream)
        self._monitor: zmq.Socket | None = None

    def configure(self, sock: zmq.Socket) -> None:
        if self.mode == "pub":
            sock.setsockopt(zmq.XPUB_VERBOSER, 1)
            sock.setsockopt(zmq.XPUB_NODROP, 1)
        sock.sndtimeo = _POLL_MS
        self._monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)

    def _read_monitor(self) -> None:
        """Update ``peers`` (connected receivers) from the socket monitor's events."""
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            self.peers += 1 if event == zmq.EVENT_HANDSHAKE_SUCCEEDED else -1

    def open(self) -> None:
        """Bind or connect, then wait for ``wait_for`` subscribers (:class:`TransportError` on timeout)."""
        super().open()
        deadline = time.monotonic() + self.wait_timeout_s
        while self.subscribers < self.wait_for:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                self.close()
                raise TransportError(f"no subscriber joined {self.config.address!r} within "
                                     f"{self.wait_timeout_s} s (got {self.subscribers} of {self.wait_for})")
            if self.sock.poll(min(left_ms, _POLL_MS), zmq.POLLIN):
                self._read_subscriptions()

    def _read_subscriptions(self) -> None:
        """Count (un)subscriptions to this stream waiting on the XPUB socket."""
        while True:
            try:
                msg = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if msg and self._topic.startswith(msg[1:]):
                self.subscribers += 1 if msg[0] == 1 else -1

    def send(self, packet: Any, stop: threading.Event | None = None) -> bool:
        """Send one packet; ``False`` when it was dropped (full peers in ``drop`` mode, or ``stop`` set).

        The packet's arrays are sent without a copy: do not modify them afterwards.
        """
        if self.sock is None:
            self.open()
        frames = encode(packet, self.stream, self.session, self.seq, time.time_ns())
        self.seq += 1
        if self.mode == "pub" and self.sock.get(zmq.EVENTS) & zmq.POLLIN:
            self._read_subscriptions()
        if self._monitor.get(zmq.EVENTS) & zmq.POLLIN:
            self._read_monitor()
        if not self._send(frames, block=self.on_full == "block", stop=stop):
            self.dropped += 1
            return False
        self.sent += 1
        self.bytes += sum(len(f) if isinstance(f, bytes) else f.nbytes for f in frames)
        return True

    def _send(self, frames: list[Any], block: bool, stop: threading.Event | None,
              timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                self.sock.send_multipart(frames, flags=0 if block else zmq.NOBLOCK, copy=False)
                return True
            except zmq.Again:
                if not block or (stop is not None and stop.is_set()):
                    return False
                if deadline is not None and time.monotonic() > deadline:
                    return False

    def close(self) -> None:
        """Send the end-of-stream message, let receivers read it, then close.

        Waits up to ``linger_ms`` in all: for room to send the end-of-stream
        message, then for every connected receiver to read it and disconnect
        (ZeroMQ discards what a receiver has not read when its sender goes).
        """
        if self.sock is not None:
            deadline = time.monotonic() + self.config.linger_ms / 1000
            eos = encode_eos(self.stream, self.session, self.seq, time.time_ns())
            if self._send(eos, block=True, stop=None, timeout_s=self.config.linger_ms / 1000):
                self._read_monitor()
                while self.peers > 0 and time.monotonic() < deadline:
                    self._monitor.poll(_POLL_MS)
                    self._read_monitor()
            self.sock.disable_monitor()
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        super().close()

    def stats(self) -> dict[str, Any]:
        """Counters: ``sent``, ``hwm_dropped`` (sender-side drops), ``bytes``, ``peers``, ``subscribers`` (PUB).

        Reads only counters (safe from another thread); ``peers`` and
        ``subscribers`` are as of the last :meth:`send`.
        """
        out = {"sent": self.sent, "hwm_dropped": self.dropped, "bytes": self.bytes, "peers": self.peers}
        if self.mode == "pub":
            out["subscribers"] = self.subscribers
        return out
