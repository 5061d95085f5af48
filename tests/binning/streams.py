"""Helpers of the binning tests: the shared recordings as packets, random streams, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evstream.events import EventPacket, make_events

AEDAT4_DVS128 = "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
AEDAT4_DVXPLORER = "aedat4/dvxplorer-tonic-sample.aedat4"
NMNIST = "nmnist/nmnist-tonic-sample.bin"


def read_recording(path: Path) -> EventPacket:
    """All events of a shared recording (read with :func:`evstream.io.open`) as one packet."""
    import evstream.io as eio

    recording = eio.open(path)
    return EventPacket(recording.read(), recording.width, recording.height)


def random_events(rng: np.random.Generator, n: int, width: int, height: int, t0: int = 0,
                  span_us: int = 1000) -> np.ndarray:
    """``n`` sorted random events on a ``width`` x ``height`` sensor in ``[t0, t0 + span_us)``."""
    t = np.sort(rng.integers(t0, t0 + span_us, n))
    return make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))


def split_stream(events: np.ndarray, width: int, height: int, t_start: int, t_end: int,
                 cuts: list[int]) -> list[EventPacket]:
    """Cut ``[t_start, t_end)`` at the times ``cuts`` (any order, duplicates give empty packets)."""
    times = [t_start, *sorted(min(max(c, t_start), t_end) for c in cuts), t_end]
    whole = EventPacket(events, width, height, t_start, t_end)
    return [whole.slice_time(a, b) for a, b in zip(times, times[1:])]
