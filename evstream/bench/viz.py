"""``evstream bench viz``: the viewer's per-event work (folding events into its last-event maps)
against plain numpy fancy-index assignment, and the cost of one view snapshot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from evstream.bench.timing import best_of

HELP = "viewer: events folded per second (Numba kernel vs numpy indexing), snapshot time per view frame"

_RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "gestures.aedat4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", default=str(_RECORDING), help="events to fold (default: the gesture recording)")
    parser.add_argument("--events", type=int, default=10_000_000, help="events folded per case (the recording tiled)")
    parser.add_argument("--packet", type=int, default=10_000, help="events per packet (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")


def _events(path: str, n: int) -> np.ndarray:
    from evstream.io import read

    data = read(path)
    events = getattr(data, "events", data)
    return np.resize(events, n) if len(events) else events


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from evstream.viz.state import ViewState

    events = _events(args.recording, args.events)
    width, height = int(events["x"].max()) + 1, int(events["y"].max()) + 1
    packets = [events[i: i + args.packet] for i in range(0, len(events), args.packet)]
    state = ViewState()
    state.add_events(packets[0], width, height, 0)  # compile / load the kernel

    def ours() -> None:
        for p in packets:
            state.add_events(p, width, height, 0)

    last_t = np.zeros((height, width), np.int64)
    last_p = np.zeros((height, width), np.int8)

    def peer() -> None:
        for p in packets:
            last_t[p["y"], p["x"]] = p["t"]
            last_p[p["y"], p["x"]] = p["p"]

    t_ours, t_peer = best_of(ours, args.repeat, warm_up=False)[0], best_of(peer, args.repeat, warm_up=False)[0]
    snap = best_of(state.snapshot, max(args.repeat, 10), warm_up=False)[0]
    n = len(events)
    return [
        {"case": "fold events", "tool": "evstream", "events": n, "mev_s": round(n / t_ours / 1e6, 2),
         "ratio": round(t_peer / t_ours, 2)},
        {"case": "fold events", "tool": "numpy indexing", "events": n, "mev_s": round(n / t_peer / 1e6, 2)},
        {"case": "view snapshot", "tool": "evstream", "pixels": width * height, "ms": round(snap * 1e3, 3)},
    ]
