"""Recordings as re-playable packet streams for the camera emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from evstream.events import EventPacket

__all__ = ["Recording", "Replayable", "open_recording"]

PACKET_EVENTS = 65_536
"""Events per packet read from a recording (the emulator re-cuts them by time)."""


class Replayable(Protocol):
    """A finite event stream of one sensor (``width`` x ``height`` pixels) that can be played again."""

    width: int
    height: int

    def packets(self) -> Iterator[EventPacket]: ...


class Recording:
    """Events held in memory, replayable.

    Args:
        events: :data:`EVENT_DTYPE` array, time-sorted.
        width, height: sensor size in pixels.
        t_start, t_end: covered range in µs (default: the events' span).
    """

    def __init__(self, events: np.ndarray, width: int, height: int,
                 t_start: int | None = None, t_end: int | None = None) -> None:
        self._whole = EventPacket(events, width, height, t_start, t_end)
        self.events, self.width, self.height = events, self._whole.width, self._whole.height

    def packets(self) -> Iterator[EventPacket]:
        """The recording in packets of at most :data:`PACKET_EVENTS` events (views), covering its range."""
        whole = self._whole
        if not len(whole):
            yield whole
            return
        for i in range(0, len(whole), PACKET_EVENTS):
            yield whole[i:i + PACKET_EVENTS]


class _FileRecording:
    """A recording file streamed again from disk on every replay (constant memory)."""

    def __init__(self, path: Path) -> None:
        import evstream.io as eio

        self._rec = eio.open(path, packet_events=PACKET_EVENTS)
        self.width, self.height = self._rec.width, self._rec.height

    def packets(self) -> Iterator[EventPacket]:
        return iter(self._rec)


def open_recording(path: str | Path) -> Replayable:
    """Open a recording for replay, in any format :func:`evstream.io.open` reads.

    Raises :class:`evstream.io.FormatError` (a :class:`~evstream.errors.UserError`)
    naming the file when it is missing or not a recording.
    """
    return _FileRecording(Path(path))
