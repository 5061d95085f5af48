"""LIF and PLIF layers (SpikingJelly conventions, spec §1)."""

from __future__ import annotations

import math

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.functional import LIFParams, lif_step
from evstream.nn.surrogate import Sigmoid, Surrogate

__all__ = ["LIF", "PLIF"]


class LIF(MemoryModule):
    """Leaky integrate-and-fire: ``h = v + (x - (v - v_reset)) / tau``, fire ``h >= v_th``, reset.

    Args:
        tau: membrane constant in steps (SJ default 2.0).
        v_threshold, v_reset: threshold and hard-reset value.
        decay_input: ``False`` gives ``h = v - (v - v_reset)/tau + x``.
        reset: ``"hard"`` (``v = v_reset`` after a spike) or ``"soft"`` (``v = h - v_th``).
        detach_reset: stop the gradient through the spike in the reset.
        surrogate: spike function; a new :class:`Sigmoid` (alpha 4) when ``None``.
    State: ``v`` with the shape of the input, ``v_reset`` at start.
    """

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, v_reset: float = 0.0,
                 decay_input: bool = True, reset: str = "hard", detach_reset: bool = False,
                 surrogate: Surrogate | None = None, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if reset not in ("hard", "soft"):
            raise ValueError(f"reset must be 'hard' or 'soft' (got {reset!r})")
        if tau <= 1.0 and decay_input:
            raise ValueError(f"tau must be > 1 step (got {tau})")
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = float(v_reset)
        self.decay_input = decay_input
        self.reset_mode = reset
        self.detach_reset = detach_reset
        self.surrogate = surrogate if surrogate is not None else Sigmoid()
        self.register_memory("v")

    def k(self) -> float | torch.Tensor:
        """``1/tau``: the fraction of the gap to the input closed per step."""
        return 1.0 / self.tau

    def params(self) -> LIFParams:
        return LIFParams(self.k(), self.v_threshold, self.v_reset, self.decay_input,
                         self.reset_mode == "soft", self.detach_reset)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if self.check_shape(x):
            self.v = torch.full_like(x, self.v_reset)
        s, self.v = lif_step(x, self.v, self.params(), self.surrogate)
        return s


class PLIF(LIF):
    """Parametric LIF: ``1/tau = sigmoid(w)`` with ``w`` a learnable scalar, ``w = -ln(init_tau - 1)``."""

    def __init__(self, init_tau: float = 2.0, **kwargs: object) -> None:
        super().__init__(tau=init_tau, **kwargs)
        self.w = nn.Parameter(torch.tensor(-math.log(init_tau - 1.0)))

    def k(self) -> torch.Tensor:
        return torch.sigmoid(self.w)
