"""Packets that are not events: frames, tensors and labels.

Every packet has a ``kind`` (the port type it travels on), a sequence number
``seq`` and per-item time ranges in µs. One packet carries ``N >= 0`` items
(frames, network outputs, labels) so that a binner can emit every frame that a
packet of events completed, including empty ones, in one message.

* :class:`FramePacket` (``kind = "frames"``): ``data`` has shape ``(N, C, H, W)``
  (numpy array or torch tensor); item ``i`` covers ``[t_start[i], t_end[i])``.
* :class:`TensorPacket` (``kind = "tensor"``): network outputs, ``data`` of shape
  ``(N, ...)`` (spikes, logits), same time arrays.
* :class:`LabelPacket` (``kind = "labels"``): ``label`` int64 ``(N,)``,
  ``confidence`` float32 ``(N,)`` in [0, 1], and ``t_start``/``t_end``.

The :class:`evstream.events.EventPacket` (``kind = "events"``) completes the set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ArrayPacket", "FramePacket", "LabelPacket", "PORT_KINDS", "TensorPacket"]

PORT_KINDS: tuple[str, ...] = ("events", "frames", "tensor", "labels")
"""The port types a graph edge can carry ("any" additionally matches all of them)."""


class ArrayPacket:
    """``N`` items stacked along axis 0 of ``data``, each covering ``[t_start[i], t_end[i])`` µs."""

    __slots__ = ("data", "t_start", "t_end", "seq")
    kind = "tensor"

    def __init__(self, data: Any, t_start: np.ndarray, t_end: np.ndarray, seq: int = 0) -> None:
        t_start = np.asarray(t_start, dtype=np.int64)
        t_end = np.asarray(t_end, dtype=np.int64)
        n = int(data.shape[0])
        if t_start.shape != (n,) or t_end.shape != (n,):
            raise ValueError(f"{type(self).__name__}: {n} items need t_start/t_end of shape ({n},), "
                             f"got {t_start.shape} and {t_end.shape}")
        self.data = data
        self.t_start = t_start
        self.t_end = t_end
        self.seq = int(seq)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __repr__(self) -> str:
        span = f"[{self.t_start[0]}, {self.t_end[-1]}) µs" if len(self) else "empty"
        return f"{type(self).__name__}(shape={tuple(self.data.shape)}, {span}, seq={self.seq})"


class FramePacket(ArrayPacket):
    """Binned frames, ``data`` of shape ``(N, C, H, W)``."""

    __slots__ = ()
    kind = "frames"


class TensorPacket(ArrayPacket):
    """Network outputs (spikes, logits), ``data`` of shape ``(N, ...)``."""

    __slots__ = ()
    kind = "tensor"


class LabelPacket:
    """``N`` class decisions: ``label`` int64 ``(N,)``, ``confidence`` float32 ``(N,)``.

    ``names`` optionally maps label indices to class names (shared, not copied).
    """

    __slots__ = ("label", "confidence", "t_start", "t_end", "seq", "names")
    kind = "labels"

    def __init__(self, label: np.ndarray, confidence: np.ndarray, t_start: np.ndarray,
                 t_end: np.ndarray, seq: int = 0, names: tuple[str, ...] | None = None) -> None:
        self.label = np.asarray(label, dtype=np.int64)
        self.confidence = np.asarray(confidence, dtype=np.float32)
        self.t_start = np.asarray(t_start, dtype=np.int64)
        self.t_end = np.asarray(t_end, dtype=np.int64)
        n = len(self.label)
        for field in ("confidence", "t_start", "t_end"):
            if getattr(self, field).shape != (n,):
                raise ValueError(f"LabelPacket: {field} must have shape ({n},)")
        self.seq = int(seq)
        self.names = names

    def __len__(self) -> int:
        return len(self.label)

    def __repr__(self) -> str:
        return f"LabelPacket(n={len(self)}, seq={self.seq})"

