"""One streaming pass over a recording that gathers the facts ``evstream info`` prints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evstream.io.recording import Recording

__all__ = ["summarize"]


def summarize(rec: Recording, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Facts of ``rec`` in constant memory.

    Returns a dict with ``path``, ``format``, ``width``, ``height`` (pixels),
    ``events``, ``t_first``, ``t_last`` (µs, ``None`` without events),
    ``on_events``, ``sum_x``, ``sum_y``, ``duration_us`` (``t_last - t_first``),
    ``rate_ev_s`` (events per second of recording time) and ``metadata``.
    ``progress`` is called with the bytes read so far after each block.
    """
    n = on = sx = sy = 0
    t_first = t_last = None
    for block in rec.blocks():
        if progress is not None:
            progress(rec.bytes_read)
        if not len(block):
            continue
        if t_first is None:
            t_first = int(block["t"][0])
        t_last = int(block["t"][-1])
        n += len(block)
        on += int(np.count_nonzero(block["p"]))
        sx += int(block["x"].sum(dtype=np.int64))
        sy += int(block["y"].sum(dtype=np.int64))
    duration = (t_last - t_first) if n else 0
    return {
        "path": str(rec.path),
        "format": rec.format,
        "width": rec.width,
        "height": rec.height,
        "events": n,
        "t_first": t_first,
        "t_last": t_last,
        "on_events": on,
        "sum_x": sx,
        "sum_y": sy,
        "duration_us": duration,
        "rate_ev_s": n / (duration * 1e-6) if duration > 0 else None,
        "metadata": rec.metadata,
    }
