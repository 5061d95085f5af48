"""Frozen configuration of the frame binners, validated once at construction.

A :class:`FrameConfig` says how events of a ``width`` x ``height`` sensor become
frames: the windows (time windows with absolute edges, optionally sliding, or
event-count windows), the representation, the spatial mapping (crop, then
downsample) and the output container. Every check raises
:class:`BinningError` naming the parameter and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evstream.errors import UserError

__all__ = ["BinningError", "FrameConfig", "REPRESENTATIONS", "DTYPES", "validate_geometry"]

REPRESENTATIONS: tuple[str, ...] = ("count", "signed", "binary", "rate", "voxel", "timesurface")
"""Frame representations: channels and meaning are listed in :class:`FrameConfig`."""

DTYPES: tuple[str, ...] = ("float32", "float64", "int16", "int32")

_FLOAT_ONLY = ("rate", "voxel", "timesurface")


class BinningError(UserError, ValueError):
    """A binner or filter parameter is invalid (one line naming it and the fix)."""


def validate_geometry(width: int, height: int) -> None:
    """Raise :class:`BinningError` unless ``width``/``height`` are pixel counts in 1..65536."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 < value <= 65536:
            raise BinningError(f"{name} must be the sensor {name} in pixels, 1..65536 (got {value!r})")


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise BinningError(f"{name} must be a positive integer (got {value!r})")


@dataclass(frozen=True)
class FrameConfig:
    """How a binner turns events into frames ``(N, C, H, W)``.

    Windows:
        window_us: time window in µs. Window ``k`` covers
            ``[origin_us + k * stride_us, origin_us + k * stride_us + window_us)``.
        stride_us: distance between window starts in µs; ``None`` = ``window_us``
            (tumbling windows). Any representation can slide (see
            :mod:`evstream.binning.sliding`; a time surface is then sampled
            every ``stride_us``).
        origin_us: time of edge 0 in µs; edges are absolute, so frames of two
            streams (or two runs) with the same origin line up.
        event_count: if set, windows hold this many events instead (count,
            signed and binary); time is then only reported, not used for cutting,
            unless ``timeout_us`` is set.
        timeout_us: event-count windows only: a frame also closes, with fewer
            events, once the stream (an event or a clock tick) reaches its first
            event's time + ``timeout_us`` µs, so a quiet scene still gives frames.

    Representations (``C`` channels):
        count: ``(2, H, W)`` events per polarity (channel 0 OFF, 1 ON).
        signed: ``(1, H, W)`` ON minus OFF events.
        binary: ``(2, H, W)`` 1 where a pixel had at least one event of that polarity.
        rate: ``(1, H, W)`` events per second per pixel (both polarities).
        voxel: ``(n_time_bins, H, W)`` bilinear in time, ON +1 / OFF -1.
        timesurface: ``(2, H, W)`` ``exp(-(window end - last event) / tau_us)``
            per polarity; the surface remembers events of earlier windows.

    Spatial mapping: ``crop = (x, y, w, h)`` in sensor pixels is applied first,
    then ``downsample`` (integer factor: output pixel ``(x - cx) // f``), so the
    output is ``ceil(w / f)`` x ``ceil(h / f)``. Events outside the crop (or
    outside the sensor) are ignored.

    Output: ``dtype`` of the frames; ``output`` "numpy" or "torch" (CPU tensor
    sharing memory with the kernel's buffer; ``pin_memory`` allocates it in
    page-locked memory for fast copies to CUDA). ``max_frames`` caps the frames
    per output packet, so a long gap in a stream cannot allocate unbounded memory.
    """

    width: int
    height: int
    window_us: int = 10_000
    stride_us: int | None = None
    origin_us: int = 0
    event_count: int | None = None
    timeout_us: int | None = None
    representation: str = "count"
    n_time_bins: int = 5
    tau_us: float = 10_000.0
    crop: tuple[int, int, int, int] | None = None
    downsample: int = 1
    dtype: str = "float32"
    output: str = "numpy"
    pin_memory: bool = False
    max_frames: int = 256

    def __post_init__(self) -> None:
        validate_geometry(self.width, self.height)
        _positive_int("window_us", self.window_us)
        if self.stride_us is not None:
            _positive_int("stride_us", self.stride_us)
        if not isinstance(self.origin_us, (int, np.integer)) or isinstance(self.origin_us, bool):
            raise BinningError(f"origin_us must be an integer time in µs (got {self.origin_us!r})")
        if self.event_count is not None:
            _positive_int("event_count", self.event_count)
        if self.timeout_us is not None:
            _positive_int("timeout_us", self.timeout_us)
            if self.event_count is None:
                raise BinningError("timeout_us applies to event-count windows only: set event_count or drop "
                                   "timeout_us")
        _positive_int("n_time_bins", self.n_time_bins)
        _positive_int("downsample", self.downsample)
        _positive_int("max_frames", self.max_frames)
        if not self.tau_us > 0:
            raise BinningError(f"tau_us must be a positive time constant in µs (got {self.tau_us!r})")
        if self.representation not in REPRESENTATIONS:
            raise BinningError(f"representation must be one of {', '.join(REPRESENTATIONS)} "
                               f"(got {self.representation!r})")
        if self.dtype not in DTYPES:
            raise BinningError(f"dtype must be one of {', '.join(DTYPES)} (got {self.dtype!r})")
        if self.representation in _FLOAT_ONLY and not self.dtype.startswith("float"):
            raise BinningError(f"representation {self.representation!r} needs dtype float32 or float64 "
                               f"(got {self.dtype!r})")
        if self.output not in ("numpy", "torch"):
            raise BinningError(f"output must be 'numpy' or 'torch' (got {self.output!r})")
        if self.pin_memory and self.output != "torch":
            raise BinningError("pin_memory needs output='torch'")
        if self.event_count is not None and self.representation not in ("count", "signed", "binary"):
            raise BinningError(f"event_count windows work with count, signed or binary frames, "
                               f"not {self.representation!r}")
        if self.crop is not None:
            if len(self.crop) != 4 or not all(isinstance(v, (int, np.integer)) for v in self.crop):
                raise BinningError(f"crop must be 4 integers (x, y, width, height) in pixels (got {self.crop!r})")
            cx, cy, cw, ch = self.crop
            if cx < 0 or cy < 0 or cw <= 0 or ch <= 0 or cx + cw > self.width or cy + ch > self.height:
                raise BinningError(f"crop {tuple(self.crop)} must lie inside the {self.width}x{self.height} sensor")

    @property
    def stride(self) -> int:
        """Distance between window starts in µs."""
        return self.window_us if self.stride_us is None else self.stride_us

    @property
    def sliding(self) -> bool:
        return self.event_count is None and self.stride != self.window_us

    @property
    def channels(self) -> int:
        if self.representation == "voxel":
            return self.n_time_bins
        return 1 if self.representation in ("signed", "rate") else 2

    @property
    def out_size(self) -> tuple[int, int]:
        """``(height, width)`` of the output frames in pixels."""
        cx, cy, cw, ch = self.crop if self.crop is not None else (0, 0, self.width, self.height)
        f = self.downsample
        return (-(-ch // f), -(-cw // f))

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one frame."""
        return (self.channels, *self.out_size)

    def coordinate_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """``(xmap, ymap)`` int32 ``(65536,)``: sensor column/row -> output column/row, -1 outside."""
        cx, cy, cw, ch = self.crop if self.crop is not None else (0, 0, self.width, self.height)
        maps = []
        for lo, size in ((cx, cw), (cy, ch)):
            m = np.full(65536, -1, dtype=np.int32)
            m[lo:lo + size] = np.arange(size, dtype=np.int32) // self.downsample
            maps.append(m)
        return maps[0], maps[1]
