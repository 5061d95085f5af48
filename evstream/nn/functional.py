"""Pure neuron transitions ``(input, state, params) -> (spikes, state)`` in torch.

No function here keeps state or allocates modules: the stateful layers in
:mod:`evstream.nn.neurons` hold the state and call these, and the learning
rules (S-TLLR) can call them directly on detached state. Shapes: any
``(N, ...)`` for one step; every state tensor has the shape of the input.
Potentials are in threshold units (``v_th = 1`` by default); one call is one
time step (no physical time unit). Equations: ``spec/neurons.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from evstream.nn.surrogate import Surrogate

__all__ = ["LIFParams", "lif_step", "stc_membrane", "stc_step", "tda_autapse_sum", "tda_step"]


class LIFParams(NamedTuple):
    """LIF/PLIF hyperparameters (SpikingJelly conventions, spec §1.1).

    ``k`` is ``1/tau`` (a float, or a 0-dim tensor ``sigmoid(w)`` for PLIF).
    """

    k: float | torch.Tensor = 0.5
    v_threshold: float = 1.0
    v_reset: float = 0.0
    decay_input: bool = True
    soft_reset: bool = False
    detach_reset: bool = False


def lif_step(x: torch.Tensor, v: torch.Tensor, p: LIFParams,
             surrogate: Surrogate) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF/PLIF step: charge, fire (``>=``), reset; returns ``(spikes, v_next)``.

    Args:
        x: input current ``(N, ...)``.
        v: membrane after the previous reset ``(N, ...)`` (``v_reset`` at start).
        p: hyperparameters; ``p.k = 1/tau``.
        surrogate: spike function (Heaviside forward, surrogate backward).
    """
    if p.decay_input:
        h = v + (x - (v - p.v_reset)) * p.k
    else:
        h = v - (v - p.v_reset) * p.k + x
    s = surrogate(h - p.v_threshold)
    s_r = s.detach() if p.detach_reset else s
    if p.soft_reset:
        v_next = h - p.v_threshold * s_r
    else:
        v_next = s_r * p.v_reset + (1.0 - s_r) * h
    return s, v_next


def stc_membrane(x: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor,
                 a: torch.Tensor | None = None) -> torch.Tensor:
    """STC charge: ``m = v (1 + beta) + x (1 + gamma)``; STC-PLIF with ``a``:
    ``m = a v (1 + beta) + (1 - a) x (1 + gamma)`` (spec §2.1 step 5)."""
    if a is None:
        return v * (1.0 + beta) + x * (1.0 + gamma)
    return a * v * (1.0 + beta) + (1.0 - a) * x * (1.0 + gamma)


def stc_step(x: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor,
             surrogate: Surrogate, v_threshold: float = 1.0,
             a: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One STC-LIF (or STC-PLIF with ``a = sigmoid(t_m)``) neuron step.

    Args:
        x: input current ``x[t]`` ``(N, ...)`` (after conv/linear and GN).
        v: post-reset membrane ``v[t-1]`` ``(N, ...)``.
        beta, gamma: temporal/spatial circuit factors in (-1, 1), shape of ``x``.
    Returns:
        ``(s[t], v[t])``: spikes (``m >= v_th``) and the soft-reset membrane
        ``m - v_th s`` (the reset is not detached).
    """
    m = stc_membrane(x, v, beta, gamma, a)
    s = surrogate(m - v_threshold)
    return s, m - v_threshold * s


def tda_autapse_sum(history: list[torch.Tensor], delays: torch.Tensor,
                    weights: torch.Tensor) -> torch.Tensor | float:
    """``sum_d w[..., d] * s[t - d]`` over the delay set (spec §3.2 step 2).

    Args:
        history: past spikes, ``history[-1] = s[t-1]``, each ``(N, F)`` or
            ``(N, C, H, W)``; missing entries (``t - d < 1``) count as 0.
        delays: int ``(|D|,)`` delays in steps, each ``>= 1``.
        weights: ``(F, |D|)`` or ``(C, |D|)`` autapse weights (per feature / channel).
    """
    total: torch.Tensor | float = 0.0
    for j, d in enumerate(delays.tolist()):
        if d <= len(history):
            s = history[-d]
            w = weights[:, j].reshape((1, -1) + (1,) * (s.dim() - 2))
            total = total + w * s
    return total


def tda_step(i_t: torch.Tensor, v_prev: torch.Tensor, s_prev: torch.Tensor,
             autapse: torch.Tensor | float, surrogate: Surrogate, tau: float | torch.Tensor = 0.5,
             v_threshold: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One TDA-LIF step (spec §3.1): ``v = tau v_prev (1 - s_prev) + I + A``, ``s = H(v - v_th)``.

    ``v_prev`` is the *pre-reset* potential of the previous step; the reset to
    0 acts through ``(1 - s_prev)``. Returns ``(s, v)`` with ``v`` pre-reset.
    """
    v = tau * v_prev * (1.0 - s_prev) + i_t + autapse
    return surrogate(v - v_threshold), v
