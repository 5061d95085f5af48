"""Live viewer (pyqtgraph, imported lazily): events with decay, binned frames, a spike raster,
the predicted label with its confidence, and latency / rate / drop stats.

* :mod:`evstream.viz.state`: :class:`ViewState`, what the pipeline hands to the
  viewer (no Qt; written by graph threads, read by the drawing timer);
* :mod:`evstream.viz.nodes`: the ``viz.view`` sink node feeding a ``ViewState``;
* :mod:`evstream.viz.window`: the Qt window and :func:`~evstream.viz.window.show`,
  which runs a graph with the window open (needs the ``viz`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = ["display_available", "qt_missing"]


def qt_missing() -> str | None:
    """The name of the first missing viewer package (pyqtgraph, PySide6), or ``None`` (no import done)."""
    for module in ("pyqtgraph", "PySide6"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def display_available() -> bool:
    """Whether a window can open: a Qt platform is set (e.g. offscreen), or X11 / Wayland, or macOS / Windows."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
