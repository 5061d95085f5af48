"""STC-LIF / STC-PLIF neurons with their spatio-temporal circuits (spec §2).

:class:`STCNeuron` is the neuron part of an STC cell: given the input current
``x[t]`` it computes ``beta = tanh(branch_h(p))`` and ``gamma =
tanh(branch_v(p))`` from its own previous spikes ``p = s[t-1]`` (detached when
``gradient_detach``), then ``m = v (1 + beta) + x (1 + gamma)`` (STC-PLIF:
``a v (1 + beta) + (1 - a) x (1 + gamma)``, ``a = sigmoid(t_m)``), fires
``m >= v_th`` and soft-resets ``v = m - v_th s``. The branches are modules
returning the pre-tanh value: grouped conv + GN16 (:func:`stc_conv_branch`),
block-diagonal linear + GN16 (:func:`stc_linear_branch`), or a test double.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.functional import stc_step
from evstream.nn.surrogate import Sigmoid, Surrogate

__all__ = ["GroupedLinear", "STCNeuron", "check_groups", "stc_conv_branch", "stc_linear_branch"]


def check_groups(n: int, groups: int, what: str, minimum: int = 2) -> None:
    """Raise ``ValueError`` unless ``n`` splits into ``groups`` groups of at least ``minimum``.

    FC groups need 2 features for GroupNorm; a conv group of one channel still
    normalises over ``H x W`` pixels (``minimum = 1``).
    """
    if n % groups or n // groups < minimum:
        raise ValueError(f"{what}: {n} features/channels must be divisible by groups={groups} "
                         f"with at least {minimum} per group; set groups explicitly")


class GroupedLinear(nn.Module):
    """Block-diagonal ``N x N`` linear map without bias: ``groups`` dense ``(N/g, N/g)`` blocks.

    ``weight`` has shape ``(groups, N/g, N/g)`` (out, in per block), PyTorch's
    default init U(+-1/sqrt(N/g)). Input/output ``(B, N)``; group ``j`` is the
    contiguous slice ``[j N/g, (j+1) N/g)``.
    """

    def __init__(self, features: int, groups: int = 16) -> None:
        super().__init__()
        check_groups(features, groups, "GroupedLinear")
        self.features, self.groups = features, groups
        n = features // groups
        bound = 1.0 / math.sqrt(n)
        self.weight = nn.Parameter(torch.empty(groups, n, n).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        xg = x.reshape(b, self.groups, -1)
        return torch.einsum("goi,bgi->bgo", self.weight, xg).reshape(b, self.features)

    def dense(self) -> torch.Tensor:
        """The equivalent ``(N, N)`` block-diagonal matrix."""
        return torch.block_diag(*self.weight)


def stc_conv_branch(channels: int, kernel: int = 5, groups: int = 16) -> nn.Sequential:
    """``GN_g(GConv_kxk(p))``: grouped conv (no bias, stride 1, padding k//2) then GroupNorm."""
    check_groups(channels, groups, "STC conv branch", minimum=1)
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=groups, bias=False),
        nn.GroupNorm(groups, channels))


def stc_linear_branch(features: int, groups: int = 16) -> nn.Sequential:
    """``GN_g(GLinear_g(p))``: the FC form of the circuit (spec §2.4)."""
    check_groups(features, groups, "STC linear branch")
    return nn.Sequential(GroupedLinear(features, groups), nn.GroupNorm(groups, features))


class STCNeuron(MemoryModule):
    """STC-LIF (``plif=False``) or STC-PLIF (``plif=True``) neuron with its two circuits.

    Args:
        branch_h: module ``p -> pre-tanh beta`` (temporal, multiplies ``v``).
        branch_v: module ``p -> pre-tanh gamma`` (spatial, multiplies ``x``).
        v_threshold: firing threshold (1.0).
        gradient_detach: detach ``s[t-1]`` on its way into the branches (default True).
        plif: learn the leak ``a = sigmoid(t_m)``, ``t_m`` a scalar initialised to 0.
        surrogate: a new :class:`Sigmoid` (alpha 4) when ``None``.
        fused: use the fused element-wise update of :mod:`evstream.nn.backends.torch`
            (same numbers, one autograd node, less memory).
        compiled: the fused update with its forward through ``torch.compile`` (implies
            ``fused``; eager fallback with a logged reason where compiling fails).
    State: ``v`` (post-reset membrane) and ``s_prev`` (previous spikes), shape of the input.
    """

    def __init__(self, branch_h: nn.Module, branch_v: nn.Module, v_threshold: float = 1.0,
                 gradient_detach: bool = True, plif: bool = False,
                 surrogate: Surrogate | None = None, fused: bool = False, compiled: bool = False,
                 step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.branch_h = branch_h
        self.branch_v = branch_v
        self.v_threshold = float(v_threshold)
        self.gradient_detach = gradient_detach
        self.surrogate = surrogate if surrogate is not None else Sigmoid()
        self.fused = fused or compiled
        self.compiled = compiled
        self.t_m = nn.Parameter(torch.zeros(())) if plif else None
        self.register_memory("v")
        self.register_memory("s_prev")

    @property
    def plif(self) -> bool:
        return self.t_m is not None

    def leak(self) -> torch.Tensor | None:
        """``a = sigmoid(t_m)`` for STC-PLIF, ``None`` for STC-LIF."""
        return None if self.t_m is None else torch.sigmoid(self.t_m)

    def circuits(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-tanh ``(beta, gamma)`` inputs from the previous spikes ``p``."""
        if self.gradient_detach:
            p = p.detach()
        return self.branch_h(p), self.branch_v(p)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if self.check_shape(x):
            self.v = torch.zeros_like(x)
            self.s_prev = torch.zeros_like(x)
        hb, hg = self.circuits(self.s_prev)
        if self.fused:
            from evstream.nn.backends.torch import stc_fused_step

            s, self.v = stc_fused_step(x, self.v, hb, hg, self.leak(), self.surrogate, self.v_threshold,
                                       self.compiled)
        else:
            s, self.v = stc_step(x, self.v, torch.tanh(hb), torch.tanh(hg), self.surrogate,
                                 self.v_threshold, self.leak())
        self.s_prev = s
        return s
