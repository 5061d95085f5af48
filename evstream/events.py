"""The one event dtype and the event packet that every evstream room shares.

Contract (every reader, binner, node and transport follows it):

* Events are a 1-D structured numpy array of :data:`EVENT_DTYPE`: ``t`` int64
  timestamps in microseconds, ``x``/``y`` uint16 pixel coordinates with the
  origin at the top-left, ``p`` uint8 polarity (1 = ON, brightness increase;
  0 = OFF). Field names match tonic's, so ``events["x"]`` works in both.
* The record is 16 bytes, ``t`` at offset 0, ``x`` at 8, ``y`` at 10, ``p`` at
  12 and 3 bytes of padding: the exact memory layout of an AEDAT 4 event, so
  AEDAT 4 payloads and dv-processing buffers map onto it without a per-field
  copy and Numba reads ``t`` aligned.
* Within a packet, timestamps are non-decreasing.
* An :class:`EventPacket` covers the half-open time range ``[t_start, t_end)``
  (µs) and may hold zero events: that is how a live source says "nothing
  happened until ``t_end``", which lets binners emit empty frames on time.
* Packets are immutable by convention: slicing returns views, nodes never
  write into a packet they received.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EVENT_DTYPE",
    "EventPacket",
    "Geometry",
    "as_events",
    "concat_events",
    "empty_events",
    "make_events",
    "to_tonic",
]

EVENT_DTYPE: np.dtype = np.dtype(
    {
        "names": ["t", "x", "y", "p"],
        "formats": ["<i8", "<u2", "<u2", "u1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)
"""Structured dtype of one event: ``t`` int64 µs, ``x``/``y`` uint16 pixels, ``p`` uint8 (1 = ON)."""


@dataclass(frozen=True)
class Geometry:
    """Sensor size in pixels. ``width`` is the x extent, ``height`` the y extent."""

    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or not 0 < value <= 65536:
                raise ValueError(f"sensor {name} must be an integer in 1..65536 pixels (got {value!r})")

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``: the numpy shape of one image of this sensor."""
        return (self.height, self.width)


def empty_events(n: int = 0) -> np.ndarray:
    """A zeroed event array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def make_events(t: np.ndarray | Sequence[int], x: np.ndarray | Sequence[int],
                y: np.ndarray | Sequence[int], p: np.ndarray | Sequence[int]) -> np.ndarray:
    """Build an event array from four columns (``t`` in µs, ``p`` 0/1 or bool).

    Raises ``ValueError`` when the columns differ in length or a value does not
    fit its field (negative coordinates, polarity other than 0/1).
    """
    cols = [np.asarray(c) for c in (t, x, y, p)]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise ValueError(f"t, x, y, p must have the same length (got {[len(c) for c in cols]})")
    for name, col, hi in (("x", cols[1], 65535), ("y", cols[2], 65535), ("p", cols[3], 1)):
        if n and (col.min() < 0 or col.max() > hi):
            raise ValueError(f"events field {name!r} must lie in 0..{hi} (got {col.min()}..{col.max()})")
    out = np.zeros(n, dtype=EVENT_DTYPE)  # zeroed padding: equal events are equal bytes
    out["t"] = cols[0]
    out["x"] = cols[1]
    out["y"] = cols[2]
    out["p"] = cols[3]
    return out


def concat_events(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate event arrays into one :data:`EVENT_DTYPE` array.

    Use this instead of ``np.concatenate``: numpy 2 returns a packed copy of
    the structured dtype (padding dropped, copied field by field), which is no
    longer ``EVENT_DTYPE``. Here the raw 16-byte records are copied in one
    pass; a single non-empty part is returned as is (no copy).
    """
    parts = [a for a in arrays if len(a)]
    if not parts:
        return empty_events()
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([np.ascontiguousarray(a).view(np.int64) for a in parts]).view(EVENT_DTYPE)


def as_events(array: np.ndarray) -> np.ndarray:
    """Return ``array`` as an :data:`EVENT_DTYPE` array, converting by field name.

    Accepts evstream arrays (returned as is, no copy) and any structured array
    with fields ``t``, ``x``, ``y`` and ``p`` (tonic) or ``on`` (faery, aedat).
    Anything else raises ``TypeError`` naming the fields that were found.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a numpy structured array of events, got {type(array).__name__}")
    if array.dtype == EVENT_DTYPE:
        return array
    names = array.dtype.names or ()
    pol = "p" if "p" in names else "on" if "on" in names else None
    if not {"t", "x", "y"} <= set(names) or pol is None:
        raise TypeError(
            f"expected fields t, x, y and p (or on), found {list(names) or array.dtype}; "
            "build events with evstream.events.make_events(t, x, y, p)"
        )
    return make_events(array["t"], array["x"], array["y"], array[pol].astype(np.uint8))


def to_tonic(events: np.ndarray) -> np.ndarray:
    """Copy events into ``tonic.io.events_struct`` layout (x, y int16; t int64; p bool)."""
    out = np.empty(len(events), dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    for name in ("x", "y", "t"):
        out[name] = events[name]
    out["p"] = events["p"] != 0
    return out


class EventPacket:
    """Events covering the half-open time range ``[t_start, t_end)`` µs of one sensor.

    Args:
        events: array of :data:`EVENT_DTYPE`, timestamps non-decreasing, all in
            ``[t_start, t_end)``. Not copied.
        width, height: sensor geometry in pixels.
        t_start, t_end: covered time range in µs. Default: from the first event
            to one past the last event (an empty packet then covers nothing).
        seq: sequence number given by the producer (0, 1, 2, ... per stream).

    Slicing by index (``packet[10:20]``) and by time (:meth:`slice_time`) returns
    views of the same memory.
    """

    __slots__ = ("events", "width", "height", "t_start", "t_end", "seq")
    kind = "events"

    def __init__(self, events: np.ndarray, width: int, height: int,
                 t_start: int | None = None, t_end: int | None = None, seq: int = 0) -> None:
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"EventPacket needs EVENT_DTYPE events, got {events.dtype}; use evstream.events.as_events() "
                            "(np.concatenate drops EVENT_DTYPE's padding: use evstream.events.concat_events())")
        n = len(events)
        if t_start is None:
            t_start = int(events["t"][0]) if n else 0
        if t_end is None:
            t_end = int(events["t"][-1]) + 1 if n else t_start
        if t_end < t_start:
            raise ValueError(f"packet t_end ({t_end} µs) is before t_start ({t_start} µs)")
        self.events = events
        self.width = int(width)
        self.height = int(height)
        self.t_start = int(t_start)
        self.t_end = int(t_end)
        self.seq = int(seq)

    # -- basic protocol -------------------------------------------------
    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return (f"EventPacket(n={len(self)}, {self.width}x{self.height}, "
                f"t=[{self.t_start}, {self.t_end}) µs, seq={self.seq})")

    def __getitem__(self, index: slice) -> EventPacket:
        """Zero-copy slice by event index; the time range shrinks to the slice's events."""
        if not isinstance(index, slice):
            raise TypeError("EventPacket supports slices only; use packet.events[i] for one event")
        start, stop, step = index.indices(len(self.events))
        if step != 1:
            raise ValueError("EventPacket slices must be contiguous (step 1)")
        ev = self.events[start:stop]
        t0 = self.t_start if start == 0 else int(self.events["t"][start])
        t1 = self.t_end if stop == len(self.events) else int(self.events["t"][stop])
        t1 = max(t0, t1)
        return EventPacket(ev, self.width, self.height, t0, t1, self.seq)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.width, self.height)

    @property
    def duration_us(self) -> int:
        return self.t_end - self.t_start

    def with_events(self, events: np.ndarray) -> EventPacket:
        """A packet with the same geometry, time range and seq holding other events."""
        return EventPacket(events, self.width, self.height, self.t_start, self.t_end, self.seq)

    # -- time ------------------------------------------------------------
    def index_of(self, t: int) -> int:
        """Index of the first event with timestamp >= ``t`` µs."""
        return int(np.searchsorted(self.events["t"], t, side="left"))

    def slice_time(self, t0: int, t1: int) -> EventPacket:
        """Zero-copy view of the events in ``[t0, t1)`` µs, clipped to this packet's range."""
        t0 = max(int(t0), self.t_start)
        t1 = max(t0, min(int(t1), self.t_end))
        i0, i1 = self.index_of(t0), self.index_of(t1)
        return EventPacket(self.events[i0:i1], self.width, self.height, t0, t1, self.seq)

    def split_at(self, t: int) -> tuple[EventPacket, EventPacket]:
        """Split into ``[t_start, t)`` and ``[t, t_end)``, both views (``t`` clipped to the range)."""
        t = min(max(int(t), self.t_start), self.t_end)
        i = self.index_of(t)
        return (EventPacket(self.events[:i], self.width, self.height, self.t_start, t, self.seq),
                EventPacket(self.events[i:], self.width, self.height, t, self.t_end, self.seq))

    def split_every(self, window_us: int, origin_us: int = 0) -> Iterator[EventPacket]:
        """Yield views cut at the absolute edges ``origin_us + k * window_us``."""
        if window_us <= 0:
            raise ValueError(f"window_us must be positive (got {window_us})")
        rest = self
        k = (self.t_start - origin_us) // window_us + 1
        while True:
            edge = origin_us + k * window_us
            if edge >= rest.t_end:
                yield rest
                return
            head, rest = rest.split_at(edge)
            yield head
            k += 1

    @staticmethod
    def concatenate(packets: Iterable[EventPacket]) -> EventPacket:
        """Join consecutive packets of one sensor (copies events; the ranges must not overlap)."""
        packets = list(packets)
        if not packets:
            raise ValueError("concatenate needs at least one packet")
        first = packets[0]
        for a, b in zip(packets, packets[1:]):
            if (b.width, b.height) != (first.width, first.height):
                raise ValueError(f"cannot concatenate {first.width}x{first.height} and {b.width}x{b.height} packets")
            if b.t_start < a.t_end:
                raise ValueError(f"packets overlap in time: [{a.t_start}, {a.t_end}) then [{b.t_start}, {b.t_end}) µs")
        events = concat_events([p.events for p in packets]) if len(packets) > 1 else first.events
        return EventPacket(events, first.width, first.height, first.t_start, packets[-1].t_end, first.seq)
