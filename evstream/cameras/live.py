"""A live camera as a stream of :class:`EventPacket`: backend selection, settings, timing, drops."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

import numpy as np

from evstream.cameras.backends import BACKENDS, Backend, CameraSettings, CameraStream, select_camera
from evstream.cameras.emulator import LinkStats, PacketTiming
from evstream.events import EventPacket

__all__ = ["LiveCamera"]


def _crop(events: np.ndarray, roi: tuple[int, int, int, int] | None) -> np.ndarray:
    if roi is None or not len(events):
        return events
    x0, y0, w, h = roi
    x, y = events["x"], events["y"]
    return events[(x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)]


class LiveCamera:
    """Packets from a connected camera.

    Each packet covers ``[previous end, last event + 1)`` in device time (µs).
    When no event arrives but the backend reports the device clock
    (neuromorphic-drivers does), an empty packet carries the range up to it, so
    downstream binners keep emitting frames while the scene is still.

    Args:
        backend: ``"auto"`` or a backend name (see :data:`BACKENDS`).
        serial: camera serial number ("" = the first one found).
        settings: biases, region of interest, rate limit.
        poll_s: how long to wait for data before reporting an empty packet, s.
        stopping: event that ends the stream.
    """

    def __init__(self, backend: str = "auto", serial: str = "", settings: CameraSettings | None = None,
                 poll_s: float = 0.02, stopping: threading.Event | None = None,
                 backends: tuple[Backend, ...] = BACKENDS, timing_history: int = 10_000) -> None:
        self.backend, self.device = select_camera(backend, serial, backends)
        self.settings = settings or CameraSettings()
        self.poll_s = poll_s
        self.stopping = stopping or threading.Event()
        self.stats = LinkStats()
        self.timing: deque[PacketTiming] = deque(maxlen=timing_history)
        self._stream: CameraStream | None = None

    def open(self) -> CameraStream:
        if self._stream is None:
            self._stream = self.backend.open(self.device, self.settings, self.poll_s)
        return self._stream

    @property
    def width(self) -> int:
        return self.open().width

    @property
    def height(self) -> int:
        return self.open().height

    def packets(self) -> Iterator[EventPacket]:
        stream = self.open()
        t_end: int | None = None
        seq = 0
        for chunk in stream.chunks():
            if self.stopping.is_set():
                return
            if chunk is None:
                continue
            self.stats.dropped_packets += chunk.dropped_packets
            events = chunk.events
            if len(events):
                t0 = int(events["t"][0]) if t_end is None else t_end
                t1 = max(int(events["t"][-1]) + 1, t0)
            elif chunk.device_t is not None and t_end is not None and chunk.device_t > t_end:
                t0, t1 = t_end, chunk.device_t
            else:
                continue
            packet = EventPacket(_crop(events, self.settings.roi), stream.width, stream.height, t0, t1, seq)
            t_end = t1
            self.stats.packets += 1
            self.stats.events += len(packet)
            self.timing.append(PacketTiming(seq, packet.t_end, chunk.host_s))
            seq += 1
            yield packet

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
