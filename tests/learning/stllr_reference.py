"""Plain step-by-step S-TLLR reference (``shared/spec/stllr.md`` 3.2-3.3), no autograd.

Layers are dicts of float64 tensors; each step returns what the rule needs and
the weight gradients are accumulated by the spec's formulas literally.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evstream.learning.stllr_neuron import PSI


def linear_contract(inputs: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """sum over batch of outer(grad_b, inputs_b): (N_out, N_in)."""
    return sum(torch.outer(grad[b], inputs[b]) for b in range(inputs.shape[0]))


def conv_contract(inputs: torch.Tensor, grad: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Conv weight gradient by explicit patches: sum_b,p grad[b, o, p] * patch[b, :, p]."""
    patches = F.unfold(inputs, kernel, padding=padding, stride=stride)          # (B, C_in*k*k, P)
    g = grad.flatten(2)                                                         # (B, C_out, P)
    out = torch.einsum("bop,bip->oi", g, patches)
    return out.view(grad.shape[1], inputs.shape[1], kernel, kernel)


def conv_forward_loops(x: torch.Tensor, w: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
    patches = F.unfold(x, w.shape[-1], padding=padding, stride=stride)
    out = torch.einsum("oi,bip->bop", w.flatten(1), patches)
    h = (x.shape[2] + 2 * padding - w.shape[-1]) // stride + 1
    return out.view(x.shape[0], w.shape[0], h, -1)


class RefLayer:
    """One S-TLLR LIF layer: weight (linear (N_out, N_in) or conv), leak, theta, psi, factors."""

    def __init__(self, weight, bias, leak, theta, psi, factors, conv=None, strict=True, reset="soft"):
        self.w, self.b = weight, bias
        self.leak, self.theta, self.psi = leak, theta, PSI[psi]
        self.lpost, self.lpre, self.apost, self.apre = factors
        self.conv = conv  # (stride, padding) or None
        self.strict, self.reset_mode = strict, reset
        self.u = self.trx = self.trpsi = None
        self.gw = torch.zeros_like(weight)
        self.gb = torch.zeros_like(bias)
        self.log: list[dict] = []

    def current(self, x):
        if self.conv is None:
            return x @ self.w.T + self.b
        return conv_forward_loops(x, self.w, *self.conv) + self.b.view(1, -1, 1, 1)

    def step(self, x):
        self.trx = x.clone() if self.trx is None else self.lpre * self.trx + x
        i = self.current(x)
        self.u = i if self.u is None else self.leak * self.u + i
        z = self.u - self.theta
        s = (z > 0).double() if self.strict else (z >= 0).double()
        psi = self.psi(z)
        trpsi_old = torch.zeros_like(psi) if self.trpsi is None else self.trpsi
        self.saved = dict(x=x, trx=self.trx.clone(), psi=psi, trpsi_old=trpsi_old, u_pre=self.u.clone())
        self.trpsi = self.lpost * trpsi_old + psi
        self.u = self.u - self.theta * s if self.reset_mode == "soft" else self.u * (1 - s)
        self.log.append(dict(self.saved, s=s))
        return s

    def learn(self, delta):
        """Accumulate G for this step's learning signal ``delta = dL/ds``; return dL/dx."""
        sv = self.saved
        gpsi = delta * sv["psi"]
        gpost = delta * sv["trpsi_old"]
        if self.conv is None:
            self.gw += self.apre * linear_contract(sv["trx"], gpsi) + self.apost * linear_contract(sv["x"], gpost)
            self.gb += gpsi.sum(0)
            return gpsi @ self.w
        k = self.w.shape[-1]
        self.gw += (self.apre * conv_contract(sv["trx"], gpsi, k, *self.conv)
                    + self.apost * conv_contract(sv["x"], gpost, k, *self.conv))
        self.gb += gpsi.sum((0, 2, 3))
        stride, padding = self.conv
        grad_patches = torch.einsum("oi,bop->bip", self.w.flatten(1), gpsi.flatten(2))
        return F.fold(grad_patches, sv["x"].shape[2:], k, padding=padding, stride=stride)
