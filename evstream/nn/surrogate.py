"""Surrogate spike functions: Heaviside forward, smooth derivative backward.

Every surrogate fires with ``>=`` (``H(0) = 1``), as SpikingJelly's ``heaviside``
and ``spec/neurons.md`` §0. Each has a pure derivative function
(``*_grad(z, alpha)``), a :class:`torch.autograd.Function` and a small
:class:`torch.nn.Module` wrapper holding ``alpha``; build one per layer (never
share a default instance between layers).

* :class:`Sigmoid`: ``g'(z) = alpha * sig(alpha z) * (1 - sig(alpha z))``, default
  ``alpha = 4`` so ``g'(0) = 1``.
* :class:`ATan`: ``g'(z) = (alpha / 2) / (1 + (pi / 2 * alpha * z)^2)``, default
  ``alpha = 2`` so ``g'(0) = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["ATan", "Sigmoid", "Surrogate", "atan_grad", "atan_primitive", "heaviside",
           "make_surrogate", "sigmoid_grad"]


def heaviside(z: torch.Tensor) -> torch.Tensor:
    """``1.0`` where ``z >= 0`` else ``0.0``, in the dtype of ``z``."""
    return (z >= 0).to(z.dtype)


def sigmoid_grad(z: torch.Tensor, alpha: float) -> torch.Tensor:
    """Derivative of ``sigmoid(alpha z)`` with respect to ``z``."""
    sg = torch.sigmoid(alpha * z)
    return alpha * sg * (1.0 - sg)


def atan_grad(z: torch.Tensor, alpha: float) -> torch.Tensor:
    """Derivative of :func:`atan_primitive` with respect to ``z``."""
    return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * z) ** 2)


def atan_primitive(z: torch.Tensor, alpha: float) -> torch.Tensor:
    """The smooth step whose derivative is the ATan surrogate: ``atan(pi/2 alpha z) / pi + 1/2``."""
    return torch.atan(math.pi / 2.0 * alpha * z) / math.pi + 0.5


class _SurrogateSpike(torch.autograd.Function):
    """``H(z)`` forward; ``grad * derivative(z, alpha)`` backward."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float,  # noqa: ANN001
                derivative: Callable[[torch.Tensor, float], torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.alpha = alpha
        ctx.derivative = derivative
        return heaviside(z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN205
        (z,) = ctx.saved_tensors
        return grad * ctx.derivative(z, ctx.alpha), None, None


class Surrogate(nn.Module):
    """Base: ``forward(z)`` spikes ``H(z)`` with the surrogate backward; ``grad(z)`` is the
    surrogate derivative; ``fire(z)`` the forward value alone (used by fused ops).

    A subclass sets ``name``, ``default_alpha`` and ``derivative`` (a pure ``(z, alpha)`` function).
    """

    name = ""
    default_alpha = 1.0
    derivative: Callable[[torch.Tensor, float], torch.Tensor]

    def __init__(self, alpha: float | None = None) -> None:
        super().__init__()
        self.alpha = float(self.default_alpha if alpha is None else alpha)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _SurrogateSpike.apply(z, self.alpha, type(self).derivative)

    def grad(self, z: torch.Tensor) -> torch.Tensor:
        return type(self).derivative(z, self.alpha)

    def fire(self, z: torch.Tensor) -> torch.Tensor:
        """Forward value without autograd: the Heaviside step."""
        return heaviside(z)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(Surrogate):
    """Heaviside forward, ``alpha sig(alpha z)(1 - sig(alpha z))`` backward (default alpha 4)."""

    name = "sigmoid"
    default_alpha = 4.0
    derivative = staticmethod(sigmoid_grad)


class ATan(Surrogate):
    """Heaviside forward, ``(alpha/2) / (1 + (pi/2 alpha z)^2)`` backward (default alpha 2)."""

    name = "atan"
    default_alpha = 2.0
    derivative = staticmethod(atan_grad)


_SURROGATES: dict[str, type[Surrogate]] = {"sigmoid": Sigmoid, "atan": ATan}


def make_surrogate(name: str, alpha: float | None = None) -> Surrogate:
    """A new surrogate module by name (``"sigmoid"`` or ``"atan"``), default alpha when ``None``."""
    try:
        cls = _SURROGATES[name]
    except KeyError:
        raise ValueError(f"unknown surrogate {name!r} (known: {', '.join(_SURROGATES)})") from None
    return cls(alpha)
