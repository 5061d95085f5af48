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
from evstream.events import EVENT_DTYPE, empty_events

__all__ = ["DvsParams", "DvsPixelModel", "log_intensity"]


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


def log_intensity(frame: np.ndarray, log_eps: float) -> np.ndarray:
    """``log(frame + log_eps)`` as float32 for an ``(H, W)`` intensity image in [0, 1]."""
    return np.log(np.asarray(frame, dtype=np.float32) + np.float32(log_eps))


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
        self._rng = np.random.default_rng(seed)
        shape = (self.height, self.width)
        p = self.params
        self.c_on = np.maximum(self._rng.normal(p.threshold, p.threshold_sigma, shape), 0.01).astype(np.float32)
        self.c_off = np.maximum(self._rng.normal(p.threshold, p.threshold_sigma, shape), 0.01).astype(np.float32)
        self._ref = np.zeros(shape, np.float32)
        self._last_t = np.full(shape, np.iinfo(np.int64).min // 2, np.int64)
        self._log: np.ndarray | None = None
        self._t: int | None = None
        self.refractory_drops = 0

    @property
    def t(self) -> int | None:
        """Time of the last frame in µs (``None`` before the first)."""
        return self._t

    def reset(self) -> None:
        """Forget the reference levels (the next frame starts a new stream); mismatch is kept."""
        self._log = None
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
        log_next = log_intensity(frame, self.params.log_eps)
        if self._log is None:
            self._ref[:] = log_next
            self._log, self._t = log_next, int(t)
            return empty_events()
        t0, t1 = self._t, int(t)
        if t1 <= t0:
            raise ValueError(f"frame time {t1} µs is not after the previous frame ({t0} µs)")
        cap = _kernels.count_crossings(self._ref, log_next, self.c_on, self.c_off)
        noise = self._noise(t0, t1)
        out = np.empty(cap + len(noise), EVENT_DTYPE)
        n, dropped = _kernels.emit_crossings(self._log, log_next, self._ref, self._last_t, self.c_on, self.c_off,
                                             t0, t1, self.params.refractory_us,
                                             out["t"], out["x"], out["y"], out["p"])
        self.refractory_drops += dropped
        out[n:n + len(noise)] = noise
        out = out[:n + len(noise)]
        self._log, self._t = log_next, t1
        return out[np.argsort(out["t"], kind="stable")]

    def _noise(self, t0: int, t1: int) -> np.ndarray:
        """Background activity in ``[t0, t1)``: Poisson count, uniform pixels, times and polarity."""
        rate = self.params.noise_hz * self.width * self.height * (t1 - t0) * 1e-6
        n = int(self._rng.poisson(rate)) if rate > 0 else 0
        ev = empty_events(n)
        if n:
            ev["t"] = self._rng.integers(t0, t1, n)
            ev["x"] = self._rng.integers(0, self.width, n)
            ev["y"] = self._rng.integers(0, self.height, n)
            ev["p"] = self._rng.integers(0, 2, n)
        return ev
