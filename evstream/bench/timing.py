"""Timing shared by the benchmarks: the best wall-clock time of repeated runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_of"]


def best_of(fn: Callable[[], Any], repeat: int, warm_up: bool = True) -> tuple[float, Any]:
    """``(best seconds, result of the last call)`` over ``repeat`` timed calls of ``fn()``.

    With ``warm_up`` one untimed call comes first (Numba compilation, caches,
    first-touch page faults), so the figures are steady-state speeds.
    """
    if warm_up:
        fn()
    best = float("inf")
    result = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result
