"""Graph nodes for recordings: ``io.read`` (unpaced source), ``io.replay`` (paced source), ``io.write`` (sink).

``io.read`` hands out packets as fast as the graph takes them (lossless batch
work: conversion, training). ``io.replay`` releases each packet when the wall
clock reaches its end time (scaled by ``speed``), optionally looping; looped
passes are shifted in time so timestamps keep increasing.

``io.replay`` cuts packets on absolute time edges ``origin_us + k * window_us``
(the first packet starts at the first event or ``start_us``, later ones on
edges), the edges a time binner with the same origin and a multiple of the
packet length closes its windows on. A packet is released the moment the wall
clock passes its end edge, so a downstream binner can emit the window's frame
at once instead of waiting for the packet that carries time past it. Silent
stretches still give (empty) packets: clock ticks that keep frames coming.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from evstream.events import EventPacket
from evstream.graph.node import Param, ParamError, Sink, Source
from evstream.graph.registry import register
from evstream.io.formats import open_writer
from evstream.io.packetize import packets_by_window
from evstream.io.recording import Recording
from evstream.io.writer import EventWriter

__all__ = ["ReadSource", "ReplaySource", "WriteSink"]

_FILE_PARAMS = {
    "path": Param(str, doc="recording to read (format detected from its content)"),
    "format": Param(str, None, doc="force the format (e.g. evt3 for a headerless dump)"),
    "width": Param(int, None, doc="sensor width, pixels (default: from the file)"),
    "height": Param(int, None, doc="sensor height, pixels (default: from the file)"),
    "start_us": Param(int, None, doc="first timestamp to play, µs (file time)"),
    "end_us": Param(int, None, doc="stop before this timestamp, µs (file time)"),
}


class _RecordingSource(Source):
    """Shared opening and progress of the file sources."""

    output_kind = "events"

    def _open(self, **cut: int | None) -> Recording:
        return Recording(self.path, format=self.format, width=self.width, height=self.height,
                         start_us=self.start_us, end_us=self.end_us, **cut)

    def progress(self) -> tuple[float, float] | None:
        rec = getattr(self, "recording", None)
        return None if rec is None else (rec.bytes_read, rec.size_bytes)


@register
class ReadSource(_RecordingSource):
    """Read a recording as fast as downstream takes it, in packets of ``packet_events`` events
    or of ``window_us`` µs (lossless, unpaced)."""

    type_name = "io.read"
    params = {
        **_FILE_PARAMS,
        "packet_events": Param(int, 65536, doc="events per packet (when window_us is not set)"),
        "window_us": Param(int, None, doc="cut packets every window_us µs of event time instead (empty ones too)"),
    }

    def start(self) -> None:
        if self.packet_events <= 0 or (self.window_us is not None and self.window_us <= 0):
            raise ParamError(f"node {self.name!r}: packet_events and window_us must be positive")
        self.recording = self._open(packet_events=None if self.window_us else self.packet_events,
                                    window_us=self.window_us)

    def generate(self) -> Iterator[EventPacket]:
        for packet in self.recording:
            yield packet
            if self.stopping.is_set():
                return


@register
class ReplaySource(_RecordingSource):
    """Replay a recording at the pace of its timestamps (``speed`` x real time), in packets cut on the
    absolute edges ``origin_us + k * window_us`` µs, each released when the clock passes its end;
    ``loops`` passes (0 = forever), each shifted by a multiple of ``window_us`` to follow the previous one."""

    type_name = "io.replay"
    params = {
        **_FILE_PARAMS,
        "window_us": Param(int, 10_000, doc="packet duration, µs of event time"),
        "origin_us": Param(int, 0, doc="time of packet edge 0, µs (edges at origin + k * window_us)"),
        "speed": Param(float, 1.0, doc="playback speed: 1 = real time, 2 = twice as fast, 0 = unpaced"),
        "loops": Param(int, 1, doc="number of passes over the file; 0 = loop forever"),
    }

    def start(self) -> None:
        if self.window_us <= 0 or self.speed < 0 or self.loops < 0:
            raise ParamError(f"node {self.name!r}: need window_us > 0, speed >= 0 and loops >= 0")
        self.recording = self._open()
        self.passes = 0
        self.late_us = 0

    def generate(self) -> Iterator[EventPacket]:
        begin = self.start_us if self.start_us is not None else self.recording.first_time()
        if begin is None or (self.end_us is not None and begin >= self.end_us):
            return
        wall0 = time.perf_counter()
        shift = 0  # µs added to file time in this pass (a multiple of window_us: edges stay edges)
        covered = begin  # the output stream is complete before this time, µs
        seq = 0
        while self.loops == 0 or self.passes < self.loops:
            for packet in self._pass(begin):
                if self.speed > 0:
                    delay = (packet.t_end + shift - begin) / 1e6 / self.speed - (time.perf_counter() - wall0)
                    if delay > 0:
                        if self.stopping.wait(delay):
                            return
                    else:
                        self.late_us = max(self.late_us, int(-delay * 1e6))
                events = packet.events
                if shift:
                    events = events.copy()
                    events["t"] += shift
                # covered: a later pass starts where the previous one ended (no gap in the clock)
                yield EventPacket(events, packet.width, packet.height, covered, packet.t_end + shift, seq)
                seq += 1
                covered = packet.t_end + shift
                if self.stopping.is_set():
                    return
            self.passes += 1
            w = self.window_us
            shift += -(-(covered - shift - begin) // w) * w

    def _pass(self, begin: int) -> Iterator[EventPacket]:
        """One pass in file time: ``[begin, first edge)``, then whole windows; the last ends at ``end_us``,
        else at the edge after the last event (so its window closes on time)."""
        w, origin = self.window_us, self.origin_us
        width, height = self.recording.width, self.recording.height
        held: EventPacket | None = None  # one packet of lookahead: the last one is stretched to its edge
        for packet in packets_by_window(self.recording.blocks(), w, width, height,
                                        origin + (begin - origin) // w * w, self.end_us):
            if held is not None:
                yield held
            held = EventPacket(packet.events, width, height, max(packet.t_start, begin), packet.t_end)
        if held is not None:
            end = held.t_end if self.end_us is not None else origin + -(-(held.t_end - origin) // w) * w
            yield EventPacket(held.events, width, height, held.t_start, end)

    def progress(self) -> tuple[float, float] | None:
        return super().progress() if self.loops == 1 else None

    def stats_extra(self) -> dict[str, Any]:
        return {"passes": getattr(self, "passes", 0), "max_late_us": getattr(self, "late_us", 0)}


@register
class WriteSink(Sink):
    """Write every incoming packet to a recording (format from ``format`` or the extension);
    the geometry is taken from the first packet."""

    type_name = "io.write"
    input_kind = "events"
    params = {
        "path": Param(str, doc="file to write (.aedat4, .raw, .evt2, .h5, .npy, .npz, .csv)"),
        "format": Param(str, None, doc="output format (default: from the extension)"),
        "compression": Param(str, None, doc="AEDAT 4 compression: lz4, zstd or none"),
    }

    def start(self) -> None:
        self.writer: EventWriter | None = None

    def consume(self, packet: EventPacket, port: str) -> None:
        if self.writer is None:
            options = {} if self.compression is None else {"compression": self.compression}
            self.writer = open_writer(self.path, packet.width, packet.height, self.format, **options)
        self.writer.write(packet)

    def close(self) -> None:
        if getattr(self, "writer", None) is not None:
            self.writer.close()

    def stats_extra(self) -> dict[str, Any]:
        writer = getattr(self, "writer", None)
        return {"events_written": writer.count if writer is not None else 0}
