"""Slow, readable references for the binning kernels: plain Python/numpy, one event at a time.

They restate each definition of :mod:`evstream.binning` literally (window
membership by arithmetic on absolute edges, exponentials per pixel, per-pixel
dictionaries), so a kernel bug cannot hide in shared code.
"""

from __future__ import annotations

import math

import numpy as np


def window_index(t: int, origin: int, window: int) -> int:
    return (t - origin) // window


def frames(events: np.ndarray, width: int, height: int, window: int, origin: int, representation: str,
           first: int, last: int, stride: int | None = None, crop=None, factor: int = 1,
           n_bins: int = 5, tau: float = 1000.0) -> np.ndarray:
    """Frames of windows ``first..last`` (indices, inclusive) of ``[origin + k*stride, + window)``."""
    stride = stride or window
    cx, cy, cw, ch = crop or (0, 0, width, height)
    out_h, out_w = math.ceil(ch / factor), math.ceil(cw / factor)
    channels = {"count": 2, "binary": 2, "timesurface": 2, "signed": 1, "rate": 1, "voxel": n_bins}[representation]
    out = np.zeros((last - first + 1, channels, out_h, out_w), dtype=np.float64)
    for k in range(first, last + 1):
        start = origin + k * stride
        end = start + window
        frame = out[k - first]
        if representation == "timesurface":
            latest: dict[tuple[int, int, int], int] = {}  # output pixel -> latest event time
            for ev in events:
                x, y = int(ev["x"]), int(ev["y"])
                if ev["t"] < end and cx <= x < cx + cw and cy <= y < cy + ch:
                    key = (int(ev["p"]), (y - cy) // factor, (x - cx) // factor)
                    latest[key] = max(latest.get(key, int(ev["t"])), int(ev["t"]))
            for key, lt in latest.items():
                frame[key] = math.exp(-(end - lt) / tau)
            continue
        for ev in events:
            t, x, y, p = int(ev["t"]), int(ev["x"]), int(ev["y"]), int(ev["p"])
            if not (start <= t < end and cx <= x < cx + cw and cy <= y < cy + ch):
                continue
            r, c = (y - cy) // factor, (x - cx) // factor
            if representation in ("count", "binary"):
                frame[p, r, c] += 1
            elif representation == "signed":
                frame[0, r, c] += 1 if p else -1
            elif representation == "rate":
                frame[0, r, c] += 1e6 / window
            elif representation == "voxel":
                u = n_bins * (t - start) / window
                b = math.floor(u)
                pol = 1.0 if p else -1.0
                if b < n_bins:
                    frame[b, r, c] += pol * (1 - (u - b))
                if b + 1 < n_bins:
                    frame[b + 1, r, c] += pol * (u - b)
        if representation == "binary":
            np.minimum(frame, 1, out=frame)
    return out


def count_windows(events: np.ndarray, width: int, height: int, count: int, timeout: int | None = None,
                  stream_end: int | None = None) -> tuple[np.ndarray, list, list]:
    """Count frames of ``count`` consecutive events (last one partial), with their time ranges.

    With ``timeout`` a frame also ends at its first event time + ``timeout`` when a later event or
    ``stream_end`` (the stream is complete before it) reaches that time.
    """
    groups: list[list] = []
    deadlines: list[int | None] = []
    for ev in events:
        t = int(ev["t"])
        if groups and len(groups[-1]) < count and (timeout is None or t < int(groups[-1][0]["t"]) + timeout):
            groups[-1].append(ev)
            continue
        if groups and len(groups[-1]) < count:
            deadlines[-1] = int(groups[-1][0]["t"]) + timeout  # closed by time
        groups.append([ev])
        deadlines.append(None)
    if groups and timeout is not None and stream_end is not None and len(groups[-1]) < count \
            and stream_end >= int(groups[-1][0]["t"]) + timeout:
        deadlines[-1] = int(groups[-1][0]["t"]) + timeout
    out, starts, ends = [], [], []
    for chunk, deadline in zip(groups, deadlines):
        frame = np.zeros((2, height, width))
        for ev in chunk:
            frame[int(ev["p"]), int(ev["y"]), int(ev["x"])] += 1
        out.append(frame)
        starts.append(int(chunk[0]["t"]))
        ends.append(deadline if deadline is not None else int(chunk[-1]["t"]) + 1)
    return np.array(out).reshape(-1, 2, height, width), starts, ends


def refractory(events: np.ndarray, period: int) -> np.ndarray:
    last: dict[tuple[int, int], int] = {}
    keep = []
    for ev in events:
        key = (int(ev["x"]), int(ev["y"]))
        keep.append(key not in last or int(ev["t"]) - last[key] > period)
        last[key] = int(ev["t"])
    return events[np.array(keep, dtype=bool)]


def denoise(events: np.ndarray, time_us: int, neighbours: int) -> np.ndarray:
    last: dict[tuple[int, int], int] = {}
    offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if neighbours == 8:
        offsets += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    keep = []
    for ev in events:
        x, y, t = int(ev["x"]), int(ev["y"]), int(ev["t"])
        last[(x, y)] = t
        keep.append(any((x + dx, y + dy) in last and t - last[(x + dx, y + dy)] < time_us for dx, dy in offsets))
    return events[np.array(keep, dtype=bool)]


def decimate(events: np.ndarray, n: int) -> np.ndarray:
    seen: dict[tuple[int, int], int] = {}
    keep = []
    for ev in events:
        key = (int(ev["x"]), int(ev["y"]))
        seen[key] = seen.get(key, 0) + 1
        keep.append(seen[key] % n == 0)
    return events[np.array(keep, dtype=bool)]
