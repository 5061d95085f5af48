"""Autograd operations that contract S-TLLR eligibilities with the learning signal.

S-TLLR (``shared/spec/stllr.md``) gives a synapse ``W`` (linear or conv) the
weight gradient, per step ``t`` of the learning window,

``G_W += alpha_pre * contract(trx[t], delta ⊙ psi) + alpha_post * contract(x[t], delta ⊙ trpsi[t-1])``

where ``delta = dL_t/ds`` is the gradient reaching the layer's spikes,
``psi = dS/dI`` the neuron's local derivative, ``trx`` the presynaptic trace and
``trpsi`` the postsynaptic trace. ``contract(a, g)`` is the weight gradient of the
synapse for input ``a`` and output gradient ``g`` (``g^T @ a`` for a linear map,
``conv2d_weight`` for a convolution).

Two autograd functions produce exactly that from an ordinary same-step
``loss.backward()``, so weight standardisation and gains chain through autograd:

* :func:`causal_synapse` computes ``I = W (*) x``; its backward passes
  ``W^T (*) g`` down to ``x`` and gives ``W`` the causal term, with the trace
  ``trx`` standing in for ``x``.
* :func:`noncausal_tap` is the identity on the spikes ``s``; its backward passes
  ``delta`` through unchanged and gives ``W`` the non-causal term.

No weight-shaped eligibility is ever stored: each step contracts the current
traces with the current learning signal and the graph of the step is freed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

__all__ = ["SynapseGeometry", "causal_synapse", "noncausal_tap"]


@dataclass(frozen=True)
class SynapseGeometry:
    """How a weight maps an input to a current: ``"linear"`` or ``"conv"`` (2-D).

    Linear: input ``(B, N_in)``, weight ``(N_out, N_in)``, output ``(B, N_out)``.
    Conv: input ``(B, C_in, H, W)``, weight ``(C_out, C_in/groups, k, k)``,
    output ``(B, C_out, H_out, W_out)``; ``stride``, ``padding``, ``dilation``
    and ``groups`` as in :func:`torch.nn.functional.conv2d`.
    """

    kind: str = "linear"
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "conv"):
            raise ValueError(f"synapse kind must be 'linear' or 'conv' (got {self.kind!r})")

    def apply(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The current ``W (*) x`` (no bias)."""
        if self.kind == "linear":
            return F.linear(x, weight)
        return F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, self.groups)

    def grad_input(self, grad: torch.Tensor, weight: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
        """``W^T (*) grad``: the gradient sent down to the input, shape ``input_shape``."""
        if self.kind == "linear":
            return grad @ weight
        return conv2d_input(input_shape, weight, grad, self.stride, self.padding, self.dilation, self.groups)

    def grad_weight(self, inputs: torch.Tensor, grad: torch.Tensor, weight_shape: torch.Size) -> torch.Tensor:
        """Weight gradient for ``inputs`` and output gradient ``grad``, summed over the batch."""
        if self.kind == "linear":
            return grad.transpose(0, 1) @ inputs
        return conv2d_weight(inputs, weight_shape, grad, self.stride, self.padding, self.dilation, self.groups)


class _CausalSynapse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, trx, weight, geometry: SynapseGeometry, alpha_pre: float):  # noqa: ANN001, ANN205
        ctx.save_for_backward(trx, weight)
        ctx.geometry = geometry
        ctx.alpha_pre = alpha_pre
        ctx.input_shape = x.shape
        return geometry.apply(x, weight)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        trx, weight = ctx.saved_tensors
        geometry: SynapseGeometry = ctx.geometry
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = geometry.grad_input(grad.to(weight.dtype), weight, ctx.input_shape)
        if ctx.needs_input_grad[2]:
            grad_w = ctx.alpha_pre * geometry.grad_weight(trx.to(weight.dtype), grad.to(weight.dtype), weight.shape)
        return grad_x, None, grad_w, None, None


class _NonCausalTap(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes, x, trpsi_old, weight, geometry: SynapseGeometry, alpha_post: float):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x, trpsi_old)
        ctx.geometry = geometry
        ctx.alpha_post = alpha_post
        ctx.weight_shape = weight.shape
        ctx.weight_dtype = weight.dtype
        return spikes.view_as(spikes)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, trpsi_old = ctx.saved_tensors
        grad_w = None
        if ctx.needs_input_grad[3]:
            dtype = ctx.weight_dtype
            grad_w = ctx.alpha_post * ctx.geometry.grad_weight(
                x.to(dtype), (grad * trpsi_old).to(dtype), ctx.weight_shape)
        return grad, None, None, grad_w, None, None


def causal_synapse(x: torch.Tensor, trx: torch.Tensor, weight: torch.Tensor,
                   geometry: SynapseGeometry, alpha_pre: float) -> torch.Tensor:
    """Current ``W (*) x`` whose weight gradient is ``alpha_pre * contract(trx, dL/dI)``.

    Args:
        x: layer input at this step, ``(B, N_in)`` or ``(B, C_in, H, W)``; its
            gradient is the exact same-step one (``W^T (*) dL/dI``).
        trx: presynaptic trace, shape of ``x``, detached (it already includes ``x``).
        weight: effective weight ``W_hat`` (after standardisation).
    """
    return _CausalSynapse.apply(x, trx, weight, geometry, alpha_pre)


def noncausal_tap(spikes: torch.Tensor, x: torch.Tensor, trpsi_old: torch.Tensor, weight: torch.Tensor,
                  geometry: SynapseGeometry, alpha_post: float) -> torch.Tensor:
    """Identity on ``spikes`` that adds ``alpha_post * contract(x, dL/ds ⊙ trpsi_old)`` to ``W``'s gradient.

    Args:
        spikes: the layer's output at this step, ``(B, N_out)`` or ``(B, C_out, H_out, W_out)``.
        x: layer input at this step (detached is fine: only its value is used).
        trpsi_old: postsynaptic trace of the previous step, shape of ``spikes``.
    """
    return _NonCausalTap.apply(spikes, x, trpsi_old, weight, geometry, alpha_post)
