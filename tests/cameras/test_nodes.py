"""The cameras.* nodes as plain objects and inside a graph."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from evstream.cameras.nodes import EmulatorSource, LiveCameraSource, SyntheticSource
from evstream.errors import UserError
from evstream.events import concat_events
from evstream.graph import Graph, ParamError, Sink, load_graph
from evstream.graph.registry import get

from .fake_drivers import Name, fake_dv_processing, fake_neuromorphic_drivers, nd_events, nd_step
from .test_backends import drivers  # noqa: F401 - fixture

DVS128 = "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"


class Collect(Sink):
    type_name = "test.collect"
    input_kind = "events"
    params = {}

    def start(self) -> None:
        self.packets = []

    def consume(self, packet, port) -> None:  # noqa: ANN001
        self.packets.append(packet)


def test_registered_under_their_type_names() -> None:
    assert get("cameras.synthetic") is SyntheticSource
    assert get("cameras.emulator") is EmulatorSource
    assert get("cameras.live") is LiveCameraSource


def test_synthetic_node_in_a_graph_covers_time_without_gaps() -> None:
    g = Graph()
    src = g.add(SyntheticSource("cam", scene="shapes", width=32, height=32, duration_s=0.2, speed=0.0,
                                packet_us=2000, frame_us=1000))
    out = g.add(Collect("out"), input=src)
    stats = g.run(handle_signals=False)
    packets = out.packets
    assert len(packets) == 100 and packets[0].t_start == 0 and packets[-1].t_end == 200_000
    assert all(a.t_end == b.t_start for a, b in zip(packets, packets[1:]))
    assert stats["nodes"]["cam"]["events"] == sum(len(p) for p in packets) > 0


def test_still_scene_gives_empty_packets() -> None:
    node = SyntheticSource("cam", scene="shapes", width=16, height=16, duration_s=0.05, speed=0.0, noise_hz=0.0,
                           contrast=0.0)
    node.start()
    packets = list(node.generate())
    assert len(packets) == 50 and all(len(p) == 0 for p in packets)


def test_graph_file_with_a_synthetic_camera(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[[node]]\nname = "cam"\ntype = "cameras.synthetic"\ngestures = 1\nwidth = 48\nheight = 48\n'
                    'speed = 0.0\n\n[[node]]\nname = "n"\ntype = "core.count"\ninput = "cam"\n')
    stats = load_graph(path, overrides={"cam.seed": 5}).run(handle_signals=False)
    node = SyntheticSource("ref", gestures=1, width=48, height=48, speed=0.0, seed=5)
    node.start()
    assert stats["nodes"]["n"]["events_in"] == sum(len(p) for p in node.generate()) > 0


def test_emulator_node_replays_a_recording_exactly(recordings_dir: Path) -> None:
    import evstream.io as eio

    node = EmulatorSource("emu", path=str(recordings_dir / DVS128), speed=0.0, packet_us=20_000)
    node.start()
    packets = list(node.generate())
    assert np.array_equal(concat_events([p.events for p in packets]), eio.read(recordings_dir / DVS128))
    assert all(p.duration_us == 20_000 for p in packets[:-1])
    assert node.stats_extra()["packets"] == len(packets)


def test_paced_endless_source_stops_on_request() -> None:
    node = SyntheticSource("cam", scene="shapes", width=16, height=16, speed=1.0, packet_us=10_000)
    node.start()
    threading.Timer(0.3, node.stopping.set).start()
    packets = list(node.generate())
    assert 10 <= len(packets) <= 40


@pytest.mark.parametrize("cls, values, match", [
    (SyntheticSource, {"scene": "cubes"}, "must be one of"),
    (SyntheticSource, {"packet_us": 1500}, "multiple of frame_us"),
    (SyntheticSource, {"labels": [12]}, "out of range"),
    (SyntheticSource, {"gesture_s": [2.0, 1.0]}, "gesture_s"),
    (SyntheticSource, {"drop_probability": 2.0}, "drop_probability"),
    (SyntheticSource, {"threshold": -1.0}, "threshold"),
    (EmulatorSource, {"path": "/nonexistent.aedat4"}, "no such file"),
    (LiveCameraSource, {"roi": [1, 2]}, "roi"),
])
def test_bad_parameters_are_user_errors(cls, values: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        cls("n", **values).start()


def test_live_node_over_a_fake_camera(drivers) -> None:  # noqa: F811
    script = [nd_step(nd_events([1, 2], [3, 4], [5, 6], [True, False]), 10.0),
              nd_step(None, 10.1, dropped=4, current_t=900)]
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "S1", None)], script), dv=fake_dv_processing([]))
    node = LiveCameraSource("cam", serial="S1", roi=[0, 0, 10, 10])
    node.start()
    packets = list(node.generate())
    node.close()
    assert [(p.t_start, p.t_end, len(p)) for p in packets] == [(1, 3, 2), (3, 900, 0)]
    extra = node.stats_extra()
    assert extra["backend"] == "neuromorphic-drivers" and extra["serial"] == "S1" and extra["dropped_packets"] == 4


def test_live_node_without_camera_is_a_user_error(drivers) -> None:  # noqa: F811
    drivers(nd=fake_neuromorphic_drivers([]), dv=fake_dv_processing([]))
    with pytest.raises(UserError, match="no camera found"):
        LiveCameraSource("cam").start()
    with pytest.raises(ParamError):
        LiveCameraSource("cam", backend="flir")
