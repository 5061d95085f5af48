"""Facts of an event array in the form of ``MANIFEST.json`` oracle entries."""

from __future__ import annotations

import numpy as np

FACT_KEYS = ("event_count", "t_first_us", "t_last_us", "on_count", "sum_x", "sum_y")


def facts(events: np.ndarray) -> dict[str, int | None]:
    """Count, first/last time, ON count and coordinate sums (Python ints, like the manifest)."""
    n = len(events)
    return {
        "event_count": n,
        "t_first_us": int(events["t"][0]) if n else None,
        "t_last_us": int(events["t"][-1]) if n else None,
        "on_count": int(np.count_nonzero(events["p"])),
        "sum_x": int(events["x"].sum(dtype=np.int64)),
        "sum_y": int(events["y"].sum(dtype=np.int64)),
    }


def assert_valid(events: np.ndarray, width: int, height: int) -> None:
    """Events obey the packet contract: sorted times, pixels inside the sensor, polarity 0/1."""
    if len(events):
        t = events["t"]
        assert np.all(t[1:] >= t[:-1])  # not np.diff: it wraps around for times far apart (int64)
        assert int(events["x"].max()) < width and int(events["y"].max()) < height
        assert int(events["p"].max()) <= 1
