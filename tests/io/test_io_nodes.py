"""Graph nodes io.read / io.replay / io.write, as plain objects and in a running graph; evstream play."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from evstream.cli.main import main
from evstream.errors import UserError
from evstream.graph import Graph
from evstream.graph.registry import get
from evstream.io.nodes import ReadSource, ReplaySource, WriteSink
from tests.conftest import RECORDINGS

AEDAT4 = RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4"
NMNIST = RECORDINGS / "nmnist/nmnist-tonic-sample.bin"


def test_types_are_registered() -> None:
    assert get("io.read") is ReadSource and get("io.replay") is ReplaySource and get("io.write") is WriteSink


def test_read_to_write_graph_is_lossless(tmp_path: Path) -> None:
    g = Graph()
    src = g.add(ReadSource("src", path=str(AEDAT4), packet_events=1000))
    g.add(WriteSink("out", path=str(tmp_path / "copy.h5")), input=src, policy="block", queue=4)
    stats = g.run()
    assert stats["nodes"]["out"]["events_written"] == 111954
    assert np.array_equal(eio.read(tmp_path / "copy.h5"), eio.read(AEDAT4))


def test_read_source_windows_as_plain_object() -> None:
    node = ReadSource("src", path=str(NMNIST), window_us=50_000)
    node.start()
    packets = list(node.generate())
    node.close()
    assert all(p.duration_us == 50_000 for p in packets[:-1])
    assert sum(len(p) for p in packets) == 4325 and node.progress()[0] == node.progress()[1]


class FakeClock:
    """Stands in for time.perf_counter and the stopping event: waits advance the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False

    def is_set(self) -> bool:
        return False


def test_replay_paces_packets_by_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("evstream.io.nodes.time.perf_counter", clock.perf_counter)
    node = ReplaySource("r", path=str(NMNIST), window_us=10_000, speed=2.0)
    node.stopping = clock
    node.start()
    released = []
    for packet in node.generate():
        released.append((clock.now - 100.0, packet))
    first = released[0][1].t_start
    for wall, packet in released:  # each packet leaves when the clock reaches its end time / speed
        assert wall == pytest.approx((packet.t_end - first) / 1e6 / 2.0)
    assert node.stats_extra()["passes"] == 1


def test_replay_loops_shift_time_forward() -> None:
    node = ReplaySource("r", path=str(NMNIST), window_us=20_000, speed=0.0, loops=3)
    node.start()
    packets = list(node.generate())
    single = ReplaySource("r1", path=str(NMNIST), window_us=20_000, speed=0.0)
    single.start()
    once = list(single.generate())
    shift = -(-(once[-1].t_end - once[0].t_start) // 20_000) * 20_000  # whole windows: edges stay edges
    assert len(packets) == 3 * len(once)
    assert [p.seq for p in packets] == list(range(len(packets)))
    assert all(p.t_end % 20_000 == 0 for p in packets)  # cut on absolute edges (origin 0)
    assert all(b.t_start == a.t_end for a, b in zip(packets, packets[1:]))  # no gap between passes
    for k in range(3):
        for a, b in zip(once, packets[k * len(once):(k + 1) * len(once)]):
            assert b.t_end == a.t_end + k * shift
            assert np.array_equal(b.events["t"], a.events["t"] + k * shift)
            assert np.array_equal(b.events["x"], a.events["x"])
    times = np.concatenate([p.events["t"] for p in packets])
    assert np.all(np.diff(times) >= 0)


def test_replay_start_end(tmp_path: Path) -> None:
    full = eio.read(NMNIST)
    t0, t1 = int(full["t"][100]), int(full["t"][3000])
    node = ReplaySource("r", path=str(NMNIST), speed=0.0, start_us=t0, end_us=t1, window_us=7_000)
    node.start()
    packets = list(node.generate())
    assert packets[0].t_start == t0 and packets[-1].t_end == t1
    assert sum(len(p) for p in packets) == int(np.count_nonzero((full["t"] >= t0) & (full["t"] < t1)))


def test_replay_bad_params() -> None:
    node = ReplaySource("r", path=str(NMNIST), speed=-1.0)
    with pytest.raises(UserError, match="speed >= 0"):
        node.start()


def test_play_cli_unpaced(capsys: pytest.CaptureFixture) -> None:
    assert main(["play", str(NMNIST), "--speed", "0", "--sink", "core.count", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["nodes"]["replay"]["events_out"] == 4325


def test_play_cli_bad_file(capsys: pytest.CaptureFixture) -> None:
    assert main(["play", str(RECORDINGS / "bad/text-file-named.dat")]) == 2
    assert "text-file-named.dat" in capsys.readouterr().err
