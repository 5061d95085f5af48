"""Recording a live (or emulated) camera to a file through a bounded buffer.

The camera side never waits for the disk: packets go into a queue of
``buffer_packets``; a writer thread drains it into the file. When the queue
is full a live source's packet is dropped and counted (a camera's buffer
overflows the same way); a source that can wait (``policy="block"``, e.g. an
emulator running as fast as possible) waits instead and nothing is lost.
The :class:`RecordReport` says what was written and what was lost where.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from evstream.events import EventPacket, concat_events

__all__ = ["EventWriter", "RecordReport", "record"]


class EventWriter(Protocol):
    """Where recorded events go: ``write(events)`` in time order, then ``close()``
    (:func:`evstream.io.open_writer` gives one for every file format)."""

    def write(self, events: np.ndarray) -> None: ...

    def close(self) -> None: ...


@dataclass
class RecordReport:
    """What a recording run wrote and lost.

    ``buffer_dropped_*`` were lost because the writer fell behind (queue
    full); ``link`` holds the source's own counters (rate limit, transport
    drops); ``max_buffer`` is the highest queue fill seen.
    """

    packets: int = 0
    events: int = 0
    t_start_us: int | None = None
    t_end_us: int | None = None
    buffer_dropped_packets: int = 0
    buffer_dropped_events: int = 0
    max_buffer: int = 0
    buffer_packets: int = 0
    wall_s: float = 0.0
    stopped: str | None = None
    link: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        if self.t_start_us is None or self.t_end_us is None:
            return 0.0
        return (self.t_end_us - self.t_start_us) * 1e-6

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration_s": self.duration_s}

    def summary(self) -> str:
        lost = self.buffer_dropped_events + int(self.link.get("dropped_events", 0))
        limited = int(self.link.get("rate_limited_events", 0))
        return (f"{self.events} events in {self.packets} packets, {self.duration_s:.3f} s of stream in "
                f"{self.wall_s:.2f} s; dropped {self.buffer_dropped_packets} packets / "
                f"{self.buffer_dropped_events} events (buffer full, max fill {self.max_buffer}/{self.buffer_packets})"
                f", {lost - self.buffer_dropped_events} events lost by the link, {limited} by the rate limit")


_END = object()

WRITE_EVENTS = 65_536
"""The writer thread gathers up to this many events ..."""
WRITE_SPAN_US = 100_000
"""... or this much stream time (µs) into one ``write`` call."""


def _flush(writer: EventWriter, pending: list[np.ndarray]) -> None:
    if pending:
        writer.write(pending[0] if len(pending) == 1 else concat_events(pending))


def _put_waiting(buffer: queue.Queue, packet: EventPacket, stopping: threading.Event) -> bool:
    """Put ``packet``, waiting for room; ``False`` when ``stopping`` was set first."""
    while not stopping.is_set():
        try:
            buffer.put(packet, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


def record(packets: Iterable[EventPacket], writer: EventWriter, *, buffer_packets: int = 256,
           policy: str = "drop", duration_us: int | None = None, stopping: threading.Event | None = None,
           on_packet: Callable[[EventPacket], None] | None = None) -> RecordReport:
    """Write ``packets`` to ``writer`` through a bounded queue; returns the report.

    Args:
        packets: the source's packets (consumed on this thread).
        writer: receives the events on a writer thread; closed at the end.
        buffer_packets: queue capacity in packets.
        policy: ``"drop"`` (a full queue drops the new packet, counted) or
            ``"block"`` (the source waits).
        duration_us: stop after this much stream time (µs from the first packet).
        stopping: set it (e.g. on Ctrl-C) to end the recording cleanly.
        on_packet: called with every packet taken from the source (progress bars).
    """
    if policy not in ("drop", "block"):
        raise ValueError(f"policy must be 'drop' or 'block' (got {policy!r})")
    if buffer_packets <= 0:
        raise ValueError(f"buffer_packets must be positive (got {buffer_packets})")
    stopping = stopping or threading.Event()
    report = RecordReport(buffer_packets=buffer_packets)
    buffer: queue.Queue = queue.Queue(maxsize=buffer_packets)
    failure: list[BaseException] = []

    def drain() -> None:
        pending: list[np.ndarray] = []
        held = 0
        span_start = None
        try:
            while (item := buffer.get()) is not _END:
                if len(item):
                    pending.append(item.events)
                    held += len(item)
                span_start = item.t_start if span_start is None else span_start
                # Few large writes: a file packet per 1 ms camera packet would compress badly.
                if held >= WRITE_EVENTS or item.t_end - span_start >= WRITE_SPAN_US:
                    _flush(writer, pending)
                    pending, held, span_start = [], 0, None
            _flush(writer, pending)
        except BaseException as exc:  # reported on the recording thread
            failure.append(exc)
            stopping.set()
            while buffer.get() is not _END:
                pass

    thread = threading.Thread(target=drain, name="evstream-record-writer", daemon=True)
    t0 = time.perf_counter()
    thread.start()
    try:
        for packet in packets:
            if stopping.is_set():
                report.stopped = report.stopped or "stopped"
                break
            if report.t_start_us is None:
                report.t_start_us = packet.t_start
            if duration_us is not None and packet.t_start >= report.t_start_us + duration_us:
                report.stopped = "duration"
                break
            if duration_us is not None and packet.t_end > report.t_start_us + duration_us:
                packet = packet.slice_time(packet.t_start, report.t_start_us + duration_us)
            if on_packet is not None:
                on_packet(packet)
            report.t_end_us = packet.t_end
            if policy == "block":
                if not _put_waiting(buffer, packet, stopping):
                    report.stopped = "stopped"
                    break
            else:
                try:
                    buffer.put_nowait(packet)
                except queue.Full:
                    report.buffer_dropped_packets += 1
                    report.buffer_dropped_events += len(packet)
                    continue
            report.max_buffer = max(report.max_buffer, buffer.qsize())
            report.packets += 1
            report.events += len(packet)
    except KeyboardInterrupt:
        report.stopped = "interrupted"
    finally:
        buffer.put(_END)
        thread.join()
        writer.close()
        report.wall_s = time.perf_counter() - t0
    if failure:
        raise failure[0]
    return report

