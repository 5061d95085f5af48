"""Numba kernels of the viewer: folding events into the per-pixel last-event maps."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["fold_events"]


@njit(cache=True, nogil=True)
def fold_events(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
                last_t: np.ndarray, last_p: np.ndarray) -> None:  # pragma: no cover - compiled
    """For each event in order: ``last_t[y, x] = t`` (µs), ``last_p[y, x] = p``; maps are ``(H, W)``."""
    for i in range(t.shape[0]):
        last_t[y[i], x[i]] = t[i]
        last_p[y[i], x[i]] = p[i]
