"""Stateful event filters: event packets in, event packets out, online.

Each filter holds its state as explicit arrays (per-pixel last timestamps,
counters, masks) so its output never depends on how the stream was cut into
packets. ``process(packet)`` returns a list of packets covering the same time
range (the time filter may shift it), ``flush()`` returns what is still held at
end of stream, ``reset()`` forgets the stream. Filters that change the
geometry (ROI, downsample, transpose/rotate) report it as ``out_width`` x
``out_height``. Every filter is also a tonic transform (``filter(events)``).

Pixel coordinates are in pixels, times in µs. Events outside the declared
``width`` x ``height`` sensor are dropped by the stateful filters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evstream.binning import _filter_kernels as fk
from evstream.binning._kernels import NEVER_US
from evstream.binning.config import BinningError, validate_geometry
from evstream.binning.tonic_interop import TonicTransform, from_tonic_like
from evstream.events import EVENT_DTYPE, EventPacket, concat_events

__all__ = [
    "DecimationFilter", "DenoiseFilter", "DownsampleFilter", "EventFilter", "HotPixelFilter",
    "OrientFilter", "PolarityFilter", "RefractoryFilter", "RoiFilter", "TimeFilter",
]


def compact(kernel: Callable[..., int], events: np.ndarray, *args: object) -> np.ndarray:
    """Run a compacting kernel ``kernel(events, *args, out) -> kept`` and return the kept events."""
    out = np.empty(len(events), dtype=EVENT_DTYPE)
    return out[:kernel(events, *args, out)]


class EventFilter(TonicTransform):
    """Base of the filters: geometry checks, packet plumbing and the tonic call."""

    def __init__(self, width: int, height: int) -> None:
        validate_geometry(width, height)
        self.width = int(width)
        self.height = int(height)

    @property
    def out_width(self) -> int:
        return self.width

    @property
    def out_height(self) -> int:
        return self.height

    def apply(self, events: np.ndarray) -> np.ndarray:
        """Filter one packet's events (updating the state); the core of :meth:`process`."""
        raise NotImplementedError

    def process(self, packet: EventPacket) -> list[EventPacket]:
        return [EventPacket(self.apply(packet.events), self.out_width, self.out_height,
                            packet.t_start, packet.t_end, packet.seq)]

    def flush(self) -> list[EventPacket]:
        self.reset()
        return []

    def reset(self) -> None:
        """Forget the stream (stateless filters have nothing to forget)."""

    def _tonic_result(self, outputs: list[EventPacket], events: np.ndarray) -> np.ndarray:
        return from_tonic_like(concat_events([p.events for p in outputs]), events)


class RefractoryFilter(EventFilter):
    """Drop events closer than ``period_us`` µs to the previous event of the same pixel.

    Same rule as tonic's ``RefractoryPeriod``: keep when ``t - t_prev > period_us``,
    where ``t_prev`` is the pixel's previous event, kept or not. The first
    event of a pixel is always kept (tonic drops one at ``t == 0``).
    """

    def __init__(self, width: int, height: int, period_us: int = 1000) -> None:
        super().__init__(width, height)
        if not period_us >= 0:
            raise BinningError(f"period_us must be >= 0 µs (got {period_us!r})")
        self.period_us = int(period_us)
        self.last = np.full((self.height, self.width), NEVER_US, dtype=np.int64)

    def reset(self) -> None:
        self.last.fill(NEVER_US)

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.refractory_filter, events, self.last, self.period_us)


class DenoiseFilter(EventFilter):
    """Background-activity filter: keep an event only if a neighbour fired within ``time_us`` µs before it.

    ``neighbours`` 4 (edge neighbours: tonic's ``Denoise(filter_time)``) or 8
    (also diagonals, as dv-processing's ``BackgroundActivityNoiseFilter``).
    Before a pixel's first event it counts as silent (tonic instead treats
    every pixel as having fired at ``t = 0``, which only matters during the
    first ``time_us`` µs of streams that start at 0).
    """

    def __init__(self, width: int, height: int, time_us: int = 10_000, neighbours: int = 8) -> None:
        super().__init__(width, height)
        if not time_us > 0:
            raise BinningError(f"time_us must be a positive time in µs (got {time_us!r})")
        if neighbours not in (4, 8):
            raise BinningError(f"neighbours must be 4 or 8 (got {neighbours!r})")
        self.time_us = int(time_us)
        self.neighbours = neighbours
        self.last = np.full((self.height + 2, self.width + 2), NEVER_US, dtype=np.int64)  # 1-pixel silent border

    def reset(self) -> None:
        self.last.fill(NEVER_US)

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.background_activity_filter, events, self.last, self.time_us, self.neighbours == 8)


class HotPixelFilter(EventFilter):
    """Mask hot pixels: listed ones, plus those detected during the first ``learn_us`` µs.

    During learning every event of an unlisted pixel passes and is counted per pixel. At
    ``t_start + learn_us`` (the stream's first packet start) pixels whose count
    exceeds ``mean + sigma * std`` over all pixels (and at least ``min_count``)
    are masked from then on. ``learn_us = 0`` disables detection; ``pixels``
    lists ``(x, y)`` pixels masked from the start. ``hot_pixels`` reports the mask.
    """

    def __init__(self, width: int, height: int, learn_us: int = 1_000_000, sigma: float = 5.0,
                 min_count: int = 10, pixels: Sequence[Sequence[int]] = ()) -> None:
        super().__init__(width, height)
        if learn_us < 0 or sigma <= 0 or min_count < 1:
            raise BinningError(f"learn_us must be >= 0 µs, sigma > 0 and min_count >= 1 "
                               f"(got {learn_us!r}, {sigma!r}, {min_count!r})")
        self.learn_us = int(learn_us)
        self.sigma = float(sigma)
        self.min_count = int(min_count)
        self.listed = np.zeros((self.height, self.width), dtype=np.uint8)
        for pixel in pixels:
            if len(pixel) != 2 or not (0 <= pixel[0] < self.width and 0 <= pixel[1] < self.height):
                raise BinningError(f"hot pixel {tuple(pixel)!r} must be (x, y) inside {self.width}x{self.height}")
            self.listed[pixel[1], pixel[0]] = 1
        self.mask = self.listed.copy()
        self.counts = np.zeros((self.height, self.width), dtype=np.int64)
        self._learning = self.learn_us > 0
        self._learn_end: int | None = None

    @property
    def hot_pixels(self) -> np.ndarray:
        """``(K, 2)`` ``(x, y)`` of the masked pixels."""
        ys, xs = np.nonzero(self.mask)
        return np.stack([xs, ys], axis=1)

    def reset(self) -> None:
        self.mask[:] = self.listed
        self.counts.fill(0)
        self._learning = self.learn_us > 0
        self._learn_end = None

    def process(self, packet: EventPacket) -> list[EventPacket]:
        if self._learn_end is None:
            self._learn_end = packet.t_start + self.learn_us
        return super().process(packet)

    def apply(self, events: np.ndarray) -> np.ndarray:
        if not self._learning:
            return compact(fk.mask_filter, events, self.mask)
        if self._learn_end is None:  # called directly, not through process()
            if not len(events):
                return events
            self._learn_end = int(events["t"][0]) + self.learn_us
        cut = int(np.searchsorted(events["t"], self._learn_end))
        learning, rest = events[:cut], events[cut:]
        fk.count_pixels(learning, self.counts)
        learning = compact(fk.mask_filter, learning, self.mask)
        if not len(rest):
            return learning
        self._detect()
        kept = compact(fk.mask_filter, rest, self.mask)
        return concat_events([learning, kept]) if len(learning) else kept

    def _detect(self) -> None:
        counts = self.counts
        threshold = max(counts.mean() + self.sigma * counts.std(), self.min_count - 1)
        self.mask |= (counts > threshold).astype(np.uint8)
        self._learning = False


class DecimationFilter(EventFilter):
    """Keep every ``n``-th event of each pixel (tonic's ``Decimation``)."""

    def __init__(self, width: int, height: int, n: int = 2) -> None:
        super().__init__(width, height)
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise BinningError(f"n must be a positive integer (got {n!r})")
        self.n = int(n)
        self.counter = np.zeros((self.height, self.width), dtype=np.int64)

    def reset(self) -> None:
        self.counter.fill(0)

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.decimation_filter, events, self.counter, self.n)


class PolarityFilter(EventFilter):
    """Keep the events of one polarity (1 ON, 0 OFF)."""

    def __init__(self, width: int, height: int, polarity: int = 1) -> None:
        super().__init__(width, height)
        if polarity not in (0, 1):
            raise BinningError(f"polarity must be 1 (ON) or 0 (OFF) (got {polarity!r})")
        self.polarity = int(polarity)

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.polarity_filter, events, self.polarity)


class RoiFilter(EventFilter):
    """Keep events inside the rectangle ``(x, y, w, h)`` (pixels) and move its corner to (0, 0)."""

    def __init__(self, width: int, height: int, x: int, y: int, w: int, h: int) -> None:
        super().__init__(width, height)
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise BinningError(f"roi (x={x}, y={y}, w={w}, h={h}) must lie inside the {width}x{height} sensor")
        self.x, self.y, self.w, self.h = int(x), int(y), int(w), int(h)

    @property
    def out_width(self) -> int:
        return self.w

    @property
    def out_height(self) -> int:
        return self.h

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.roi_filter, events, self.x, self.y, self.w, self.h)


class DownsampleFilter(EventFilter):
    """Divide coordinates by an integer ``factor`` (``x // factor``): a ``ceil(W / f)`` x ``ceil(H / f)`` sensor.

    tonic's ``Downsample(spatial_factor=1 / factor)`` gives the same events for
    power-of-two factors (for others its float product can round down one pixel).
    """

    def __init__(self, width: int, height: int, factor: int = 2) -> None:
        super().__init__(width, height)
        if not isinstance(factor, (int, np.integer)) or factor < 1:
            raise BinningError(f"factor must be a positive integer (got {factor!r})")
        self.factor = int(factor)

    @property
    def out_width(self) -> int:
        return -(-self.width // self.factor)

    @property
    def out_height(self) -> int:
        return -(-self.height // self.factor)

    def apply(self, events: np.ndarray) -> np.ndarray:
        return compact(fk.downsample_events, events, self.factor)


class OrientFilter(EventFilter):
    """Flip, transpose and rotate the image plane, in that order.

    ``flip_x``: ``x -> W - 1 - x``; ``flip_y``: ``y -> H - 1 - y``;
    ``transpose``: swap x and y; ``rotate``: 0, 90, 180 or 270 degrees clockwise.
    """

    def __init__(self, width: int, height: int, flip_x: bool = False, flip_y: bool = False,
                 transpose: bool = False, rotate: int = 0) -> None:
        super().__init__(width, height)
        if rotate not in (0, 90, 180, 270):
            raise BinningError(f"rotate must be 0, 90, 180 or 270 degrees (got {rotate!r})")
        self.flip_x, self.flip_y, self.transpose, self.rotate = flip_x, flip_y, transpose, rotate
        self._swap = transpose != (rotate in (90, 270))

    @property
    def out_width(self) -> int:
        return self.height if self._swap else self.width

    @property
    def out_height(self) -> int:
        return self.width if self._swap else self.height

    def apply(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        x, y = out["x"], out["y"]
        w, h = self.width, self.height
        if self.flip_x:
            x[:] = w - 1 - x
        if self.flip_y:
            y[:] = h - 1 - y
        if self.transpose:
            x[:], y[:] = y.copy(), x.copy()
            w, h = h, w
        if self.rotate == 90:
            x[:], y[:] = h - 1 - y, x.copy()
        elif self.rotate == 180:
            x[:], y[:] = w - 1 - x, h - 1 - y
        elif self.rotate == 270:
            x[:], y[:] = y.copy(), w - 1 - x
        return out


class TimeFilter(EventFilter):
    """Map timestamps to ``floor(t * scale) + offset_us`` (µs), as tonic's ``Downsample(time_factor)``.

    The packet range maps the same way. With ``scale < 1`` several times merge
    into one, so an event can land on its packet's mapped end; such events are
    held and leave with the next packet (or ``flush()``), which keeps every
    output packet's events inside its ``[t_start, t_end)``.
    """

    def __init__(self, width: int, height: int, offset_us: int = 0, scale: float = 1.0) -> None:
        super().__init__(width, height)
        if not scale > 0:
            raise BinningError(f"scale must be > 0 to keep time order (got {scale!r})")
        self.offset_us = int(offset_us)
        self.scale = float(scale)
        self._held = np.zeros(0, dtype=EVENT_DTYPE)

    def reset(self) -> None:
        self._held = np.zeros(0, dtype=EVENT_DTYPE)

    def map_time(self, t: np.ndarray | int) -> np.ndarray | int:
        """``floor(t * scale) + offset_us`` for µs timestamps (int64)."""
        if self.scale == 1.0:
            return t + self.offset_us
        mapped = np.floor(np.asarray(t, dtype=np.float64) * self.scale).astype(np.int64) + self.offset_us
        return mapped if isinstance(t, np.ndarray) else int(mapped)

    def apply(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        fk.scale_times(out["t"], self.scale, self.offset_us)
        return out

    def process(self, packet: EventPacket) -> list[EventPacket]:
        events = self.apply(packet.events)
        t_start = self.map_time(packet.t_start)
        if len(self._held):
            events = concat_events([self._held, events])
            t_start = min(t_start, int(self._held["t"][0]))
        t_end = max(self.map_time(packet.t_end), t_start)
        cut = int(np.searchsorted(events["t"], t_end))
        self._held = events[cut:]
        return [EventPacket(events[:cut], self.width, self.height, t_start, t_end, packet.seq)]

    def flush(self) -> list[EventPacket]:
        held = self._held
        self.reset()
        if not len(held):
            return []
        return [EventPacket(held, self.width, self.height, int(held["t"][0]), int(held["t"][-1]) + 1)]
