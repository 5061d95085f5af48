"""Test-only node types for the graph tests (a frames sink, a required parameter, failing nodes)."""

from __future__ import annotations

from typing import Any

from evstream.errors import UserError
from evstream.graph.node import Param, Sink, Transform
from evstream.graph.registry import register


@register
class FramesSink(Sink):
    """Accepts frames only (for port-type mismatch tests)."""

    type_name = "test.frames_sink"
    input_kind = "frames"

    def consume(self, packet: Any, port: str) -> None:
        pass


@register
class Collect(Sink):
    """Keeps every packet it receives."""

    type_name = "test.collect"
    input_kind = "any"

    def start(self) -> None:
        self.packets: list[Any] = []

    def consume(self, packet: Any, port: str) -> None:
        self.packets.append(packet)


@register
class Scale(Transform):
    """Needs a required parameter; fails on packet ``fail_at`` (-1: never) with a user or internal error."""

    type_name = "test.scale"
    input_kind = "events"
    output_kind = "events"
    params = {
        "factor": Param(int, doc="required integer"),
        "fail_at": Param(int, -1, doc="seq of the packet that raises"),
        "user_error": Param(bool, True, doc="raise a UserError (else a ZeroDivisionError)"),
    }

    def process(self, packet: Any, port: str) -> list[Any]:
        if packet.seq == self.fail_at:
            if self.user_error:
                raise UserError(f"bad packet {packet.seq}")
            raise ZeroDivisionError("boom")
        return [packet]
