"""The DVS pixel model: intensity frames in, events out (log-intensity contrast model).

Each pixel keeps a reference log intensity. Between two frames its log
intensity is taken to ramp linearly; every time it moves one threshold away
from the reference the pixel emits an event (ON up, OFF down) at the
interpolated time and the reference follows. Thresholds differ from pixel to
pixel (mismatch, Gaussian spread), a pixel is blind for a refractory period
after each event, and background-activity noise adds Poisson events at a set
rate per pixel. Everything random draws from one seeded generator, so a seed
gives the same events on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evstream.cameras import _kernels
from evstream.events import EVENT_DTYPE, concat_events, empty_events

__all__ = ["DvsParams", "DvsPixelModel", "NOISE_BLOCK_US"]

NOISE_BLOCK_US = 100_000
"""Background noise is drawn per block of this much absolute time (µs)."""

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class DvsParams:
    """Parameters of the pixel model.

    Args:
        threshold: mean contrast threshold in log-intensity units (0.2 ≈ 22 %
            brightness change per event), for ON and OFF alike.
        threshold_sigma: standard deviation of the per-pixel threshold
            mismatch, in log units (thresholds are clipped to >= 0.01).
        refractory_us: dead time after each event of a pixel, µs.
        noise_hz: background-activity rate per pixel, events/s (half ON, half OFF).
        log_eps: offset inside the log, ``log(intensity + log_eps)``, which keeps
            dark pixels from producing bursts of events.
    """

    threshold: float = 0.2
    threshold_sigma: float = 0.03
    refractory_us: int = 100
    noise_hz: float = 0.1
    log_eps: float = 0.02

    def __post_init__(self) -> None:
        checks = (("threshold", self.threshold > 0), ("threshold_sigma", self.threshold_sigma >= 0),
                  ("refractory_us", self.refractory_us >= 0), ("noise_hz", self.noise_hz >= 0),
                  ("log_eps", self.log_eps > 0))
        for name, ok in checks:
            if not ok:
                raise ValueError(f"DVS parameter {name} out of range (got {getattr(self, name)!r})")


class DvsPixelModel:
    """Turns a sequence of ``(H, W)`` intensity frames into time-sorted events.

    Call :meth:`step` with each new frame and its time (µs, increasing); it
    returns the events of ``[t_previous, t)``. The first call only sets the
    reference levels and returns no events.

    Args:
        width, height: sensor size in pixels.
        params: pixel model parameters.
        seed: seed of the threshold mismatch and of the noise.
    """

    def __init__(self, width: int, height: int, params: DvsParams | None = None, seed: int = 0) -> None:
        self.width = int(width)
        self.height = int(height)
        self.params = params or DvsParams()
        self.seed = int(seed)
        rng = np.random.default_rng(seed)
        shape = (self.height, self.width)
        p = self.params
        self.c_on = np.maximum(rng.normal(p.threshold, p.threshold_sigma, shape), 0.01).astype(np.float32)
        self.c_off = np.maximum(rng.normal(p.threshold, p.threshold_sigma, shape), 0.01).astype(np.float32)
        self._noise_cache: tuple[int, np.ndarray] = (-(2**62), empty_events())
        self._ref = np.zeros(shape, np.float32)
        self._last_t = np.full(shape, np.iinfo(np.int64).min // 2, np.int64)
        self._image = np.full(shape, np.nan, np.float32)  # last frame (NaN: none yet)
        self._log = np.zeros(shape, np.float32)  # its log intensity
        self._spare = np.zeros(shape, np.float32)  # buffer the next frame's log intensity goes into
        self._active = np.zeros(self.width * self.height, np.int64)  # pixels with crossings this step
        self._t: int | None = None
        self.refractory_drops = 0

    @property
    def t(self) -> int | None:
        """Time of the last frame in µs (``None`` before the first)."""
        return self._t

    def reset(self) -> None:
        """Forget the reference levels (the next frame starts a new stream); mismatch is kept."""
        self._image.fill(np.nan)
        self._t = None
        self._last_t.fill(np.iinfo(np.int64).min // 2)

    def step(self, frame: np.ndarray, t: int) -> np.ndarray:
        """Events of ``[previous t, t)`` µs as an :data:`EVENT_DTYPE` array sorted by time.

        Args:
            frame: ``(H, W)`` intensities in [0, 1].
            t: frame time in µs, greater than the previous frame's.
        """
        if frame.shape != (self.height, self.width):
            raise ValueError(f"frame shape {frame.shape} does not match the sensor ({self.height}, {self.width})")
        if self._t is not None and int(t) <= self._t:
            raise ValueError(f"frame time {int(t)} µs is not after the previous frame ({self._t} µs)")
        image = np.ascontiguousarray(frame, dtype=np.float32)
        log_next = self._spare
        cap, n_active = _kernels.log_and_count(image, self._image, np.float32(self.params.log_eps), self._log,
                                               log_next, self._ref, self.c_on, self.c_off, self._active)
        self._image[:] = image
        if self._t is None:
            self._ref[:] = log_next
            self._spare, self._log, self._t = self._log, log_next, int(t)
            return empty_events()
        t0, t1 = self._t, int(t)
        noise = self._noise(t0, t1)
        out = np.empty(cap + len(noise), EVENT_DTYPE)
        n, dropped = _kernels.emit_crossings(self._log, log_next, self._ref, self._last_t, self.c_on, self.c_off,
                                             self._active[:n_active], t0, t1, self.params.refractory_us,
                                             out["t"], out["x"], out["y"], out["p"])
        self.refractory_drops += dropped
        out[n:n + len(noise)] = noise
        out = out[:n + len(noise)]
        self._spare, self._log, self._t = self._log, log_next, t1
        return out[np.argsort(out["t"], kind="stable")] if len(noise) or n_active > 1 else out

    def _noise(self, t0: int, t1: int) -> np.ndarray:
        """Background activity in ``[t0, t1)`` µs: Poisson events, uniform in pixels, time and polarity.

        Drawn per block of :data:`NOISE_BLOCK_US` of absolute time from a generator
        seeded by ``(seed, block)``, so the noise at a given time does not depend
        on how the time was stepped (frame rate, packet sizes).
        """
        if self.params.noise_hz <= 0:
            return empty_events()
        parts = []
        for block in range(t0 // NOISE_BLOCK_US, (t1 - 1) // NOISE_BLOCK_US + 1):
            ev = self._noise_block(block)
            parts.append(ev[np.searchsorted(ev["t"], t0):np.searchsorted(ev["t"], t1)])
        return parts[0] if len(parts) == 1 else concat_events(parts)

    def _noise_block(self, block: int) -> np.ndarray:
        if self._noise_cache[0] != block:
            rng = np.random.default_rng([self.seed & _MASK64, block & _MASK64])
            t_lo = block * NOISE_BLOCK_US
            n = int(rng.poisson(self.params.noise_hz * self.width * self.height * NOISE_BLOCK_US * 1e-6))
            ev = empty_events(n)
            ev["t"] = np.sort(rng.integers(t_lo, t_lo + NOISE_BLOCK_US, n))
            ev["x"] = rng.integers(0, self.width, n)
            ev["y"] = rng.integers(0, self.height, n)
            ev["p"] = rng.integers(0, 2, n)
            self._noise_cache = (block, ev)
        return self._noise_cache[1]
