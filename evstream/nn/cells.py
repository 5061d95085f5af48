"""Cells: synapse (conv or linear, no bias) + GroupNorm + neuron, stepped together.

Neuron options are deep-copied per cell, so a module passed in them (e.g. a
surrogate) is never shared between layers.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.neurons import make_neuron

__all__ = ["ConvCell", "LinearCell"]


class ConvCell(nn.Module):
    """``neuron(GN_g(Conv_kxk(s_in)))``: stride 1, padding k//2, no bias (spec §2.1 step 1).

    ``step(s_in)``: ``(N, C_in, H, W)`` -> spikes ``(N, C, H, W)``.
    """

    def __init__(self, in_channels: int, channels: int, neuron: str, kernel: int = 5,
                 groups: int = 16, **neuron_options: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel, padding=kernel // 2, bias=False)
        self.norm = nn.GroupNorm(groups, channels)
        self.neuron: MemoryModule = make_neuron(neuron, channels, True, kernel, groups,
                                                   **copy.deepcopy(neuron_options))

    def current(self, s_in: torch.Tensor) -> torch.Tensor:
        """Synaptic current ``x[t] = GN(conv(s_in))``, ``(N, C, H, W)``."""
        return self.norm(self.conv(s_in))

    def step(self, s_in: torch.Tensor) -> torch.Tensor:
        return self.neuron.step(self.current(s_in))


class LinearCell(nn.Module):
    """``neuron(GN_g(Linear(s_in)))`` without bias: ``(N, F_in)`` -> spikes ``(N, F)``."""

    def __init__(self, in_features: int, features: int, neuron: str, groups: int = 16,
                 **neuron_options: Any) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, features, bias=False)
        self.norm = nn.GroupNorm(groups, features)
        self.neuron: MemoryModule = make_neuron(neuron, features, False, groups=groups,
                                                   **copy.deepcopy(neuron_options))

    def current(self, s_in: torch.Tensor) -> torch.Tensor:
        return self.norm(self.fc(s_in))

    def step(self, s_in: torch.Tensor) -> torch.Tensor:
        return self.neuron.step(self.current(s_in))
