"""A fan-out worker: runs one network state per stream on the frames a dispatcher pins to it.

The worker connects a DEALER socket to the dispatcher (:mod:`.fanout`), says
``hello`` (and again every ``heartbeat_s`` while idle), and on ``welcome``
connects a PUSH socket to the merge address the dispatcher names. Then, for
every frame packet: step the stream's network once per frame, push the
result (wire format, the stream's name and the dispatcher's sequence number)
to the merge, and acknowledge the packet to the dispatcher.

Each stream gets its own ``nn.network`` (logits) or ``nn.classifier``
(labels) node from :mod:`evstream.nn.nodes`, built from the checkpoint file
on the stream's first packet, so a stream's results are exactly those of an
in-process network fed the same frames. ``reset`` from the dispatcher (the
stream moved here from a worker that left) drops that state.

A packet's frames must be computed within the dispatcher's ``timeout_s``
(the worker does not heartbeat while it steps the network).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import zmq

from evstream.errors import UserError
from evstream.nn.nodes import ClassifierNode, NetworkNode
from evstream.packets import FramePacket
from evstream.transport.fanout import (ACK, BYE, END, FAIL, FRAMES, HELLO, RESET, RESULT, WELCOME, control,
                                       parse_control)
from evstream.transport.receiver import DEFAULT_MAX_BYTES
from evstream.transport.sockets import Endpoint, SocketConfig, open_socket
from evstream.transport.wire import WireError, decode, encode

__all__ = ["OUTPUTS", "Worker"]

OUTPUTS: dict[str, type] = {"logits": NetworkNode, "labels": ClassifierNode}
"""What a worker sends back per stream: logits (``tensor`` packets) or class labels."""


class Worker(Endpoint):
    """Serve a dispatcher: one network state per stream, results pushed to the merge.

    Args:
        config: the dispatcher's address (connected: ``bind=False``).
        checkpoint: network checkpoint file (:mod:`evstream.nn.checkpoint`).
        output: ``"logits"`` or ``"labels"`` (see :data:`OUTPUTS`).
        backend, device: as for the ``nn.network`` node (torch on cpu/cuda, or numba).
        average: labels only: logits averaged over this many last steps (0: since reset).
        name: unique worker name (its routing id); default host-pid-random.
        heartbeat_s: interval of the idle heartbeat (s).
        exit_on_end: stop serving when the dispatcher ends its run (else serve the next run).
        idle_timeout_s: stop after this long without a dispatcher message (s; 0: never).
        max_bytes: frame packets larger than this (bytes) are rejected.
    """

    def __init__(self, config: SocketConfig, checkpoint: str, *, output: str = "logits", backend: str = "torch",
                 device: str = "cpu", average: int = 0, name: str = "", heartbeat_s: float = 0.25,
                 exit_on_end: bool = True, idle_timeout_s: float = 0.0, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if output not in OUTPUTS:
            raise UserError(f"fan-out worker: output must be one of {', '.join(OUTPUTS)} (got {output!r})")
        super().__init__(config)
        self.socket_kind = zmq.DEALER
        self.checkpoint = checkpoint
        self.output = output
        self.options: dict[str, Any] = {"checkpoint": checkpoint, "backend": backend, "device": device}
        if output == "labels":
            self.options["average"] = average
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}"
        self.heartbeat_s = heartbeat_s
        self.exit_on_end = exit_on_end
        self.idle_timeout_s = idle_timeout_s
        self.max_bytes = max_bytes
        self.runners: dict[str, Any] = {}
        self.counts = dict.fromkeys(("packets", "frames", "streams", "resets", "runs", "rejected"), 0)
        self.busy_s = 0.0
        self._results: zmq.Socket | None = None
        self._results_address = ""
        self._last_said = 0.0

    def configure(self, sock: zmq.Socket) -> None:
        sock.routing_id = self.name.encode()

    def open(self) -> None:
        """Check the checkpoint file, then connect to the dispatcher."""
        from evstream.nn.checkpoint import load

        load(self.checkpoint)
        super().open()

    def _say(self, op: bytes, **fields: Any) -> None:
        self.sock.send_multipart(control(op, **fields))
        self._last_said = time.monotonic()

    def _connect_results(self, body: dict[str, Any]) -> None:
        address = body.get("results")
        if not isinstance(address, str) or address == self._results_address:
            return
        if self._results is not None:
            self._results.close()
        self._results, _ = open_socket(self._ctx, zmq.PUSH, SocketConfig(
            address, bind=False, hwm=self.config.hwm, linger_ms=self.config.linger_ms))
        self._results_address = address

    def _runner(self, stream: str) -> Any:
        runner = self.runners.get(stream)
        if runner is None:
            runner = self.runners[stream] = OUTPUTS[self.output](f"{self.name}/{stream}", **self.options)
            runner.start()
            self.counts["streams"] += 1
        return runner

    def _step(self, frames: list[Any]) -> Iterator[tuple[str, Any]]:
        """Run one frame packet; push its result, acknowledge it and yield ``(stream, result)``."""
        t0 = time.perf_counter()
        try:
            msg = decode(frames, self.max_bytes)
        except WireError:
            self.counts["rejected"] += 1
            return
        if msg.kind != "frames" or self._results is None:
            self.counts["rejected"] += 1
            return
        packet = msg.packet  # read-only views of the message; torch wants writable frames
        packet = FramePacket(np.array(packet.data), packet.t_start, packet.t_end, packet.seq)
        try:
            results = self._runner(msg.stream).process(packet, "in")
        except UserError as exc:  # the dispatcher raises it for the user; this worker stops
            self._say(FAIL, error=str(exc))
            raise
        for result in results:
            self._results.send_multipart([RESULT, *encode(result, msg.stream, msg.session, msg.seq, time.time_ns())],
                                         copy=False)
        self.counts["packets"] += 1
        self.counts["frames"] += len(packet)
        self._say(ACK, stream=msg.stream, seq=msg.seq)
        self.busy_s += time.perf_counter() - t0
        for result in results:
            yield msg.stream, result

    def serve(self, stop: threading.Event | None = None) -> Iterator[tuple[str, Any]]:
        """Serve until the dispatcher's end (``exit_on_end``), ``stop`` or the idle timeout; yield results."""
        if self.sock is None:
            self.open()
        self._say(HELLO, worker=self.name, pid=os.getpid())
        heard = time.monotonic()
        while stop is None or not stop.is_set():
            if time.monotonic() - self._last_said >= self.heartbeat_s:
                self._say(HELLO, worker=self.name, pid=os.getpid())
            if not self.sock.poll(int(self.heartbeat_s * 1000), zmq.POLLIN):
                if self.idle_timeout_s and time.monotonic() - heard > self.idle_timeout_s:
                    break
                continue
            heard = time.monotonic()
            frames = self.sock.recv_multipart(copy=False)
            op = frames[0].bytes
            if op == FRAMES:
                yield from self._step(frames[1:])
            elif op == RESET and len(frames) == 2:
                if self.runners.pop(frames[1].bytes.decode(errors="replace"), None) is not None:
                    self.counts["resets"] += 1
            elif op in (WELCOME, END) and (body := parse_control(frames)) is not None:
                if op == WELCOME:
                    self.counts["runs"] += 1
                    self._connect_results(body)
                else:
                    self.runners.clear()
                    if self.exit_on_end:
                        return
            else:
                self.counts["rejected"] += 1
        self._say(BYE)

    def close(self) -> None:
        """Close the result socket (delivering queued results within ``linger_ms``) and the dispatcher socket."""
        if self._results is not None:
            self._results.close()
            self._results = None
        super().close()

    def stats(self) -> dict[str, Any]:
        """Counters: packets and frames computed, streams started, resets, dispatcher runs, rejected messages,
        ``busy_s``: seconds spent decoding, stepping the networks and sending results."""
        return {"worker": self.name, **self.counts, "live_streams": len(self.runners), "busy_s": round(self.busy_s, 4)}
