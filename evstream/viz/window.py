"""The Qt viewer window (pyqtgraph) and :func:`show`, which runs a graph with it open.

The graph runs in a background thread; the window draws from the view
node's :class:`~evstream.viz.state.ViewState` on a Qt timer, so a slow draw
only skips view frames and never holds the pipeline. Closing the window,
Ctrl-C, ``max_seconds`` or ``max_frames`` stop the graph, which drains and
returns its stats.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import numpy as np

from evstream.errors import require
from evstream.viz.state import Snapshot, ViewState

__all__ = ["event_image", "make_window", "show"]

_ON = np.array([255, 80, 40], np.float32)
_OFF = np.array([40, 160, 255], np.float32)


def event_image(events: np.ndarray) -> np.ndarray:
    """``(H, W)`` signed decay in [-1, 1] -> ``(H, W, 3)`` uint8: ON red, OFF blue, black background."""
    on = np.clip(events, 0.0, 1.0)[..., None] * _ON
    off = np.clip(-events, 0.0, 1.0)[..., None] * _OFF
    return (on + off).astype(np.uint8)


def _qt() -> tuple[Any, Any, Any]:
    pg = require("pyqtgraph", "pyqtgraph", "viz", "the live viewer")
    require("PySide6", "PySide6-Essentials", "viz", "the live viewer")
    from PySide6 import QtCore, QtWidgets

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    return pg, QtCore, QtWidgets


def _make_window_class() -> type:
    pg, QtCore, QtWidgets = _qt()

    class _Window(QtWidgets.QWidget):
        """Three images (events, binned frame, spike raster), the label line and the stats line."""

        def __init__(self, state: ViewState, title: str, layer_name: str, fps: float) -> None:
            super().__init__()
            self.state = state
            self.setWindowTitle(title)
            self.resize(1100, 480)
            layout = QtWidgets.QVBoxLayout(self)
            self.plots = pg.GraphicsLayoutWidget()
            self.plots.setBackground("k")
            layout.addWidget(self.plots, stretch=1)
            self.images = {}
            for i, caption in enumerate(("events", "binned frame", layer_name)):
                view = self.plots.addViewBox(row=0, col=i, lockAspect=caption != layer_name, invertY=True)
                view.setMouseEnabled(False, False)
                item = pg.ImageItem()
                view.addItem(item)
                self.plots.addLabel(caption, row=1, col=i)
                self.images[caption] = item
            self.layer_name = layer_name
            self.label = QtWidgets.QLabel("waiting for data")
            self.label.setStyleSheet("QLabel { background: black; color: white; font-size: 28px; padding: 6px; }")
            layout.addWidget(self.label)
            self.stats = QtWidgets.QLabel("")
            self.stats.setStyleSheet("QLabel { font-family: monospace; }")
            layout.addWidget(self.stats)
            self.on_close: Any = None
            self.on_draw: Any = None
            self.timer = QtCore.QTimer(self)
            self.timer.timeout.connect(self.refresh)
            self.timer.start(max(1, int(1000 / fps)))

        def refresh(self) -> None:
            snap: Snapshot = self.state.snapshot()
            if snap.events is not None:
                self.images["events"].setImage(event_image(snap.events), levels=(0, 255))
            if snap.frame is not None:
                self.images["binned frame"].setImage(snap.frame, levels=(0, max(1.0, float(snap.frame.max()))))
            if snap.raster is not None:
                self.images[self.layer_name].setImage(snap.raster, levels=(0, 1))
            if snap.label is not None:
                self.label.setText(f"{snap.label}   {snap.confidence:.0%}")
            s = snap.stats
            lat = ("-" if s["latency_p50_us"] is None else
                   f"{s['latency_p50_us'] / 1e3:.1f} / {s['latency_p99_us'] / 1e3:.1f} ms")
            self.stats.setText(f"{s['events']} events  {s['events_per_s'] / 1e3:.1f} kev/s  stream {s['stream_s']:.1f} s  "
                               f"frames {s['frames_in']} drawn {s['frames_drawn']} view-dropped "
                               f"{s['view_frames_dropped']}  latency p50/p99 {lat}")
            if self.on_draw is not None:
                self.on_draw()

        def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
            self.timer.stop()
            if self.on_close is not None:
                self.on_close()
            super().closeEvent(event)

    return _Window


def make_window(state: ViewState, title: str = "evstream", layer_name: str = "spikes", fps: float = 30.0) -> Any:
    """A new viewer window on ``state`` (creates the QApplication if needed); not shown yet."""
    _, _, QtWidgets = _qt()
    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    return _make_window_class()(state, title, layer_name, fps)


def show(graph: Any, view: Any, max_seconds: float | None = None, screenshot: str | None = None,
         max_frames: int | None = None) -> dict[str, Any]:
    """Run ``graph`` with a window on its ``viz.view`` node ``view``; returns the graph's stats.

    Args:
        max_seconds: close after this many wall seconds.
        screenshot: save a PNG of the window here when it closes (or after ``max_frames``).
        max_frames: close after this many draws (tests, documentation shots).
    """
    _, QtCore, QtWidgets = _qt()
    window = make_window(view.state, view.title, view.layer_name, view.fps)
    app = QtWidgets.QApplication.instance()
    result: dict[str, Any] = {}

    def run_graph() -> None:
        try:
            result["stats"] = graph.run(handle_signals=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            result["error"] = exc

    def close() -> None:
        if screenshot:
            window.grab().save(screenshot)
        window.on_close = None
        window.close()
        graph.stop("window closed")

    def after_draw() -> None:
        if max_frames is not None and window.state.draws >= max_frames:
            close()
        elif not thread.is_alive():
            close()

    window.on_close = lambda: graph.stop("window closed")
    window.on_draw = after_draw
    thread = threading.Thread(target=run_graph, name="evstream:graph", daemon=True)
    previous = signal.signal(signal.SIGINT, lambda *_: QtCore.QTimer.singleShot(0, close)) \
        if threading.current_thread() is threading.main_thread() else None
    if max_seconds:
        QtCore.QTimer.singleShot(int(max_seconds * 1000), close)
    thread.start()
    window.show()
    try:
        app.exec()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        graph.stop("window closed")
        thread.join()
    if "error" in result:
        raise result["error"]
    return result["stats"]
