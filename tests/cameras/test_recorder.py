"""The recorder: bounded buffer, drop accounting, duration, clean stop, writer failures."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from evstream.cameras.emulator import CameraEmulator
from evstream.cameras.recorder import record
from evstream.events import concat_events

from .test_emulator import _uniform_recording


class MemoryWriter:
    def __init__(self, delay_s: float = 0.0, fail_after: int | None = None) -> None:
        self.parts: list[np.ndarray] = []
        self.closed = False
        self.delay_s, self.fail_after = delay_s, fail_after

    def write(self, events: np.ndarray) -> None:
        if self.fail_after is not None and len(self.parts) >= self.fail_after:
            raise OSError("disk full")
        time.sleep(self.delay_s)
        self.parts.append(events)

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> np.ndarray:
        return concat_events(self.parts)


def test_block_policy_loses_nothing() -> None:
    rec = _uniform_recording(50_000, 0.5)
    writer = MemoryWriter(delay_s=0.0005)
    report = record(CameraEmulator(rec.packets, 1000, speed=0).packets(), writer, buffer_packets=4, policy="block")
    assert np.array_equal(writer.events, rec.events)
    assert report.events == len(rec.events) and report.buffer_dropped_packets == 0
    assert report.max_buffer <= 4 and writer.closed
    assert (report.t_start_us, report.t_end_us) == (0, 500_000)


def test_drop_policy_counts_what_a_slow_writer_lost() -> None:
    rec = _uniform_recording(50_000, 0.5)
    writer = MemoryWriter(delay_s=0.002)
    report = record(CameraEmulator(rec.packets, 1000, speed=0).packets(), writer, buffer_packets=8, policy="drop")
    written = len(writer.events)
    assert report.buffer_dropped_packets > 0
    assert written == report.events
    assert written + report.buffer_dropped_events == len(rec.events)
    assert report.max_buffer <= 8
    assert "dropped" in report.summary() and f"{report.buffer_dropped_packets} packets" in report.summary()


def test_duration_cuts_the_stream_exactly() -> None:
    rec = _uniform_recording(20_000, 1.0)
    writer = MemoryWriter()
    report = record(CameraEmulator(rec.packets, 3000, speed=0).packets(), writer, duration_us=100_500, policy="block")
    assert report.stopped == "duration" and report.t_end_us == 100_500
    assert np.array_equal(writer.events, rec.events[rec.events["t"] < 100_500])


def test_stopping_ends_a_live_recording() -> None:
    rec = _uniform_recording(1_000, 60.0)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    emu = CameraEmulator(rec.packets, 10_000, speed=1.0, stopping=stop)
    t0 = time.perf_counter()
    report = record(emu.packets(), MemoryWriter(), stopping=stop)
    assert time.perf_counter() - t0 < 1.0
    assert 0 < report.packets < 60


def test_a_failing_writer_stops_the_recording_and_raises() -> None:
    rec = _uniform_recording(20_000, 1.0)
    writer = MemoryWriter(fail_after=3)
    with pytest.raises(OSError, match="disk full"):
        record(CameraEmulator(rec.packets, 1000, speed=0).packets(), writer, policy="block", buffer_packets=2)
    assert writer.closed


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="policy"):
        record([], MemoryWriter(), policy="keep")
    with pytest.raises(ValueError, match="buffer_packets"):
        record([], MemoryWriter(), buffer_packets=0)
