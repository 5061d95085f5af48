"""Recordings as re-playable packet streams for the camera emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from evstream.errors import UserError
from evstream.events import EventPacket, as_events

__all__ = ["Recording", "open_recording"]

PACKET_EVENTS = 65_536
"""Events per packet read from a recording (the emulator re-cuts them by time)."""


class Recording:
    """A finite event stream that can be played again from the start.

    Args:
        events: :data:`EVENT_DTYPE` array, time-sorted.
        width, height: sensor size in pixels.
        t_start, t_end: covered range in µs (default: the events' span).
    """

    def __init__(self, events: np.ndarray, width: int, height: int,
                 t_start: int | None = None, t_end: int | None = None) -> None:
        whole = EventPacket(events, width, height, t_start, t_end)
        self.events, self.width, self.height = events, whole.width, whole.height
        self.t_start, self.t_end = whole.t_start, whole.t_end

    @property
    def duration_us(self) -> int:
        return self.t_end - self.t_start

    def packets(self) -> Iterator[EventPacket]:
        """The recording in packets of at most :data:`PACKET_EVENTS` events (views), covering its range."""
        whole = EventPacket(self.events, self.width, self.height, self.t_start, self.t_end)
        if not len(whole):
            yield whole
            return
        for i in range(0, len(whole), PACKET_EVENTS):
            yield whole[i:i + PACKET_EVENTS]


def open_recording(path: str | Path) -> Recording:
    """Load a recording for replay: any format :func:`evstream.io.read` knows, or ``.npy`` of events."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such recording; give the path of an event file (aedat4, raw, dat, npy, ...)")
    if path.suffix == ".npy":
        try:
            events = as_events(np.load(path))
        except (ValueError, TypeError, OSError) as exc:
            raise UserError(f"{path}: not an event array ({exc}); expected a .npy of fields t, x, y, p") from exc
        if not len(events):
            return Recording(events, 1, 1)
        return Recording(events, int(events["x"].max()) + 1, int(events["y"].max()) + 1)
    from evstream.io import read  # the IO room's reader: every supported format

    packet = read(path)
    return Recording(packet.events, packet.width, packet.height, packet.t_start, packet.t_end)
