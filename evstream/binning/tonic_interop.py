"""Use evstream binners and filters as tonic transforms.

tonic applies a transform to one whole sample: a structured array with fields
``x``, ``y``, ``t``, ``p`` (any integer/bool types). :class:`TonicTransform`
gives every binner and filter that call: it resets the object, feeds the
sample as one packet covering ``[first event, last event + 1)`` µs (time
binners: up to the window edge after the last event, which gives the same
frames in one block), flushes and returns what tonic expects (frames ``(N, C, H, W)`` for binners, an array
of the input's dtype for filters). The object's streaming state is reset
before and after, so a transform can be reused across samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evstream.events import EventPacket, as_events

__all__ = ["TonicTransform", "from_tonic_like"]


def from_tonic_like(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Copy evstream events ``result`` into a new array of ``like``'s dtype (tonic layout)."""
    out = np.empty(len(result), dtype=like.dtype)
    for name in like.dtype.names:
        src = name if name in ("t", "x", "y", "p") else "p" if name == "on" else None
        if src is None:
            raise TypeError(f"cannot fill field {name!r} of a tonic array from evstream events")
        out[name] = result[src]
    return out


class TonicTransform:
    """Mixin: ``obj(events)`` applies a stateful binner/filter to one whole tonic sample.

    The class provides ``width``, ``height``, ``process(packet)``, ``flush()``,
    ``reset()`` and ``_tonic_result(outputs, events)``.
    """

    width: int
    height: int

    def __call__(self, events: np.ndarray) -> np.ndarray:
        ev = as_events(events)
        t_start = int(ev["t"][0]) if len(ev) else 0
        t_end = self._sample_end(int(ev["t"][-1])) if len(ev) else 0
        self.reset()
        outputs = list(self.process(EventPacket(ev, self.width, self.height, t_start, t_end)))
        outputs += self.flush()
        self.reset()
        return self._tonic_result(outputs, events)

    def _sample_end(self, t_last: int) -> int:
        """End (µs) of the packet that carries a whole sample whose last event is at ``t_last``."""
        return t_last + 1

    def _tonic_result(self, outputs: list[Any], events: np.ndarray) -> np.ndarray:
        raise NotImplementedError
