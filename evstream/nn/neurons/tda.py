"""TDA-LIF layer (mode A: a layer of time-delay-autapse neurons, spec §3.3).

``v_t = tau v_{t-1} (1 - s_{t-1}) + I_t + sum_{d in D} w[d] s_{t-d}``, ``s_t =
H(v_t - v_th)`` with the ATan(2) surrogate. The history of the last
``d_max`` spike tensors is kept as a list (no in-place writes, so autograd
reaches every node that reads a spike); nothing is detached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.functional import tda_autapse_sum, tda_step
from evstream.nn.surrogate import ATan, Surrogate

__all__ = ["TDALIF"]


class TDALIF(MemoryModule):
    """A layer of TDA-LIF neurons with per-feature (FC) or per-channel (conv) autapses.

    Args:
        features: ``F`` for ``(N, F)`` input or ``C`` for ``(N, C, H, W)`` input.
        delays: the delay set ``D`` in steps, each >= 1 (default ``(1, 2, 4, 8)``).
        tau: multiplicative leak (0.5); ``learn_tau`` makes it ``sigmoid(w)``.
        v_threshold: 1.0.
        init: ``"zeros"`` (starts as LIF with a hard reset) or ``"uniform"``
            (U(+-1/sqrt(|D|))) for the autapse weights ``w`` of shape ``(F, |D|)``.
    State: ``v_prev`` (pre-reset potential) and ``history`` (last ``max(D)`` spikes).
    """

    def __init__(self, features: int, delays: Sequence[int] = (1, 2, 4, 8), tau: float = 0.5,
                 learn_tau: bool = False, v_threshold: float = 1.0, init: str = "zeros",
                 surrogate: Surrogate | None = None, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if not delays or min(delays) < 1 or len(set(delays)) != len(delays):
            raise ValueError(f"delays must be distinct integers >= 1 (got {list(delays)})")
        if init not in ("zeros", "uniform"):
            raise ValueError(f"init must be 'zeros' or 'uniform' (got {init!r})")
        self.features = features
        self.register_buffer("delays", torch.tensor(list(delays), dtype=torch.long), persistent=False)
        self.d_max = max(delays)
        self.v_threshold = float(v_threshold)
        self.surrogate = surrogate if surrogate is not None else ATan()
        w = torch.zeros(features, len(delays))
        if init == "uniform":
            bound = 1.0 / math.sqrt(len(delays))
            w.uniform_(-bound, bound)
        self.weight = nn.Parameter(w)
        if learn_tau:
            self.w_tau = nn.Parameter(torch.tensor(math.log(tau / (1.0 - tau))))
            self.tau = None
        else:
            self.w_tau = None
            self.tau = float(tau)
        self.register_memory("v_prev")
        self.register_memory("history")

    def leak(self) -> float | torch.Tensor:
        return self.tau if self.w_tau is None else torch.sigmoid(self.w_tau)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.features:
            raise ValueError(f"TDALIF: expected {self.features} features/channels on axis 1, got {x.shape[1]}")
        if self.check_shape(x):
            self.v_prev = torch.zeros_like(x)
            self.history = []
        autapse = tda_autapse_sum(self.history, self.delays, self.weight)
        s_prev = self.history[-1] if self.history else torch.zeros_like(x)
        s, self.v_prev = tda_step(x, self.v_prev, s_prev, autapse, self.surrogate, self.leak(),
                                  self.v_threshold)
        self.history = (self.history + [s])[-self.d_max:]
        return s
