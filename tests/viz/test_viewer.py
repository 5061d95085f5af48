"""The live viewer: the view state (every event folded in, view frames superseded), the window
drawn offscreen from real events (pixels checked), and a fast source that the view keeps up with
by dropping view frames, never events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evstream.events import make_events
from evstream.viz.state import ViewState

REC = str(Path(__file__).resolve().parents[2] / "recordings" / "gestures.aedat4")


def _recording_events(t_end_us: int) -> np.ndarray:
    from evstream.io import read

    data = read(REC)
    events = getattr(data, "events", data)
    return events[events["t"] < t_end_us]


def test_state_keeps_last_event_per_pixel_with_decay() -> None:
    state = ViewState(tau_us=1000.0)
    state.add_events(make_events([0, 500, 1000], [1, 2, 1], [0, 0, 0], [1, 0, 0]), 4, 2, 1000)
    snap = state.snapshot()
    assert snap.events.shape == (2, 4)
    # pixel x=1: ON at 0, then OFF at 1000 = now -> -1; pixel x=2: OFF at 500 -> -exp(-0.5)
    assert snap.events[0, 1] == pytest.approx(-1.0)
    assert snap.events[0, 2] == pytest.approx(-np.exp(-0.5))
    assert snap.events[1].tolist() == [0, 0, 0, 0] and snap.events[0, 0] == 0
    state.add_events(make_events([2000], [3], [1], [1]), 4, 2, 3000)
    assert state.snapshot().events[1, 3] == pytest.approx(np.exp(-1.0))
    assert state.events_in == 4


def test_frames_between_draws_are_dropped_view_frames() -> None:
    state = ViewState()
    for i in range(5):
        state.set_frame(np.full((2, 3, 3), i, np.float32))
    snap = state.snapshot()
    assert snap.frame[0, 0] == 8.0  # the latest frame, channels summed
    state.snapshot()  # nothing new: not a second drawn frame
    state.set_frame(np.zeros((2, 3, 3)), count=3)
    state.snapshot()
    stats = state.stats()
    assert (stats["frames_in"], stats["frames_drawn"], stats["view_frames_dropped"]) == (8, 2, 6)


def test_raster_columns_follow_the_spikes() -> None:
    state = ViewState(raster_neurons=4, history=3)
    spikes = np.zeros((4, 8), np.uint8)
    spikes[0, 0] = spikes[1, 7] = spikes[2, 3] = spikes[3, 2] = 1  # shown: neurons 0, 2, 4, 7 (not 3)
    state.add_labels("x", 0.5, spikes)
    raster = state.snapshot().raster
    assert raster.shape == (4, 3)
    # 4 steps into a history of 3: the oldest step (neuron 0) scrolled out
    assert raster[:, 0].tolist() == [0, 0, 0, 1]  # step 2: neuron 7
    assert raster[:, 1].tolist() == [0, 0, 0, 0]  # step 3: neuron 3, not shown
    assert raster[:, 2].tolist() == [0, 1, 0, 0]  # step 4: neuron 2


@pytest.fixture
def qt(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    pytest.importorskip("pyqtgraph")
    pytest.importorskip("PySide6")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def _crop(image, widget, window) -> np.ndarray:  # noqa: ANN001
    """The pixels of ``widget`` inside a grab of ``window`` as an (H, W, 3) uint8 array."""
    top_left = widget.mapTo(window, widget.rect().topLeft())
    part = image.copy(top_left.x(), top_left.y(), widget.width(), widget.height()).convertToFormat(
        image.Format.Format_RGB888)
    buf = np.frombuffer(part.constBits(), np.uint8, part.sizeInBytes())
    return buf.reshape(part.height(), part.bytesPerLine())[:, : part.width() * 3].reshape(part.height(), part.width(), 3)


def test_screenshot_after_frames_shows_events_and_label(qt, tmp_path) -> None:  # noqa: ANN001
    from evstream.binning import to_frames
    from evstream.viz.window import make_window

    state = ViewState(tau_us=50_000)
    window = make_window(state, "test", "layer 0 spikes", fps=1000)
    window.timer.stop()
    window.show()
    events = _recording_events(2_000_000)
    frames = to_frames(events, width=128, height=128, window_us=50_000, origin_us=0)
    for k in range(20):  # N = 20 frames of 50 ms, the window drawn after each
        chunk = events[(events["t"] >= k * 50_000) & (events["t"] < (k + 1) * 50_000)]
        state.add_events(chunk, 128, 128, (k + 1) * 50_000)
        state.set_frame(frames[k])
        state.add_labels("right_arm_clockwise", 0.87, (np.arange(64) % (k + 2) == 0)[None].astype(np.uint8))
        window.refresh()
        qt.processEvents()
    shot = window.grab()
    path = tmp_path / "view.png"
    assert shot.save(str(path)) and path.stat().st_size > 0
    image = shot.toImage()
    events_px = _crop(image, window.plots, window)[:, : window.plots.width() // 3]
    red = (events_px[..., 0] > 150) & (events_px[..., 2] < 120)
    blue = (events_px[..., 2] > 150) & (events_px[..., 0] < 120)
    assert red.sum() > 20 and blue.sum() > 20, "no ON / OFF event pixels in the events panel"
    label_px = _crop(image, window.label, window)
    text = (label_px.min(axis=2) > 180).sum()
    assert text > 100, "no label text drawn"
    assert window.label.text().startswith("right_arm_clockwise")
    assert state.stats()["frames_drawn"] == 20
    window.close()


def test_fast_source_drops_view_frames_never_events(qt) -> None:  # noqa: ANN001
    from evstream.graph import Graph
    from evstream.graph.registry import get
    from evstream.viz.nodes import ViewNode
    from evstream.viz.window import show

    g = Graph()
    src = g.add(get("io.read")("src", path=REC, window_us=1000))  # unpaced: as fast as it reads
    frames = g.add(get("binning.count")("frames", window_us=1000), input=src)
    view = g.add(ViewNode("view", fps=20.0), input={"events": src, "frames": frames}, queue=64)
    stats = show(g, view)
    events_read = stats["nodes"]["src"]["events_out"]
    assert events_read == len(_recording_events(2**62))
    assert view.state.events_in == events_read  # every event reached the view
    assert stats["nodes"]["view"]["dropped"] == 0
    s = view.state.stats()
    assert s["frames_in"] == stats["nodes"]["frames"]["events_out"] > 1000  # every frame reached the view
    assert s["frames_drawn"] < s["frames_in"] and s["view_frames_dropped"] > 0
    assert stats["stopped"] is None  # ran to the end of the stream, then the window closed


def test_fold_kernel_matches_numpy_on_real_events() -> None:
    from evstream.viz._kernels import fold_events

    events = _recording_events(3_000_000)
    last_t = np.full((128, 128), -1, np.int64)
    last_p = np.zeros((128, 128), np.int8)
    fold_events(events["t"], events["x"], events["y"], events["p"], last_t, last_p)
    ref_t = np.full((128, 128), -1, np.int64)
    ref_p = np.zeros((128, 128), np.int8)
    ref_t[events["y"], events["x"]] = events["t"]  # numpy: the last write per pixel wins
    ref_p[events["y"], events["x"]] = events["p"]
    np.testing.assert_array_equal(last_t, ref_t)
    np.testing.assert_array_equal(last_p, ref_p)


def test_closing_the_window_stops_a_live_graph_and_returns_its_stats(qt) -> None:  # noqa: ANN001
    import threading
    import time

    from evstream.graph import Graph
    from evstream.graph.registry import get
    from evstream.viz.nodes import ViewNode
    from evstream.viz.window import show

    g = Graph()
    src = g.add(get("io.replay")("src", path=REC, speed=1.0))  # 17.7 s of real time
    view = g.add(ViewNode("view", fps=20.0), input={"events": src}, queue=64)
    t0 = time.perf_counter()
    stats = show(g, view, max_seconds=1.5)
    assert time.perf_counter() - t0 < 6.0
    assert stats["stopped"] == "window closed"
    assert 0 < stats["nodes"]["src"]["events_out"] < len(_recording_events(2**62))
    assert view.state.events_in == stats["nodes"]["src"]["events_out"]   # nothing read was lost
    assert not [t for t in threading.enumerate() if t.name.startswith("evstream:")]
