"""The leaky neuron of the S-TLLR layers (``shared/spec/stllr.md`` section 2).

It differs from the SpikingJelly-style LIF of :mod:`evstream.nn` in ways the
rule's reference results depend on: no input scaling (``u <- leak * u + I``),
threshold 0.6, a strict spike condition ``u - theta > 0`` and the S-TLLR
secondary activations ``psi`` as surrogate derivatives. The options cover the
spec's reductions (``>=``, Sigmoid(4), hard reset).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["PSI", "STLLRNeuron"]


def _triangle(z: torch.Tensor) -> torch.Tensor:
    return 0.3 * torch.clamp(1.0 - z.abs(), min=0.0)


def _rational(z: torch.Tensor) -> torch.Tensor:
    return 1.0 / (100.0 * z.abs() + 1.0) ** 2


def _sigmoid4(z: torch.Tensor) -> torch.Tensor:
    sig = torch.sigmoid(4.0 * z)
    return 4.0 * sig * (1.0 - sig)


def _atan2(z: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + (torch.pi * z) ** 2)


PSI: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "triangle": _triangle,
    "rational": _rational,
    "sigmoid": _sigmoid4,
    "atan": _atan2,
}
"""Secondary activations ``psi(z)``, ``z = u - theta``: ``triangle`` = 0.3 max(0, 1 - |z|)
(conv layers), ``rational`` = 1/(100|z| + 1)^2 (linear layers), ``sigmoid`` = Sigmoid(4)'
and ``atan`` = ATan(2)' = 1/(1 + (pi z)^2) (the surrogates of STC-LIF and TDA-LIF, for the
spec's reductions)."""


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, psi_name: str, strict: bool):  # noqa: ANN001, ANN205
        ctx.save_for_backward(z)
        ctx.psi_name = psi_name
        return (z > 0).to(z.dtype) if strict else (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        (z,) = ctx.saved_tensors
        return grad * PSI[ctx.psi_name](z), None, None


class STLLRNeuron(nn.Module):
    """Leaky integrate-and-fire neuron of S-TLLR, one call = one time step.

    Per step with current ``I`` (any shape ``(B, ...)``): ``u <- leak * u + I``,
    ``s = 1[u - theta > 0]`` (``>=`` when ``strict=False``), then the reset
    (soft ``u <- u - theta * s`` or hard ``u <- u * (1 - s)``).

    Args:
        leak: ``lam_u = sigmoid(l)``; 0.5 for the VGG conv layers, 0.881 for linear ones.
        theta: firing threshold (membrane units).
        psi: surrogate name in :data:`PSI`.
        strict: spike on ``u > theta`` (S-TLLR) instead of ``u >= theta``.
        reset: ``"soft"`` or ``"hard"``.
    """

    def __init__(self, leak: float = 0.5, theta: float = 0.6, psi: str = "triangle",
                 strict: bool = True, reset: str = "soft") -> None:
        super().__init__()
        if psi not in PSI:
            raise ValueError(f"psi must be one of {', '.join(PSI)} (got {psi!r})")
        if reset not in ("soft", "hard"):
            raise ValueError(f"reset must be 'soft' or 'hard' (got {reset!r})")
        self.leak = leak
        self.theta = theta
        self.psi = psi
        self.strict = strict
        self.reset_mode = reset
        self.u: torch.Tensor | None = None

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        """One step: ``current`` ``(B, ...)`` -> spikes of the same shape (float 0/1)."""
        u = current if self.u is None else self.leak * self.u + current
        spikes = _Spike.apply(u - self.theta, self.psi, self.strict)
        self.u = u - self.theta * spikes if self.reset_mode == "soft" else u * (1.0 - spikes)
        return spikes

    def reset(self) -> None:
        """Forget the membrane (next step starts from 0)."""
        self.u = None

    def detach_state(self) -> None:
        """Cut the autograd graph of the membrane (temporal locality)."""
        if self.u is not None:
            self.u = self.u.detach()
