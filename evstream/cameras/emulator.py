"""A camera emulator: any packet stream delivered the way a live camera delivers it.

:class:`CameraEmulator` takes a stream of :class:`EventPacket` (a recording,
the synthetic camera) and

* re-cuts it into regular packets of ``packet_us`` µs on absolute edges,
  empty packets included (a camera reports time passing with no events),
* releases each packet when its end is due in wall-clock time (``speed``
  1.0 = real time, 0 = as fast as possible),
* optionally loops a finite stream, shifting timestamps so time keeps going up,
* optionally limits the event rate (like a sensor's event-rate controller:
  evenly thinned packets) and loses whole packets at random (like a USB
  overflow): both counted, never hidden,
* notes the host time at which each packet was delivered beside its device time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from evstream.cameras.pacing import Pacer
from evstream.events import EventPacket, concat_events, empty_events

__all__ = ["CameraEmulator", "LinkStats", "PacketTiming", "regular_packets", "thin_events"]


@dataclass
class LinkStats:
    """What a (real or emulated) camera link delivered and lost."""

    packets: int = 0
    events: int = 0
    dropped_packets: int = 0
    dropped_events: int = 0
    rate_limited_events: int = 0
    loops: int = 0
    max_lag_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PacketTiming:
    """Device and host time of one delivered packet: ``t_end_us`` stream µs, ``host_s`` UNIX seconds."""

    seq: int
    t_end_us: int
    host_s: float


def regular_packets(packets: Iterable[EventPacket], packet_us: int, origin_us: int | None = None,
                    seq: int = 0) -> Iterator[EventPacket]:
    """Re-cut a stream into packets covering ``[origin + k * packet_us, origin + (k + 1) * packet_us)``.

    Every window between the first packet's start and the last packet's end is
    yielded once, empty or not; events are views where a window lies inside
    one input packet and copies where it spans several. ``origin_us`` defaults
    to the first packet's ``t_start``.
    """
    if packet_us <= 0:
        raise ValueError(f"packet_us must be positive (got {packet_us})")
    pending: list[EventPacket] = []
    edge = None
    width = height = 0
    for packet in packets:
        width, height = packet.width, packet.height
        if edge is None:
            origin = packet.t_start if origin_us is None else origin_us
            edge = origin + ((packet.t_start - origin) // packet_us + 1) * packet_us
            window_start = edge - packet_us
        rest = packet
        while rest.t_end >= edge:
            head, rest = rest.split_at(edge)
            pending.append(head)
            yield _join(pending, width, height, window_start, edge, seq)
            seq += 1
            pending = []
            window_start, edge = edge, edge + packet_us
        if len(rest) or rest.t_end > rest.t_start:
            pending.append(rest)
    if pending and edge is not None:
        last = pending[-1].t_end
        if last > window_start:
            yield _join(pending, width, height, window_start, last, seq)


def _join(pieces: list[EventPacket], width: int, height: int, t0: int, t1: int, seq: int) -> EventPacket:
    filled = [p.events for p in pieces if len(p)]
    events = filled[0] if len(filled) == 1 else concat_events(filled) if filled else empty_events()
    return EventPacket(events, width, height, t0, t1, seq)


def thin_events(events: np.ndarray, keep: int) -> np.ndarray:
    """Keep ``keep`` of ``events`` spread evenly over the array (an event-rate controller's drop)."""
    n = len(events)
    if keep >= n:
        return events
    return events[(np.arange(keep, dtype=np.int64) * n) // max(keep, 1)] if keep > 0 else events[:0]


def _shifted(packet: EventPacket, offset_us: int) -> EventPacket:
    if offset_us == 0:
        return packet
    events = packet.events.copy()
    events["t"] += offset_us
    return EventPacket(events, packet.width, packet.height, packet.t_start + offset_us,
                       packet.t_end + offset_us, packet.seq)


class CameraEmulator:
    """Deliver the packets of ``open_stream()`` as a live camera would.

    Args:
        open_stream: returns a fresh iterable of packets (called again for each loop).
        packet_us: delivered packet length in µs (a camera's USB packet cadence).
        speed: stream seconds per wall-clock second; 0 = as fast as possible.
        loop: replay the stream forever, timestamps continuing upwards.
        rate_limit_ev_s: maximum events per second (0 = none); a packet over
            its share is evenly thinned.
        drop_probability: chance that a packet is lost in transit (delivered
            empty, its events counted as dropped).
        jitter_us: delivery delay drawn uniformly in ``[0, jitter_us]`` per
            packet (host-side timing noise; timestamps are unchanged).
        seed: seed of the drops and the jitter.
        stopping: event that ends delivery (the node's ``stopping``).
    """

    def __init__(self, open_stream: Callable[[], Iterable[EventPacket]], packet_us: int = 1000, speed: float = 1.0,
                 loop: bool = False, rate_limit_ev_s: float = 0.0, drop_probability: float = 0.0,
                 jitter_us: int = 0, seed: int = 0, stopping: threading.Event | None = None,
                 timing_history: int = 10_000) -> None:
        if not 0.0 <= drop_probability <= 1.0:
            raise ValueError(f"drop_probability must lie in [0, 1] (got {drop_probability})")
        if rate_limit_ev_s < 0 or jitter_us < 0:
            raise ValueError("rate_limit_ev_s and jitter_us must be >= 0")
        self.open_stream = open_stream
        self.packet_us = int(packet_us)
        self.loop = loop
        self.rate_limit_ev_s = float(rate_limit_ev_s)
        self.drop_probability = float(drop_probability)
        self.jitter_us = int(jitter_us)
        self.stopping = stopping or threading.Event()
        self.pacer = Pacer(speed, self.stopping)
        self.stats = LinkStats()
        self.timing: deque[PacketTiming] = deque(maxlen=timing_history)
        self._rng = np.random.default_rng(seed)

    def _looped(self) -> Iterator[EventPacket]:
        offset = 0
        while True:
            first = last = None
            for packet in self.open_stream():
                first = packet.t_start if first is None else first
                last = packet.t_end
                yield _shifted(packet, offset)
            if not self.loop or first is None or last <= first or self.stopping.is_set():
                return
            offset += last - first
            self.stats.loops += 1

    def packets(self) -> Iterator[EventPacket]:
        """The delivered packets, paced; returns early once :attr:`stopping` is set."""
        stats = self.stats
        for packet in regular_packets(self._looped(), self.packet_us):
            due = packet.t_end + (int(self._rng.integers(0, self.jitter_us + 1)) if self.jitter_us else 0)
            if not self.pacer.wait(due):
                return
            stats.max_lag_ms = 1e3 * self.pacer.max_lag_s
            events = packet.events
            if self.drop_probability and self._rng.random() < self.drop_probability:
                stats.dropped_packets += 1
                stats.dropped_events += len(events)
                events = events[:0]
            elif self.rate_limit_ev_s:
                keep = int(self.rate_limit_ev_s * packet.duration_us * 1e-6)
                if len(events) > keep:
                    stats.rate_limited_events += len(events) - keep
                    events = thin_events(events, keep)
            stats.packets += 1
            stats.events += len(events)
            self.timing.append(PacketTiming(packet.seq, packet.t_end, time.time()))
            yield packet if events is packet.events else packet.with_events(events)
