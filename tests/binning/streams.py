"""Helpers of the binning tests: a peer reader for the shared recordings, random streams, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evstream.events import EventPacket, make_events

AEDAT4_DVS128 = "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
AEDAT4_DVXPLORER = "aedat4/dvxplorer-tonic-sample.aedat4"
NMNIST = "nmnist/nmnist-tonic-sample.bin"


def read_recording(path: Path) -> EventPacket:
    """Decode a shared recording with a peer reader (``aedat`` for AEDAT 4; the N-MNIST
    record layout of shared/recordings/README.md otherwise) into one packet."""
    if path.suffix == ".aedat4":
        import aedat

        decoder = aedat.Decoder(str(path))
        stream = next(i for i, s in decoder.id_to_stream().items() if s["type"] == "events")
        width, height = decoder.id_to_stream()[stream]["width"], decoder.id_to_stream()[stream]["height"]
        chunks = [p["events"] for p in decoder if p["stream_id"] == stream and "events" in p]
        raw = np.concatenate(chunks)
        events = make_events(raw["t"].astype(np.int64), raw["x"], raw["y"], raw["on"].astype(np.uint8))
    else:
        b = np.fromfile(path, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
        t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
        events = make_events(t, b[:, 0], b[:, 1], b[:, 2] >> 7)
        width = height = 34
    return EventPacket(events, width, height)


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
