"""What the pipeline hands to the viewer: the latest data, written by graph threads, read on a timer.

Writers (a ``viz.view`` node's thread) only fold new data in, in O(events):
the time and polarity of the last event per pixel, the latest binned frame, a
ring of spike columns, the latest label. Every event is folded in (none is
ever dropped); the drawing timer takes a :meth:`ViewState.snapshot` whenever it
fires, so frames that arrive between two draws are never drawn: those are the
dropped *view* frames, counted in :attr:`ViewState.frames_in` minus
:attr:`ViewState.frames_drawn`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from evstream.graph.stats import LatencyReservoir
from evstream.viz._kernels import fold_events

__all__ = ["Snapshot", "ViewState"]

_NEVER = np.iinfo(np.int64).min // 2


@dataclass
class Snapshot:
    """One drawable view: images and texts computed from a :class:`ViewState` at one instant."""

    events: np.ndarray | None  # (H, W) float32 in [-1, 1]: +decay for ON, -decay for OFF
    frame: np.ndarray | None  # (H, W) float32: the latest binned frame summed over channels
    raster: np.ndarray | None  # (neurons, history) uint8 spike columns, oldest first
    label: str | None
    confidence: float
    stats: dict[str, Any]
    frame_version: int


class ViewState:
    """Thread-safe latest view data.

    Args:
        tau_us: decay time constant of the event image, µs of stream time.
        raster_neurons: neurons shown in the raster (evenly spread over the layer).
        history: steps shown in the raster.
    """

    def __init__(self, tau_us: float = 30_000.0, raster_neurons: int = 128, history: int = 200) -> None:
        self.tau_us = float(tau_us)
        self.raster_neurons = raster_neurons
        self._lock = threading.Lock()
        self._last_t: np.ndarray | None = None
        self._last_p: np.ndarray | None = None
        self._stream_t = 0
        self._frame: np.ndarray | None = None
        self._raster = np.zeros((raster_neurons, history), np.uint8)
        self._raster_steps = 0
        self._pick: np.ndarray | None = None
        self._label: str | None = None
        self._confidence = 0.0
        self.latency = LatencyReservoir(4096)
        self.events_in = 0
        self.frames_in = 0
        self.labels_in = 0
        self.frames_drawn = 0
        self.draws = 0
        self._drawn_version = 0
        self._t0 = time.perf_counter()

    # -- writers (pipeline threads) -------------------------------------------------
    def add_events(self, events: np.ndarray, width: int, height: int, t_end: int) -> None:
        """Fold an :data:`~evstream.events.EVENT_DTYPE` array in (pixels of a ``width`` x ``height`` sensor)."""
        with self._lock:
            if self._last_t is None or self._last_t.shape != (height, width):
                self._last_t = np.full((height, width), _NEVER, np.int64)
                self._last_p = np.zeros((height, width), np.int8)
            if len(events):
                fold_events(events["t"], events["x"], events["y"], events["p"], self._last_t, self._last_p)
            self._stream_t = max(self._stream_t, int(t_end))
            self.events_in += len(events)

    def set_frame(self, frame: np.ndarray, count: int = 1) -> None:
        """The latest binned frame ``(C, H, W)``; ``count`` frames arrived with it (the others are superseded)."""
        image = np.asarray(frame, np.float32).sum(axis=0)
        with self._lock:
            self._frame = image
            self.frames_in += count

    def add_labels(self, label: str | None, confidence: float, spikes: np.ndarray | None = None,
                   latency_us: list[float] | tuple[float, ...] = ()) -> None:
        """The latest label; ``spikes`` ``(steps, neurons)`` add raster columns; ``latency_us`` per label."""
        with self._lock:
            self._label, self._confidence = label, float(confidence)
            self.labels_in += 1
            for value in latency_us:
                self.latency.add(value)
            if spikes is not None and spikes.size:
                spikes = np.asarray(spikes).reshape(len(spikes), -1)
                if self._pick is None or self._pick[-1] >= spikes.shape[1]:
                    n = min(self.raster_neurons, spikes.shape[1])
                    self._pick = np.linspace(0, spikes.shape[1] - 1, n).astype(np.int64)
                for column in spikes[:, self._pick]:
                    self._raster[: len(column), self._raster_steps % self._raster.shape[1]] = column
                    self._raster_steps += 1

    # -- reader (drawing timer) -------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The current view; marks the latest frame as drawn."""
        with self._lock:
            last_t = None if self._last_t is None else self._last_t.copy()
            last_p = None if self._last_p is None else self._last_p.copy()
            frame = self._frame
            start = self._raster_steps % self._raster.shape[1]
            raster = np.roll(self._raster, -start, axis=1) if self._raster_steps else None
            label, confidence, now = self._label, self._confidence, self._stream_t
            version = self.frames_in
            if version != self._drawn_version:
                self.frames_drawn += 1
                self._drawn_version = version
            self.draws += 1
            lat = self.latency.percentiles()
        events = None
        if last_t is not None:
            decay = np.exp(np.minimum(0.0, (last_t - now) / self.tau_us)).astype(np.float32)
            events = np.where(last_p > 0, decay, -decay)
        return Snapshot(events, frame, raster, label, confidence, self.stats(lat), version)

    def stats(self, latency: dict[str, Any] | None = None) -> dict[str, Any]:
        """Counters: events, event rate (per wall second), frames in / drawn / dropped, latency percentiles."""
        elapsed = max(1e-9, time.perf_counter() - self._t0)
        lat = latency if latency is not None else self.latency.percentiles()
        return {"events": self.events_in, "events_per_s": self.events_in / elapsed, "frames_in": self.frames_in,
                "frames_drawn": self.frames_drawn, "view_frames_dropped": max(0, self.frames_in - self.frames_drawn),
                "labels": self.labels_in, "stream_s": self._stream_t / 1e6, **{f"latency_{k}": v for k, v in lat.items()}}
