"""Weights of a spiking layer: linear or 2-D conv, with optional weight standardisation (WS).

WS (``shared/spec/stllr.md`` section 2): ``W_hat = gain * (W - mean(W)) / sqrt(var(W) * fan_in + 1e-4)``,
mean and *unbiased* variance per output unit over all fan-in dimensions, a
learnable ``gain`` (init 1) per output unit. A fan-in of 1 has no unbiased
variance, so WS refuses it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from evstream.learning.eligibility import SynapseGeometry

__all__ = ["Synapse", "standardize"]

WS_EPS = 1e-4


def standardize(weight: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Weight standardisation of ``weight`` ``(N_out, ...)`` with ``gain`` ``(N_out, 1, ...)``."""
    dims = tuple(range(1, weight.dim()))
    fan_in = math.prod(weight.shape[1:])
    mean = weight.mean(dim=dims, keepdim=True)
    var = weight.var(dim=dims, keepdim=True, unbiased=True)
    return gain * (weight - mean) / torch.sqrt(var * fan_in + WS_EPS)


class Synapse(nn.Module):
    """``I = W_hat (*) x + b`` for one layer.

    Args:
        geometry: linear or conv map (:class:`SynapseGeometry`).
        in_features: ``N_in`` (linear) or ``C_in`` (conv).
        out_features: ``N_out`` (linear) or ``C_out`` (conv).
        kernel_size: conv kernel side in pixels (ignored for linear).
        bias: learnable bias, init 0.
        ws: weight standardisation with a learnable gain.

    Init: kaiming normal (conv: fan_out, relu; linear: fan_in), as the S-TLLR code.
    """

    def __init__(self, geometry: SynapseGeometry, in_features: int, out_features: int,
                 kernel_size: int = 1, bias: bool = True, ws: bool = True) -> None:
        super().__init__()
        self.geometry = geometry
        if geometry.kind == "conv":
            shape: tuple[int, ...] = (out_features, in_features // geometry.groups, kernel_size, kernel_size)
        else:
            shape = (out_features, in_features)
        if ws and math.prod(shape[1:]) < 2:
            raise ValueError("weight standardisation needs a fan-in of at least 2; pass ws=False")
        self.weight = nn.Parameter(torch.empty(shape))
        mode = "fan_out" if geometry.kind == "conv" else "fan_in"
        nn.init.kaiming_normal_(self.weight, mode=mode, nonlinearity="relu")
        self.gain = nn.Parameter(torch.ones((out_features,) + (1,) * (len(shape) - 1))) if ws else None
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @property
    def ws(self) -> bool:
        return self.gain is not None

    def effective_weight(self) -> torch.Tensor:
        """``W_hat``: the standardised weight (or ``W`` itself without WS)."""
        return standardize(self.weight, self.gain) if self.gain is not None else self.weight

    def add_bias(self, current: torch.Tensor) -> torch.Tensor:
        """``current + b`` broadcast over the batch (and H, W for conv)."""
        if self.bias is None:
            return current
        shape = (1, -1) + (1,) * (current.dim() - 2)
        return current + self.bias.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Plain (autograd) current ``W_hat (*) x + b``."""
        return self.add_bias(self.geometry.apply(x, self.effective_weight()))
