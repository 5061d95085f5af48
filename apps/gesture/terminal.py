"""The headless end of the app: prints labels as they change, measures latency, scores segments.

A frame's label is *shown* when its smoothed confidence reaches the
threshold, else nothing is shown. :class:`TerminalSink` prints every change of
the shown gesture with its stream time, keeps the per-frame timeline and the
end-to-end latency (event in -> label out, µs) of every label.
:func:`score_segments` compares the timeline with labelled segments: a
segment is recognised when the gesture shown for the longest time inside it is
its class.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from evstream.graph.node import Sink
from evstream.graph.stats import LatencyReservoir

from apps.gesture.recognizer import GestureLabels

__all__ = ["SegmentResult", "TerminalSink", "score_segments"]


@dataclass(frozen=True)
class SegmentResult:
    """One labelled segment ``[start_us, end_us)``: its class and the class shown most inside it (or -1)."""

    truth: int
    start_us: int
    end_us: int
    shown: int

    @property
    def ok(self) -> bool:
        return self.truth == self.shown


class TerminalSink(Sink):
    """Prints the shown gesture whenever it changes; collects timeline and latency.

    Args:
        threshold: smoothed confidence (0..1) needed to show a label.
        out: where lines go (``None``: nothing printed).
    """

    type_name = "gesture.terminal"
    input_kind = "labels"

    def __init__(self, name: str, threshold: float = 0.5, out: TextIO | None = sys.stdout) -> None:
        super().__init__(name)
        self.threshold = threshold
        self.out = out
        self.latency = LatencyReservoir(size=1 << 16)
        self.latencies_seen = 0
        self.t_end: list[int] = []
        self.shown: list[int] = []
        self.changes = 0
        self._current = -1

    def consume(self, packet: GestureLabels, port: str) -> None:
        now = time.perf_counter_ns()
        for ns in getattr(packet, "arrival_ns", ()):
            if ns >= 0:
                self.latency.add((now - int(ns)) / 1e3)
                self.latencies_seen += 1
        names = packet.names or ()
        for label, conf, t_end in zip(packet.label.tolist(), packet.confidence.tolist(), packet.t_end.tolist()):
            shown = label if conf >= self.threshold else -1
            self.t_end.append(t_end)
            self.shown.append(shown)
            if shown != self._current and shown >= 0:
                self.changes += 1
                if self.out is not None:
                    name = names[shown] if shown < len(names) else f"class {shown}"
                    print(f"{t_end / 1e6:8.2f} s  {name:<28s} {conf:5.2f}", file=self.out, flush=True)
            self._current = shown

    def timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """``(t_end µs, shown label or -1)`` of every frame so far."""
        return np.asarray(self.t_end, np.int64), np.asarray(self.shown, np.int64)

    def stats_extra(self) -> dict[str, Any]:
        return {"labels": len(self.shown), "changes": self.changes,
                **{f"latency_{k}": v for k, v in self.latency.percentiles().items()}}


def score_segments(t_end: np.ndarray, shown: np.ndarray, segments: list[tuple[int, int, int]]) -> list[SegmentResult]:
    """Per segment ``(class, start_us, end_us)``: the gesture shown longest by the frames ending inside it."""
    results = []
    for truth, start, end in segments:
        inside = shown[(t_end > start) & (t_end <= end) & (shown >= 0)]
        best = Counter(inside.tolist()).most_common(1)
        results.append(SegmentResult(truth, start, end, best[0][0] if best else -1))
    return results
