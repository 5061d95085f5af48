"""Streaming event writers: the shared base class and :func:`open_writer` / :func:`write`.

A writer takes event arrays or packets in time order through :meth:`EventWriter.write`
(any number of calls, constant memory) and finishes the file in :meth:`EventWriter.close`
(also on ``with`` exit). Events that are unsorted, outside the declared sensor, or
beyond what the format can store raise :class:`~evstream.io.WriteError` before anything
of them is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket, as_events
from evstream.io.errors import WriteError
from evstream.io.record_kernels import first_invalid

__all__ = ["EventWriter", "zeroed_padding"]


class EventWriter:
    """Base of the format writers.

    Args:
        path: the file to create (overwritten).
        width, height: sensor size in pixels, stored in the file where the format allows.

    Subclasses set ``format`` and ``max_size`` (largest width/height the format stores)
    and implement ``_write(events)`` and ``_close()``.
    """

    format: ClassVar[str] = ""
    max_size: ClassVar[int] = 65535

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        self.path = Path(path)
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, (int, np.integer)) or not 0 < value <= self.max_size:
                raise WriteError(f"{self.path}: {name} must be an integer in 1..{self.max_size} pixels for "
                                 f"{self.format} files (got {value!r})")
        self.width = int(width)
        self.height = int(height)
        self.count = 0
        self.last_t = np.iinfo(np.int64).min
        self.closed = False

    def write(self, events: np.ndarray | EventPacket) -> None:
        """Append events (an :data:`EVENT_DTYPE` array, any t/x/y/p structured array, or a packet)."""
        if self.closed:
            raise WriteError(f"{self.path}: the writer is closed")
        if isinstance(events, EventPacket):
            events = events.events
        try:
            events = np.ascontiguousarray(as_events(events))
        except (TypeError, ValueError) as exc:
            raise WriteError(f"{self.path}: {exc}") from None
        if not len(events):
            return
        bad = first_invalid(events.view(np.int64).reshape(-1, 2), self.last_t, self.width, self.height)
        if bad >= 0:
            ev = events[bad]
            if int(ev["t"]) < (self.last_t if bad == 0 else int(events["t"][bad - 1])):
                what = f"time {ev['t']} µs comes before the previous event's: write events sorted by t"
            else:
                what = f"pixel ({ev['x']}, {ev['y']}) lies outside the {self.width}x{self.height} sensor"
            raise WriteError(f"{self.path}: event {self.count + bad}: {what}")
        self._write(events)
        self.count += len(events)
        self.last_t = int(events["t"][-1])

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, events: np.ndarray) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


def zeroed_padding(events: np.ndarray) -> np.ndarray:
    """``events`` with the 3 pad bytes of every record zero (copies only when needed)."""
    raw = events.view(np.int64).reshape(-1, 2)
    if not np.any(raw[:, 1] >> 40):
        return events
    out = np.zeros(len(events), EVENT_DTYPE)
    out.view(np.int64).reshape(-1, 2)[:, 0] = raw[:, 0]
    out.view(np.int64).reshape(-1, 2)[:, 1] = raw[:, 1] & ((1 << 40) - 1)
    return out
