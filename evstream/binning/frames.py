"""Stateful binners: event packets in, :class:`~evstream.packets.FramePacket` out, online.

Every binner follows the packet contract of :mod:`evstream.events`: packets
arrive in time order, may be empty and cover ``[t_start, t_end)`` µs. A binner
never looks back and never waits for the end of the stream:

* Time windows have absolute edges ``origin_us + k * stride_us``; the first
  window is the one containing the first packet's ``t_start``. A window's
  frame leaves as soon as a packet's ``t_end`` (an event, or a clock tick: an
  empty packet covering time) reaches the window's end. Windows without events
  give empty frames, so the frame rate is constant.
* ``flush()`` (end of stream) emits the window that was still open, if the
  stream reached into it, then resets the binner.
* Results do not depend on how the stream was cut into packets.

Why this differs from tonic's ``ToFrame(time_window=...)``, on purpose: tonic
starts its windows at the first event of each sample and drops the last,
incomplete window (and, with ``include_incomplete``, can still drop the last
event). That needs the whole sample, so it cannot run live, and two streams
binned that way do not share frame boundaries. Absolute edges make a frame's
time range a pure function of the clock: a live binner can close a window the
moment time passes its end, frames from two cameras or two runs line up, and
replaying from the middle of a file gives the same frames. Empty windows
still give (empty) frames so that a network stepping once per frame keeps a
constant time step through silent periods. tonic's frames are recovered with
``origin_us`` = the first event time (tests/binning/test_tonic_parity.py).

Binners are also tonic transforms: calling one on a whole recording (a tonic
or evstream structured array) returns its ``(N, C, H, W)`` frames. Sliding
windows are in :mod:`evstream.binning.sliding`; :func:`~evstream.binning.make_binner`
picks the binner for a configuration.
"""

from __future__ import annotations

import numpy as np

from evstream.binning import _kernels
from evstream.binning.config import BinningError, FrameConfig
from evstream.binning.representations import make_representation
from evstream.binning.tonic_interop import TonicTransform
from evstream.events import EventPacket, empty_events
from evstream.packets import FramePacket

__all__ = ["CountBinner", "FrameBinner", "TimeBinner", "check_time_order"]

_NO_EVENTS = empty_events()


def check_time_order(t_first: int, limit_us: int) -> None:
    """Raise :class:`BinningError` if a packet's first event (``t_first`` µs) is before ``limit_us``, the
    time before which the binner has already binned (the open window's start, or the last frame's end)."""
    if t_first < limit_us:
        raise BinningError(f"events at {t_first} µs arrive after the binner moved on to {limit_us} µs: "
                           "packets must come in time order (reset() the binner on a rewind)")


class FrameBinner(TonicTransform):
    """Base: output allocation (numpy or torch, optionally pinned) and packet numbering."""

    def __init__(self, config: FrameConfig) -> None:
        self.config = config
        self.width = config.width
        self.height = config.height
        self.frame_dtype = np.dtype(config.dtype)
        self._seq = 0
        if config.pin_memory:
            import torch

            if not torch.cuda.is_available():
                raise BinningError("pin_memory=True needs a CUDA device (torch.cuda.is_available() is False); "
                                   "drop pin_memory")

    def process(self, packet: EventPacket) -> list[FramePacket]:
        """Frames of every window this packet completed (possibly none), in time order."""
        raise NotImplementedError

    def flush(self) -> list[FramePacket]:
        """The frame of the window still open at end of stream (if any); resets the binner."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the stream (a new stream may start at any time)."""
        self._seq = 0

    def allocate(self, n: int, zeroed: bool = True) -> tuple[object, np.ndarray]:
        """Frames ``(n, C, H, W)``, zeroed or uninitialised: ``(container, numpy view of the same memory)``."""
        shape = (n, *self.config.frame_shape)
        if self.config.output == "torch":
            import torch

            make = torch.zeros if zeroed else torch.empty
            tensor = make(shape, dtype=getattr(torch, self.frame_dtype.name), pin_memory=self.config.pin_memory)
            return tensor, tensor.numpy()
        array = (np.zeros if zeroed else np.empty)(shape, dtype=self.frame_dtype)
        return array, array

    def _packet(self, data: object, t_start: np.ndarray, t_end: np.ndarray) -> FramePacket:
        packet = FramePacket(data, t_start, t_end, self._seq)
        self._seq += 1
        return packet

    def _tonic_result(self, packets: list[FramePacket], events: np.ndarray) -> np.ndarray:
        if not packets:
            return np.zeros((0, *self.config.frame_shape), dtype=self.frame_dtype)
        if len(packets) == 1:
            return np.asarray(packets[0].data)
        return np.concatenate([np.asarray(p.data) for p in packets])


class TimeBinner(FrameBinner):
    """Tumbling time windows of ``window_us`` µs with absolute edges (any representation).

    >>> binner = TimeBinner(FrameConfig(width=128, height=128, window_us=10_000))
    >>> frames = binner.process(packet)      # FramePackets of the windows that ended
    >>> frames += binner.flush()             # at end of stream: the open window

    Memory: the windows a packet completes are allocated as one uninitialised
    block and binned in one kernel call, which zeroes each slot right before
    binning it (cache-hot). The open window, once it has events, gets its own
    zeroed frame that later packets add to; it leaves as its own packet when
    the window ends, so no frame is copied. A whole sample (the tonic-style
    call, :func:`~evstream.binning.to_frames`) is one block without the
    ``max_frames`` limit, returned as is.
    """

    def __init__(self, config: FrameConfig) -> None:
        if config.sliding or config.event_count is not None:
            raise BinningError("TimeBinner takes tumbling time windows; use make_binner(config)")
        super().__init__(config)
        self.rep = make_representation(config)
        self.frame_dtype = self.rep.dtype
        self._k: int | None = None  # index of the open window
        self._covered = 0  # µs: the stream is complete before this time
        self._open: tuple[object, np.ndarray] | None = None  # (container, (1, C, H, W) view) of the open window
        self._cap: int | None = config.max_frames  # most frames per block; None: no limit
        self._no_slot = np.zeros((0, *config.frame_shape), dtype=self.frame_dtype)

    @property
    def covered_us(self) -> int:
        """The stream is complete before this time (µs): the latest packet end seen."""
        return self._covered

    @property
    def open_window_start(self) -> int | None:
        """Start (µs) of the window that is still open, ``None`` before the first packet."""
        return None if self._k is None else self.config.origin_us + self._k * self.config.window_us

    def reset(self) -> None:
        super().reset()
        self.rep.reset()
        self._k = None
        self._covered = 0
        self._open = None

    def process(self, packet: EventPacket) -> list[FramePacket]:
        cfg = self.config
        origin, w = cfg.origin_us, cfg.window_us
        events = packet.events
        t = events["t"]
        n = len(events)
        if self._k is None:
            self._k = (packet.t_start - origin) // w
            self._covered = packet.t_start
        start = origin + self._k * w
        if n:
            check_time_order(int(t[0]), start)
        end = max(packet.t_end, self._covered, int(t[-1]) + 1 if n else 0)
        k_end = (end - origin) // w  # windows before k_end are complete
        out = []
        lo = 0
        if self._open is not None and self._k < k_end:
            lo = int(np.searchsorted(t, start + w))
            out.append(self._close_open(events, lo))
        while self._k < k_end:
            m = k_end - self._k if self._cap is None else min(k_end - self._k, self._cap)
            start = origin + self._k * w
            bounds = np.empty(m + 1, dtype=np.int64)
            _kernels.window_bounds(events, lo, start + w, w, bounds)
            data, frames = self.allocate(m, zeroed=False)
            self.rep.bin(events, bounds, start, w, frames, fresh=True)
            self.rep.finish(frames, w)
            out.append(self._windows(data, start, m))
            self._k += m
            lo = int(bounds[-1])
        if lo < n:
            if self.rep.per_window and self._open is None:
                self._open = self.allocate(1)
            frames = self._open[1] if self.rep.per_window else self._no_slot
            self.rep.bin(events, np.array([lo, n], dtype=np.int64), origin + self._k * w, w, frames)
        self._covered = end
        return out

    def flush(self) -> list[FramePacket]:
        out = []
        start = self.open_window_start
        if start is not None and self._covered > start:
            if self._open is None:
                self._open = self.allocate(1)
            out.append(self._close_open(_NO_EVENTS, 0))
        self.reset()
        return out

    def _close_open(self, events: np.ndarray, hi: int) -> FramePacket:
        """Complete the open window with ``events[:hi]`` and emit its frame (a time surface samples it here)."""
        data, frames = self._open
        start = self.open_window_start
        w = self.config.window_us
        self.rep.bin(events, np.array([0, hi], dtype=np.int64), start, w, frames)
        self.rep.finish(frames, w)
        self._open = None
        self._k += 1
        return self._windows(data, start, 1)

    def _windows(self, data: object, start: int, m: int) -> FramePacket:
        starts = start + self.config.window_us * np.arange(m, dtype=np.int64)
        return self._packet(data, starts, starts + self.config.window_us)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        self._cap = None  # a whole sample becomes one array anyway: bin it into one block, no concatenation
        try:
            return super().__call__(events)
        finally:
            self._cap = self.config.max_frames

    def _sample_end(self, t_last: int) -> int:
        """A whole sample covers up to the window edge after its last event, so no window stays open."""
        origin, w = self.config.origin_us, self.config.window_us
        return origin + ((t_last - origin) // w + 1) * w


class CountBinner(FrameBinner):
    """Windows of ``event_count`` events (count, signed, binary).

    Frame ``i`` covers ``[t of its first event, t of its last event + 1)`` µs
    and leaves with the packet that brings its last event. Clock ticks (time
    passing without events) matter only with ``timeout_us``: a frame then also
    closes, holding fewer events, as soon as the stream (an event or a tick)
    reaches ``t of its first event + timeout_us``; it covers
    ``[first event, first event + timeout_us)`` and later events start the next
    frame. Without events no frame starts, so silence gives no frames.
    ``flush()`` emits the partial last frame if it holds any event.
    """

    def __init__(self, config: FrameConfig) -> None:
        if config.event_count is None:
            raise BinningError("CountBinner needs event_count")
        super().__init__(config)
        self.rep = make_representation(config)
        self._open: tuple[object, np.ndarray] | None = None  # (container, (1, C, H, W) view) of the open frame
        self._held = 0  # events in the open frame
        self._held_t0 = 0  # µs, time of its first event
        self._last_t = 0  # µs, time of the latest event

    def reset(self) -> None:
        super().reset()
        self._open = None
        self._held = 0

    def process(self, packet: EventPacket) -> list[FramePacket]:
        events = packet.events
        t = events["t"].astype(np.int64, copy=False)
        n = len(events)
        cfg = self.config
        covered = max(packet.t_end, int(t[-1]) + 1 if n else 0)
        cuts = np.empty(n + 1, dtype=np.int64)
        ends = np.empty(n + 1, dtype=np.int64)
        nf = _kernels.count_cuts(t, self._held, self._held_t0, cfg.event_count, cfg.timeout_us or 0, covered,
                                 cuts, ends)
        out = []
        lo = 0
        done = 0
        if nf and self._held:
            data, frames = self._open
            lo = int(cuts[0])
            self.rep.bin(events, np.array([0, lo], dtype=np.int64), 0, 1, frames)
            self.rep.finish(frames, 1)
            out.append(self._packet(data, np.array([self._held_t0]), ends[:1].copy()))
            self._open, self._held, done = None, 0, 1
        while done < nf:
            m = min(nf - done, cfg.max_frames)
            bounds = np.concatenate([[lo], cuts[done:done + m]]).astype(np.int64)
            data, frames = self.allocate(m, zeroed=False)
            self.rep.bin(events, bounds, 0, 1, frames, fresh=True)
            self.rep.finish(frames, 1)
            out.append(self._packet(data, t[bounds[:-1]], ends[done:done + m].copy()))
            done += m
            lo = int(bounds[-1])
        if lo < n:
            if self._open is None:
                self._open = self.allocate(1)
                self._held_t0 = int(t[lo])
            self.rep.bin(events, np.array([lo, n], dtype=np.int64), 0, 1, self._open[1])
            self._held += n - lo
        if n:
            self._last_t = int(t[-1])
        return out

    def flush(self) -> list[FramePacket]:
        out = []
        if self._held:
            data, frames = self._open
            self.rep.finish(frames, 1)
            out.append(self._packet(data, np.array([self._held_t0]), np.array([self._last_t + 1])))
        self.reset()
        return out
