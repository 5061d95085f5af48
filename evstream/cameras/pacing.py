"""Real-time pacing: release stream time (µs) at the matching wall-clock time.

Deadlines are absolute (``wall0 + (t - t0) / speed``), never accumulated
sleeps, so the pace does not drift however long the stream runs; a consumer
that falls behind catches up without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Pacer"]


class Pacer:
    """Waits until stream time ``t_us`` is due in wall-clock time.

    Args:
        speed: stream seconds per wall-clock second (1.0 = real time); 0 means
            no pacing (as fast as possible).
        stopping: an event that interrupts the wait (the node's ``stopping``).
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, speed: float = 1.0, stopping: threading.Event | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (got {speed}); 0 means as fast as possible")
        self.speed = float(speed)
        self.stopping = stopping or threading.Event()
        self.clock = clock
        self._origin: tuple[float, int] | None = None
        self.max_lag_s = 0.0

    def start(self, t_us: int) -> None:
        """Anchor stream time ``t_us`` to now."""
        self._origin = (self.clock(), int(t_us))
        self.max_lag_s = 0.0

    def due(self, t_us: int) -> float:
        """Wall-clock time (``clock`` seconds) at which ``t_us`` is due."""
        if self._origin is None:
            self.start(t_us)
        wall0, t0 = self._origin
        return wall0 + (t_us - t0) * 1e-6 / self.speed

    def wait(self, t_us: int) -> bool:
        """Sleep until ``t_us`` is due; ``False`` when :attr:`stopping` was set meanwhile.

        Records how late the call was (:attr:`max_lag_s`) when it came after the deadline.
        """
        if self.speed == 0:
            return not self.stopping.is_set()
        deadline = self.due(t_us)
        while True:
            left = deadline - self.clock()
            if left <= 0:
                self.max_lag_s = max(self.max_lag_s, -left)
                return not self.stopping.is_set()
            # Overshoot of the sleep (~0.1 ms) does not accumulate: the next deadline is absolute.
            if self.stopping.wait(left):
                return False
