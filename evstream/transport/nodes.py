"""Graph nodes that chain evstream pipelines across processes and machines.

* ``transport.send``: sink that publishes (PUB) or distributes (PUSH) any packet kind.
* ``transport.receive``: source that subscribes (SUB) or pulls (PULL) packets.
* ``transport.dv_send``: sink serving events to DV tools (dv-processing ``NetworkReader``).
* ``transport.dv_receive``: source reading events from a DV ``NetworkWriter``.

Example pair of graph files (two processes)::

    # camera side                          # network side
    [[node]]                               [[node]]
    name = "out"                           name = "in"
    type = "transport.send"                type = "transport.receive"
    input = "src"                          address = "tcp://127.0.0.1:5555"
    address = "tcp://127.0.0.1:5555"       kind = "events"
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from evstream.events import EventPacket
from evstream.graph.node import Param, Sink, Source
from evstream.graph.registry import register
from evstream.packets import PORT_KINDS
from evstream.transport.dv import DvClient, DvServer, host_port
from evstream.transport.receiver import DEFAULT_MAX_BYTES, RECEIVE_MODES, Receiver
from evstream.transport.sender import SEND_MODES, Sender
from evstream.transport.sockets import CurveKeys, SocketConfig

__all__ = ["DvReceiveNode", "DvSendNode", "ReceiveNode", "SendNode"]

_POLL_MS = 100


def _socket_params(bind: bool) -> dict[str, Param]:
    """Parameters shared by the ZeroMQ nodes; ``bind`` is the side's default."""
    return {
        "address": Param(str, "tcp://127.0.0.1:5555", doc="tcp://host:port or ipc:///path"),
        "bind": Param(bool, bind, doc="bind the address (else connect to it)"),
        "hwm": Param(int, 1000, doc="queue length in messages before blocking or dropping"),
        "public": Param(bool, False, doc="allow binding tcp on a non-loopback interface"),
        "linger_ms": Param(int, 1000, doc="how long closing waits to deliver queued messages (ms)"),
        "curve_secret": Param(str, "", doc="CURVE: this side's NAME.key_secret file (evstream keys)"),
        "curve_server_key": Param(str, "", doc="CURVE client: the server's public NAME.key file"),
        "curve_clients": Param(str, "", doc="CURVE server: folder of authorised client NAME.key files"),
    }


def _socket_config(node: Any) -> SocketConfig:
    return SocketConfig(node.address, node.bind, node.hwm, node.public,
                        CurveKeys(node.curve_secret, node.curve_server_key, node.curve_clients), node.linger_ms)


@register
class SendNode(Sink):
    """Send every input packet (events, frames, tensor or labels) to a ZeroMQ address."""

    type_name = "transport.send"
    input_kind = "any"
    params = {
        **_socket_params(bind=True),
        "mode": Param(str, "pub", doc="pub: every subscriber gets all; push: packets shared among workers",
                      choices=SEND_MODES),
        "stream": Param(str, "events", doc="stream name receivers select"),
        "on_full": Param(str, "block", doc="block: lossless, wait for slow peers; drop: drop and count",
                         choices=("block", "drop")),
        "wait_for": Param(int, 0, doc="pub: wait for this many subscribers before sending"),
        "wait_timeout_s": Param(float, 10.0, doc="how long to wait for them (s)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.sender = Sender(_socket_config(self), mode=self.mode, stream=self.stream, on_full=self.on_full,
                             wait_for=self.wait_for, wait_timeout_s=self.wait_timeout_s)

    def start(self) -> None:
        self.sender.open()

    def consume(self, packet: Any, port: str) -> None:
        self.sender.send(packet, stop=self.stopping)

    def close(self) -> None:
        self.sender.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.sender.stats()


@register
class ReceiveNode(Source):
    """Yield packets received from a ZeroMQ address until the sender's end of stream."""

    type_name = "transport.receive"
    output_kind = "any"
    params = {
        **_socket_params(bind=False),
        "mode": Param(str, "sub", doc="sub: receive a published stream; pull: take a share of pushed packets",
                      choices=RECEIVE_MODES),
        "stream": Param(str, "", doc="stream name to accept (empty: all)"),
        "kind": Param(str, "any", doc="packet kind this source produces (others are counted and skipped)",
                      choices=("any", *PORT_KINDS)),
        "conflate": Param(bool, False, doc="live views: keep only the newest waiting packet"),
        "max_bytes": Param(int, DEFAULT_MAX_BYTES, doc="reject messages larger than this (bytes)"),
        "end_on_eos": Param(bool, True, doc="stop at the sender's end-of-stream message"),
        "idle_timeout_s": Param(float, 0.0, doc="stop after this long without a message (s; 0: never)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.output_kind = self.kind
        self.receiver = Receiver(_socket_config(self), mode=self.mode, streams=[self.stream] if self.stream else [],
                                 conflate=self.conflate, max_bytes=self.max_bytes)
        self.wrong_kind = 0

    def start(self) -> None:
        self.receiver.open()

    def generate(self) -> Iterator[Any]:
        last = time.monotonic()
        while not self.stopping.is_set():
            msg = self.receiver.recv(_POLL_MS)
            if msg is None:
                if self.idle_timeout_s and time.monotonic() - last > self.idle_timeout_s:
                    return
                continue
            last = time.monotonic()
            if msg.kind == "eos":
                if self.end_on_eos:
                    return
            elif self.kind in ("any", msg.kind):
                yield msg.packet
            else:
                self.wrong_kind += 1

    def close(self) -> None:
        self.receiver.close()

    def stats_extra(self) -> dict[str, Any]:
        return {**self.receiver.stats(), "wrong_kind": self.wrong_kind}


@register
class DvSendNode(Sink):
    """Serve input events as a DV TCP stream that dv-processing's ``NetworkReader`` reads.

    The server listens from the first packet on, which gives the sensor
    geometry announced to clients; ``wait_for`` then holds that packet back
    until enough clients have connected.
    """

    type_name = "transport.dv_send"
    input_kind = "events"
    params = {
        "address": Param(str, "tcp://127.0.0.1:7777", doc="tcp://host:port to listen on"),
        "public": Param(bool, False, doc="allow listening on a non-loopback interface"),
        "compression": Param(str, "none", doc="packet compression", choices=("none", "lz4", "zstd")),
        "source": Param(str, "evstream", doc="camera name announced to clients"),
        "max_clients": Param(int, 10, doc="most clients served at once"),
        "wait_for": Param(int, 0, doc="wait for this many clients before the first packet"),
        "wait_timeout_s": Param(float, 10.0, doc="how long to wait for them (s)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        host_port(self.address, bind=True, public=self.public)  # a bad address fails when the graph is built
        self.server: DvServer | None = None

    def consume(self, packet: EventPacket, port: str) -> None:
        if self.server is None:
            self.server = DvServer(self.address, packet.width, packet.height, public=self.public,
                                   compression=self.compression, source=self.source, max_clients=self.max_clients)
            self.server.open()
            self.server.wait_for_clients(self.wait_for, self.wait_timeout_s)
        self.server.send(packet.events)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.server.stats() if self.server is not None else {}


@register
class DvReceiveNode(Source):
    """Yield events read from a DV TCP stream (a dv-processing ``NetworkWriter`` or DV software)."""

    type_name = "transport.dv_receive"
    output_kind = "events"
    params = {
        "address": Param(str, "tcp://127.0.0.1:7777", doc="tcp://host:port of the DV server"),
        "reconnect": Param(bool, True, doc="reconnect when the server goes away"),
        "connect_timeout_s": Param(float, 10.0, doc="give up when no server answers for this long (s)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.client = DvClient(self.address, reconnect=self.reconnect, connect_timeout_s=self.connect_timeout_s)

    def generate(self) -> Iterator[EventPacket]:
        yield from self.client.stream(self.stopping)

    def close(self) -> None:
        self.client.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.client.stats()
