"""Graph nodes of the inference fan-out (:mod:`.fanout`): ``fanout.dispatch``, ``fanout.worker``, ``fanout.merge``.

* ``fanout.dispatch`` (sink): sends its input frames, as one named stream, to
  the worker the stream is pinned to.
* ``fanout.worker`` (source): serves a dispatcher with a network checkpoint;
  yields the results it computed (all its streams interleaved), for counting.
* ``fanout.merge`` (source): yields the workers' results per stream in order.

``nodes/fanout.toml`` (dispatch and merge in one process) and
``nodes/fanout-worker.toml`` (one per worker process) show them together.
A graph packet carries no stream name, so one dispatch node sends one stream;
the :class:`~evstream.transport.fanout.Dispatcher` API takes any number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evstream.graph.node import Param, Sink, Source
from evstream.graph.registry import register
from evstream.packets import FramePacket
from evstream.transport.fanout import ON_LOST, Dispatcher
from evstream.transport.fanout_merge import Merger
from evstream.transport.fanout_worker import OUTPUTS, Worker
from evstream.transport.receiver import DEFAULT_MAX_BYTES
from evstream.transport.sockets import SocketConfig

__all__ = ["DispatchNode", "MergeNode", "WorkerNode"]

DISPATCH_ADDRESS = "tcp://127.0.0.1:5570"
RESULTS_ADDRESS = "tcp://127.0.0.1:5571"


def _address_params(address: str, bind: bool) -> dict[str, Param]:
    return {
        "address": Param(str, address, doc="tcp://host:port or ipc:///path"),
        "hwm": Param(int, 1000, doc="queue length in messages"),
        "linger_ms": Param(int, 1000, doc="how long closing waits to deliver queued messages (ms)"),
        **({"public": Param(bool, False, doc="allow binding tcp on a non-loopback interface")} if bind else {}),
    }


@register
class DispatchNode(Sink):
    """Send input frames, as stream ``stream``, to N network workers (pinned per stream, see fanout)."""

    type_name = "fanout.dispatch"
    input_kind = "frames"
    params = {
        **_address_params(DISPATCH_ADDRESS, bind=True),
        "results": Param(str, RESULTS_ADDRESS, doc="address of the fanout.merge node (workers push results there)"),
        "stream": Param(str, "frames", doc="name of the stream this node's input carries"),
        "window": Param(int, 8, doc="most packets in flight per worker"),
        "timeout_s": Param(float, 2.0, doc="a worker silent this long (s) is declared gone"),
        "on_lost": Param(str, "resend", doc="packets a leaving worker held: resend elsewhere or drop (counted)",
                         choices=ON_LOST),
        "min_workers": Param(int, 1, doc="wait for this many workers before the first packet"),
        "wait_timeout_s": Param(float, 30.0, doc="how long to wait for workers (s)"),
        "drain_timeout_s": Param(float, 30.0, doc="at the end, how long to wait for the last results (s)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.dispatcher = Dispatcher(
            SocketConfig(self.address, True, self.hwm, self.public, linger_ms=self.linger_ms), self.results,
            window=self.window, timeout_s=self.timeout_s, on_lost=self.on_lost, min_workers=self.min_workers,
            wait_timeout_s=self.wait_timeout_s, drain_timeout_s=self.drain_timeout_s)

    def start(self) -> None:
        self.dispatcher.open()

    def consume(self, packet: FramePacket, port: str) -> None:
        self.dispatcher.send(self.stream, packet)

    def close(self) -> None:
        self.dispatcher.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.dispatcher.stats()


@register
class WorkerNode(Source):
    """Serve a fanout.dispatch node: one network state per stream; yields the results it computed."""

    type_name = "fanout.worker"
    output_kind = "any"
    params = {
        **_address_params(DISPATCH_ADDRESS, bind=False),
        "checkpoint": Param(str, doc="network checkpoint file (evstream.nn.checkpoint)"),
        "output": Param(str, "logits", doc="logits (tensor packets) or labels", choices=tuple(OUTPUTS)),
        "backend": Param(str, "torch", doc="torch (device below) or numba (batch-1 CPU program)",
                         choices=("torch", "numba")),
        "device": Param(str, "cpu", doc="torch device: cpu, cuda, cuda:1"),
        "average": Param(int, 0, doc="labels: average the logits over this many last steps (0: since reset)"),
        "worker_name": Param(str, "", doc="unique worker name (default host-pid-random)"),
        "heartbeat_s": Param(float, 0.25, doc="idle heartbeat interval (s)"),
        "exit_on_end": Param(bool, True, doc="stop when the dispatcher ends its run (else serve the next)"),
        "idle_timeout_s": Param(float, 0.0, doc="stop after this long without a dispatcher message (s; 0: never)"),
        "max_bytes": Param(int, DEFAULT_MAX_BYTES, doc="reject frame packets larger than this (bytes)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.output_kind = "tensor" if self.output == "logits" else "labels"
        self.worker = Worker(SocketConfig(self.address, False, self.hwm, linger_ms=self.linger_ms), self.checkpoint,
                             output=self.output, backend=self.backend, device=self.device, average=self.average,
                             name=self.worker_name, heartbeat_s=self.heartbeat_s, exit_on_end=self.exit_on_end,
                             idle_timeout_s=self.idle_timeout_s, max_bytes=self.max_bytes)

    def start(self) -> None:
        self.worker.open()

    def generate(self) -> Iterator[Any]:
        for _, result in self.worker.serve(self.stopping):
            yield result

    def close(self) -> None:
        self.worker.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.worker.stats()


@register
class MergeNode(Source):
    """Yield fan-out results per stream in sequence order, exactly once, until the dispatcher's run ends."""

    type_name = "fanout.merge"
    output_kind = "any"
    params = {
        **_address_params(RESULTS_ADDRESS, bind=True),
        "idle_timeout_s": Param(float, 0.0, doc="stop after this long without a message (s; 0: never)"),
        "max_bytes": Param(int, DEFAULT_MAX_BYTES, doc="reject result messages larger than this (bytes)"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self.merger = Merger(SocketConfig(self.address, True, self.hwm, self.public, linger_ms=self.linger_ms),
                             max_bytes=self.max_bytes)

    def start(self) -> None:
        self.merger.open()

    def generate(self) -> Iterator[Any]:
        for _, packet in self.merger.results(self.stopping, self.idle_timeout_s):
            yield packet

    def close(self) -> None:
        self.merger.close()

    def stats_extra(self) -> dict[str, Any]:
        return self.merger.stats()
