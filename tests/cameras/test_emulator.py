"""The camera emulator: regular packets, real-time pace, looping, rate limit, packet loss."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.cameras.emulator import CameraEmulator, regular_packets, thin_events
from evstream.cameras.recording import Recording
from evstream.events import EventPacket, concat_events, make_events


def _uniform_recording(rate_ev_s: float, seconds: float, width: int = 32, height: int = 32, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    n = int(rate_ev_s * seconds)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    ev = make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))
    return Recording(ev, width, height, 0, int(seconds * 1e6))


@settings(max_examples=60, deadline=None)
@given(times=st.lists(st.integers(0, 5000), max_size=60), cuts=st.lists(st.integers(0, 5200), max_size=8),
       window=st.sampled_from([1, 7, 100, 250, 1000]), start=st.integers(0, 300), extra=st.integers(0, 300))
def test_regular_packets_recut_any_split(times: list[int], cuts: list[int], window: int, start: int, extra: int) -> None:
    """Random splits, empty packets and cuts on window edges give the same events in aligned windows."""
    t = np.sort(np.array(times, dtype=np.int64)) + start
    ev = make_events(t, np.zeros_like(t), np.zeros_like(t), np.zeros_like(t))
    t_end = (int(t[-1]) + 1 if len(t) else start) + extra
    whole = EventPacket(ev, 4, 4, start, t_end)
    edges = sorted({min(max(c, start), t_end) for c in cuts} | {start, t_end})
    pieces = [whole.slice_time(a, b) for a, b in zip(edges, edges[1:])] or [whole]
    out = list(regular_packets(pieces, window))
    if t_end == start:
        assert all(len(p) == 0 for p in out)
        return
    assert out[0].t_start == start and out[-1].t_end == t_end
    for a, b in zip(out, out[1:]):
        assert a.t_end == b.t_start
        assert a.duration_us == window
        assert (a.t_end - start) % window == 0
    assert [p.seq for p in out] == list(range(len(out)))
    for p in out:
        assert np.all((p.events["t"] >= p.t_start) & (p.events["t"] < p.t_end))
    assert np.array_equal(concat_events([p.events for p in out]), ev)


def _paced_wall_time(seconds: float, speed: float) -> tuple[float, CameraEmulator]:
    rec = _uniform_recording(20_000, seconds)
    emu = CameraEmulator(rec.packets, packet_us=5000, speed=speed)
    t0 = time.perf_counter()
    n = sum(len(p) for p in emu.packets())
    wall = time.perf_counter() - t0
    assert n == len(rec.events)
    return wall, emu


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_emulator_streams_at_the_requested_rate(speed: float) -> None:
    seconds = 3.0
    wall, emu = _paced_wall_time(seconds, speed)
    assert abs(wall - seconds / speed) < 0.02 * seconds / speed
    assert emu.stats.packets == int(seconds * 1e6 / 5000)


@pytest.mark.slow
def test_emulator_streams_at_real_time_over_10_s() -> None:
    wall, _ = _paced_wall_time(10.0, 1.0)
    assert abs(wall - 10.0) < 0.2


def test_packets_are_released_when_due() -> None:
    """No packet arrives before its end time is due (it would be data from the future)."""
    rec = _uniform_recording(5_000, 0.3)
    emu = CameraEmulator(rec.packets, packet_us=20_000, speed=1.0)
    t0 = None
    for packet in emu.packets():
        now = time.perf_counter()
        t0 = now - packet.t_end * 1e-6 if t0 is None else t0
        assert now - t0 >= packet.t_end * 1e-6 - 1e-4


def test_rate_limit_thins_evenly_and_counts() -> None:
    rec = _uniform_recording(100_000, 0.5)
    emu = CameraEmulator(rec.packets, packet_us=1000, speed=0, rate_limit_ev_s=20_000)
    packets = list(emu.packets())
    assert all(len(p) <= 20 for p in packets)
    delivered = sum(len(p) for p in packets)
    assert abs(delivered - 10_000) < 300
    assert delivered + emu.stats.rate_limited_events == len(rec.events)
    assert emu.stats.events == delivered


def test_thin_events_keeps_an_even_subset() -> None:
    ev = make_events(np.arange(100), np.zeros(100), np.zeros(100), np.zeros(100))
    kept = thin_events(ev, 10)
    assert np.array_equal(kept["t"], np.arange(0, 100, 10))
    assert len(thin_events(ev, 0)) == 0 and thin_events(ev, 200) is ev


def test_dropped_packets_are_counted_and_time_stays_covered() -> None:
    rec = _uniform_recording(50_000, 0.4)
    emu = CameraEmulator(rec.packets, packet_us=1000, speed=0, drop_probability=0.3, seed=2)
    packets = list(emu.packets())
    assert len(packets) == 400
    assert all(a.t_end == b.t_start for a, b in zip(packets, packets[1:]))
    assert 0.22 < emu.stats.dropped_packets / 400 < 0.38
    assert emu.stats.events + emu.stats.dropped_events == len(rec.events)


def test_loop_continues_time_upwards() -> None:
    rec = _uniform_recording(10_000, 0.1)
    emu = CameraEmulator(rec.packets, packet_us=10_000, speed=0, loop=True)
    packets = []
    for p in emu.packets():
        packets.append(p)
        if p.t_end >= 250_000:
            break
    ev = concat_events([p.events for p in packets])
    assert np.all(np.diff(ev["t"]) >= 0)
    assert emu.stats.loops == 2
    second = ev[(ev["t"] >= 100_000) & (ev["t"] < 200_000)]
    assert np.array_equal(second["t"] - 100_000, rec.events["t"])
    assert np.array_equal(second["x"], rec.events["x"])


def test_stopping_ends_a_paced_stream_promptly() -> None:
    rec = _uniform_recording(1_000, 30.0)
    stop = threading.Event()
    emu = CameraEmulator(rec.packets, packet_us=100_000, speed=1.0, stopping=stop, loop=True)
    threading.Timer(0.2, stop.set).start()
    t0 = time.perf_counter()
    n = sum(1 for _ in emu.packets())
    assert time.perf_counter() - t0 < 0.6
    assert n <= 3


def test_host_and_device_time_are_both_noted() -> None:
    rec = _uniform_recording(1_000, 0.05)
    emu = CameraEmulator(rec.packets, packet_us=10_000, speed=0)
    before = time.time()
    list(emu.packets())
    assert [t.t_end_us for t in emu.timing] == [10_000, 20_000, 30_000, 40_000, 50_000]
    assert all(before <= t.host_s <= time.time() for t in emu.timing)
