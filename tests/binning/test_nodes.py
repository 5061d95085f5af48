"""The binning.*, filters.* and tonic.* node types: as plain objects and in a live graph."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from evstream.binning import DenoiseFilter, FrameConfig, make_binner
from evstream.events import EventPacket
from evstream.graph import Graph, ParamError, Sink, Source
from evstream.graph.registry import get
from tests.binning.streams import AEDAT4_DVS128


def _packets(packet: EventPacket, step_us: int) -> list[EventPacket]:
    return list(packet.split_every(step_us, origin_us=0))


def test_binner_node_equals_the_binner(recording):
    packet = recording(AEDAT4_DVS128).slice_time(1718320899149165, 1718320899649165)
    node = get("binning.voxel")("vox", window_us=25_000, n_time_bins=3, crop=[16, 16, 96, 96], downsample=3)
    out = [f for p in _packets(packet, 7_000) for f in node.process(p, "in")] + node.flush()
    binner = make_binner(FrameConfig(width=128, height=128, window_us=25_000, representation="voxel",
                                     n_time_bins=3, crop=(16, 16, 96, 96), downsample=3))
    ref = binner(packet.events)
    np.testing.assert_array_equal(np.concatenate([f.data for f in out]), ref[:sum(len(f) for f in out)])
    assert out[0].data.shape[1:] == (3, 32, 32)
    assert node.stats_extra()["frames_out"] == sum(len(f) for f in out)


def test_filter_node_equals_the_filter(recording):
    packet = recording(AEDAT4_DVS128)[:3000]
    node = get("filters.denoise")("dn", time_us=20_000, neighbours=4)
    out = np.concatenate([q.events for p in _packets(packet, 50_000) for q in node.process(p, "in")])
    np.testing.assert_array_equal(out, DenoiseFilter(128, 128, time_us=20_000, neighbours=4).apply(packet.events))


def test_geometry_changing_filter_nodes_report_the_new_geometry(recording):
    packet = recording(AEDAT4_DVS128)[:100]
    roi = get("filters.roi")("roi", x=10, y=20, w=30, h=40).process(packet, "in")[0]
    rot = get("filters.orient")("rot", rotate=90).process(roi, "in")[0]
    assert (roi.width, roi.height, rot.width, rot.height) == (30, 40, 40, 30)


def test_tonic_nodes(recording):
    packet = recording(AEDAT4_DVS128)[:2000]
    events_node = get("tonic.events")("t1", transform="Denoise", kwargs={"filter_time": 20_000})
    kept = events_node.process(packet, "in")[0]
    np.testing.assert_array_equal(kept.events, DenoiseFilter(128, 128, time_us=20_000, neighbours=4)
                                  .apply(packet.events))
    frames_node = get("tonic.frames")("t2", transform="ToFrame", kwargs={"n_time_bins": 4})
    out = frames_node.process(packet, "in")[0]
    assert out.data.shape == (4, 2, 128, 128)
    assert len(packet) - 1 <= out.data.sum() <= len(packet)  # tonic's time bins end at the last event
    assert out.t_start[0] == packet.t_start and out.t_end[-1] == packet.t_end
    with pytest.raises(ParamError, match="did you mean 'Denoise'"):
        get("tonic.events")("t3", transform="Denoize")


def test_bad_node_parameters_are_user_errors(recording):
    node = get("binning.count")("c", window_us=-5)
    with pytest.raises(ParamError):
        get("binning.count")("c", window="10")
    from evstream.errors import UserError
    with pytest.raises(UserError, match="window_us"):
        node.process(recording(AEDAT4_DVS128)[:10], "in")


class PacedTicks(Source):
    """Replays packets at the pace of their ``t_end`` and records when each one left (test source)."""

    type_name = "test.paced_ticks"
    output_kind = "events"

    def __init__(self, name: str, packets: list[EventPacket]) -> None:
        super().__init__(name)
        self.packets = packets
        self.sent_at: list[float] = []

    def generate(self) -> Iterator[EventPacket]:
        t0, wall0 = self.packets[0].t_start, time.perf_counter()
        for packet in self.packets:
            delay = (packet.t_end - t0) / 1e6 - (time.perf_counter() - wall0)
            if delay > 0 and self.stopping.wait(delay):
                return
            self.sent_at.append(time.perf_counter())
            yield packet


class Arrivals(Sink):
    input_kind = "frames"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.frames: list[tuple[int, float, float]] = []  # (window start, events, arrival time)

    def consume(self, packet, port: str) -> None:
        now = time.perf_counter()
        for t0, frame in zip(packet.t_start.tolist(), packet.data):
            self.frames.append((t0, float(frame.sum()), now))


def test_live_graph_emits_frames_at_a_constant_rate_through_gaps(recording):
    """paced replay (2 ms packets, a 60 ms gap of clock ticks only) -> denoise -> 10 ms frames."""
    real = recording(AEDAT4_DVS128)
    t0 = real.t_start // 10_000 * 10_000
    head, tail = real.slice_time(t0, t0 + 60_000), real.slice_time(t0 + 120_000, t0 + 200_000)
    gap = EventPacket(real.events[:0], 128, 128, head.t_end, tail.t_start)  # silence: clock ticks only
    packets = [p for part in (head, gap, tail) for p in part.split_every(2_000)]
    g = Graph()
    src = g.add(PacedTicks("src", packets))
    den = g.add(get("filters.denoise")("denoise", time_us=10_000), input=src)
    frm = g.add(get("binning.count")("frames", window_us=10_000), input=den)
    sink = g.add(Arrivals("sink"), input=frm)
    stats = g.run(handle_signals=False)
    starts = [f[0] for f in sink.frames]
    assert starts == list(range(t0, t0 + 200_000, 10_000))  # every window once, in order: constant rate
    in_gap = [f for f in sink.frames if t0 + 60_000 <= f[0] < t0 + 120_000]
    assert len(in_gap) == 6 and all(events == 0 for _, events, _ in in_gap)
    assert sum(events for _, events, _ in sink.frames) > 0
    # Gap frames left before the replay sent the packets after the gap: no waiting for data.
    first_after_gap = src.sent_at[next(i for i, p in enumerate(packets) if p.t_start >= t0 + 120_000 and len(p))]
    assert all(arrived < first_after_gap for _, _, arrived in in_gap[:-1])
    lag = stats["nodes"]["frames"]
    assert lag["frames_out"] == 20 and lag["frame_lag_p99_us"] is not None


def test_graph_file_replay_denoise_frames_through_a_silent_gap(recording, tmp_path):
    """A TOML graph: io.replay (paced) -> filters.denoise -> binning.count, over a file with 60 ms of silence."""
    import evstream.io as eio
    from evstream.events import concat_events
    from evstream.graph import load_graph

    real = recording(AEDAT4_DVS128)
    t0 = real.t_start // 10_000 * 10_000
    head, tail = real.slice_time(t0, t0 + 40_000).events, real.slice_time(t0 + 100_000, t0 + 150_000).events
    path = tmp_path / "gap.aedat4"
    eio.write(path, concat_events([head, tail]), width=128, height=128)
    graph_file = tmp_path / "live.toml"
    graph_file.write_text(f"""
[[node]]
name = "src"
type = "io.replay"
path = "{path}"
window_us = 2000
speed = 2.0

[[node]]
name = "denoise"
type = "filters.denoise"
input = "src"
time_us = 10000

[[node]]
name = "frames"
type = "binning.count"
input = "denoise"
window_us = 10000
dtype = "int32"
""")
    g = load_graph(graph_file)
    sink = g.add(Arrivals("sink"), input="frames")
    stats = g.run(handle_signals=False)
    starts = [f[0] for f in sink.frames]
    assert starts == list(range(t0, int(tail["t"][-1]) // 10_000 * 10_000 + 10_000, 10_000))
    silent = [events for start, events, _ in sink.frames if t0 + 40_000 <= start < t0 + 100_000]
    assert silent == [0.0] * 6
    assert stats["nodes"]["frames"]["frames_out"] == len(starts)


@pytest.mark.parametrize("origin", [0, 700])
def test_replay_cuts_on_window_edges_so_each_frame_leaves_with_the_packet_that_ends_it(recording, recordings_dir,
                                                                                      origin):
    """io.replay packets end on the edges origin + k * 2 ms; the binner (10 ms windows, same origin) emits each
    window's frame while processing the packet that ends on the window's end, never one packet later."""
    t_first = recording(AEDAT4_DVS128).t_start
    replay = get("io.replay")("src", path=str(recordings_dir / AEDAT4_DVS128), window_us=2_000, origin_us=origin,
                              speed=0.0, end_us=t_first + 300_000)
    denoise = get("filters.denoise")("denoise", time_us=10_000)
    frames = get("binning.count")("frames", window_us=10_000, origin_us=origin, dtype="int32")
    replay.start()
    packets = list(replay.generate())
    assert packets[0].t_start == t_first and packets[-1].t_end == t_first + 300_000
    assert all((p.t_end - origin) % 2_000 == 0 for p in packets[:-1])
    assert all(b.t_start == a.t_end for a, b in zip(packets, packets[1:]))
    emitted = 0
    for packet in packets:
        out = [f for q in denoise.process(packet, "in") for f in frames.process(q, "in")]
        ends = [int(e) for f in out for e in f.t_end]
        assert ends == ([packet.t_end] if (packet.t_end - origin) % 10_000 == 0 else []), packet
        emitted += len(ends)
    assert emitted == (t_first + 300_000 - origin) // 10_000 - (t_first - origin) // 10_000
