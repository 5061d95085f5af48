"""Base class of the zoo networks: stepping, multi-step, reset and a rebuildable config."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from evstream.nn.base import reset_net

__all__ = ["SpikingNet"]


class SpikingNet(nn.Module):
    """Base of the zoo networks: ``step`` / ``forward`` / ``reset`` and a rebuildable ``config``."""

    config: dict[str, Any]

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        """One time step: ``(N, C, H, W)`` frame -> ``(N, classes)`` logits."""
        raise NotImplementedError

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``T`` steps: ``(T, N, C, H, W)`` -> ``(T, N, classes)``; continues from the current state."""
        return torch.stack([self.step(x_seq[t]) for t in range(x_seq.shape[0])])

    def reset(self) -> None:
        """Clear the state of every layer (call before each new sequence)."""
        reset_net(self)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """Input geometry ``(C, H, W)`` (polarities, pixels)."""
        return tuple(self.config["in_shape"])  # type: ignore[return-value]
