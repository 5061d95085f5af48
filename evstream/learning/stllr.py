"""S-TLLR: a temporally local learning rule with O(neurons) state (``shared/spec/stllr.md``).

A :class:`SpikingLayer` is a :class:`~evstream.learning.synapse.Synapse` plus any
stateful neuron module (one call = one step, ``reset()``, ``detach_state()``):
the S-TLLR LIF of :mod:`evstream.learning.stllr_neuron`, or the LIF, STC-LIF and
TDA-LIF neurons of :mod:`evstream.nn`. The layer runs in one of two modes:

* ``"bptt"``: plain autograd through time (neuron state stays attached).
* ``"stllr"``: every step updates the traces ``trx`` (layer input, includes
  ``x[t]``) and ``trpsi`` (of ``psi_eff = dS/dI``, the neuron's own local
  derivative), the neuron state is detached after the step, and the weight
  gradient of a same-step ``loss.backward()`` is the S-TLLR eligibility
  contracted with the learning signal (:mod:`evstream.learning.eligibility`).

:func:`stllr_sequence` trains one batch of sequences: forward every step,
``CE(logits[t], y).backward()`` on the last ``window`` steps (the learning
signal reaches each layer by same-step backprop), one optimizer step at the end
(or one per window step with ``online=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from evstream.learning.eligibility import SynapseGeometry, causal_synapse, noncausal_tap
from evstream.learning.synapse import Synapse

__all__ = ["DirectFeedback", "LeakyReadout", "STLLRFactors", "SequenceResult", "SpikingLayer", "Traces", "leaky_trace",
           "local_step", "stllr_sequence"]


@dataclass(frozen=True)
class STLLRFactors:
    """Trace decays and eligibility weights ``[lambda_post, lambda_pre, alpha_post, alpha_pre]``.

    The default is the S-TLLR code's DVS Gesture setting ``[0.2, 0.75, -1, 1]``.
    """

    lambda_post: float = 0.2
    lambda_pre: float = 0.75
    alpha_post: float = -1.0
    alpha_pre: float = 1.0


def leaky_trace(trace: torch.Tensor | None, x: torch.Tensor, decay: float) -> torch.Tensor:
    """Presynaptic trace after step ``x``: ``decay * trace + x`` (``x`` at the first step), detached."""
    x = x.detach()
    return x.clone() if trace is None else decay * trace + x


def local_step(neuron: nn.Module, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run one neuron step and return ``(spikes, psi_eff)``, ``psi_eff = dS/dI`` element-wise.

    The neuron's state must be detached (S-TLLR mode), so that the spikes depend
    on ``current`` element-wise; ``psi_eff`` is then the diagonal of dS/dI under
    the neuron's own surrogate (STC-LIF: ``g'(m - 1)(1 + gamma)``). Outside
    autograd (``torch.no_grad``) the spikes come back detached.
    """
    grad_mode = torch.is_grad_enabled()
    with torch.enable_grad():
        attached = grad_mode and current.requires_grad
        inp = current if attached else current.detach().requires_grad_(True)
        spikes = neuron(inp)
        (psi,) = torch.autograd.grad(spikes, inp, torch.ones_like(spikes), retain_graph=attached)
    return (spikes if attached else spikes.detach()), psi


class DirectFeedback:
    """DFA learning signal (spec 3.3 option): each layer gets ``delta = B_l e`` instead of backprop.

    ``e = dL_t/dlogits`` of the step (``(softmax(logits) - onehot(y)) / B`` for the
    batch-mean cross-entropy) is set by :func:`stllr_sequence` before each
    backward; ``B_l`` is a fixed random ``(N_l, classes)`` matrix per layer
    (``N_l`` = the layer's output size per sample), N(0, 1/classes), drawn on
    first use from ``seed``.
    """

    def __init__(self, n_classes: int, seed: int = 0) -> None:
        self.n_classes = n_classes
        self.generator = torch.Generator().manual_seed(seed)
        self.matrices: dict[int, torch.Tensor] = {}
        self.error: torch.Tensor | None = None

    def attach(self, key: int, spikes: torch.Tensor) -> torch.Tensor:
        """Make the gradient reaching ``spikes`` the DFA signal of layer ``key``."""
        if key not in self.matrices:
            n = spikes[0].numel()
            b = torch.randn(n, self.n_classes, generator=self.generator) / self.n_classes ** 0.5
            self.matrices[key] = b.to(spikes.device, spikes.dtype)
        matrix = self.matrices[key]

        def signal(grad: torch.Tensor) -> torch.Tensor:
            if self.error is None:
                raise RuntimeError("DirectFeedback.error must be set before backward")
            return (self.error.to(matrix.dtype) @ matrix.T).view_as(grad).to(grad.dtype)

        out = spikes.view_as(spikes)
        out.register_hook(signal)
        return out


class Traces:
    """S-TLLR state of one layer and its per-step update.

    ``trx``: presynaptic trace, shape of the layer input ``(B, N_in)`` or
    ``(B, C_in, H, W)``; ``trpsi``: postsynaptic trace of ``psi_eff``, shape of
    the output (kept only when ``alpha_post != 0``). Both are ``None`` until the
    first step and after :meth:`reset`; nothing else is stored between steps.
    """

    def __init__(self, factors: STLLRFactors) -> None:
        self.factors = factors
        self.trx: torch.Tensor | None = None
        self.trpsi: torch.Tensor | None = None
        self.feedback: DirectFeedback | None = None
        """Set by :func:`~evstream.learning.networks.use_rule` for the DFA learning signal."""

    def reset(self) -> None:
        self.trx = None
        self.trpsi = None

    def step(self, x: torch.Tensor, weight: torch.Tensor, geometry: SynapseGeometry, neuron: nn.Module,
             post: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """One S-TLLR step of ``neuron(post(W (*) x))``; returns the spikes.

        ``post`` maps the synapse output to the neuron's current: a bias, or the
        GroupNorm of the architecture-faithful STC cells. A GroupNorm mixes the
        outputs of a sample, so only the causal term is defined through it
        (spec 5.1); callers with such a ``post`` must use ``alpha_post == 0``.
        """
        f = self.factors
        x_now = x.detach()
        self.trx = leaky_trace(self.trx, x_now, f.lambda_pre)
        current = causal_synapse(x, self.trx, weight, geometry, f.alpha_pre)
        if post is not None:
            current = post(current)
        if f.alpha_post == 0.0:
            spikes = neuron(current)
        else:
            spikes, psi = local_step(neuron, current)
            trpsi_old = torch.zeros_like(psi) if self.trpsi is None else self.trpsi
            if spikes.requires_grad:
                spikes = noncausal_tap(spikes, x_now, trpsi_old, weight, geometry, f.alpha_post)
            self.trpsi = f.lambda_post * trpsi_old + psi
        if self.feedback is not None and spikes.requires_grad:
            spikes = self.feedback.attach(id(self), spikes)
        neuron.detach_state()
        return spikes


class SpikingLayer(nn.Module):
    """A synapse and a neuron; ``layer(x)`` runs one step and returns spikes.

    Args:
        synapse: weights (``I = W_hat (*) x + b``).
        neuron: stateful neuron module taking the current ``I`` (``reset()``, ``detach_state()``).
        factors: S-TLLR trace factors (used in ``"stllr"`` mode).

    ``rule`` selects ``"bptt"`` (plain autograd) or ``"stllr"`` (traces in ``traces``).
    """

    def __init__(self, synapse: Synapse, neuron: nn.Module, factors: STLLRFactors | None = None) -> None:
        super().__init__()
        self.synapse = synapse
        self.neuron = neuron
        self.traces = Traces(factors or STLLRFactors())
        self.rule = "bptt"

    @property
    def geometry(self) -> SynapseGeometry:
        return self.synapse.geometry

    @property
    def trx(self) -> torch.Tensor | None:
        return self.traces.trx

    @property
    def trpsi(self) -> torch.Tensor | None:
        return self.traces.trpsi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rule == "bptt":
            return self.neuron(self.synapse(x))
        return self.traces.step(x, self.synapse.effective_weight(), self.geometry, self.neuron,
                                self.synapse.add_bias)

    def reset(self) -> None:
        """Clear neuron state and traces (a new sequence starts)."""
        self.neuron.reset()
        self.traces.reset()


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator readout: ``u <- leak * u + W x + b``; the logits are ``u``.

    In ``"stllr"`` mode the input trace ``trx <- lambda_pre * trx + x`` replaces
    ``x`` in the weight gradient and ``u[t-1]`` is detached; with
    ``lambda_pre == leak`` that is exactly BPTT's gradient (spec section 3.6).

    Args:
        in_features, out_features: ``N_in`` -> ``N_out`` (classes).
        leak: membrane decay per step (sigmoid(5) = 0.9933 in the S-TLLR SHD net).
        lambda_pre: input trace decay in S-TLLR mode.
    """

    def __init__(self, in_features: int, out_features: int, leak: float = 0.9933, lambda_pre: float = 0.99) -> None:
        super().__init__()
        self.synapse = Synapse(SynapseGeometry("linear"), in_features, out_features, ws=False)
        self.leak = leak
        self.lambda_pre = lambda_pre
        self.rule = "bptt"
        self.u: torch.Tensor | None = None
        self.trx: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rule == "bptt":
            current = self.synapse(x)
        else:
            self.trx = leaky_trace(self.trx, x, self.lambda_pre)
            current = self.synapse.add_bias(
                causal_synapse(x, self.trx, self.synapse.weight, self.synapse.geometry, 1.0))
        u_prev = self.u if self.rule == "bptt" or self.u is None else self.u.detach()
        self.u = current if u_prev is None else self.leak * u_prev + current
        return self.u

    def reset(self) -> None:
        self.u = None
        self.trx = None


@dataclass
class SequenceResult:
    """What one S-TLLR sequence produced: summed logits ``(B, classes)``, mean window loss, backward calls."""

    logits: torch.Tensor
    loss: float
    backward_calls: int


def stllr_sequence(net: nn.Module, frames: torch.Tensor, labels: torch.Tensor,
                   optimizer: torch.optim.Optimizer | None, window: int, online: bool = False,
                   scaler: torch.amp.GradScaler | None = None,
                   sync: Callable[[], None] | None = None, label_smoothing: float = 0.0) -> SequenceResult:
    """Run ``frames`` ``(T, B, ...)`` through ``net`` (``net.step`` or ``net`` itself: one step) in ``"stllr"`` mode.

    The last ``window`` steps (``T_l``) each backpropagate ``CE(logits[t], labels)``
    through the layers of that step only; earlier steps only feed the traces.
    With ``optimizer`` given, gradients are zeroed at the start and the optimizer
    steps once at the end (``online``: after each window step). ``net`` must have
    been ``reset()`` for this batch. When the network's layers use a
    :class:`DirectFeedback`, each window step's error is set for the DFA signal.
    ``sync`` runs before each optimizer step: data-parallel training averages
    the accumulated updates over its processes there. ``label_smoothing`` mixes
    the one-hot target with the uniform one (as :func:`torch.nn.functional.cross_entropy`
    does, also in the DFA error). Returns the logits summed over all steps.
    """
    feedback = next((m.traces.feedback for m in net.modules()
                     if isinstance(getattr(m, "traces", None), Traces) and m.traces.feedback is not None), None)
    step = getattr(net, "step", net)
    steps = frames.shape[0]
    first = steps - max(0, min(window, steps))
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    total = None
    losses = []
    for t in range(steps):
        learn = optimizer is not None and t >= first
        with torch.set_grad_enabled(learn):
            logits = step(frames[t])
            if learn:
                loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
                if feedback is not None:
                    classes = logits.shape[1]
                    target = F.one_hot(labels, classes).to(torch.float32) * (1.0 - label_smoothing) + \
                        label_smoothing / classes
                    feedback.error = (torch.softmax(logits.detach().float(), 1) - target) / len(labels)
                (scaler.scale(loss) if scaler is not None else loss).backward()
                losses.append(float(loss.detach()))
                if online:
                    _optimizer_step(optimizer, scaler, sync)
                    optimizer.zero_grad(set_to_none=True)
        logits = logits.detach().float()
        total = logits if total is None else total + logits
    if optimizer is not None and not online and losses:
        _optimizer_step(optimizer, scaler, sync)
    return SequenceResult(total, sum(losses) / len(losses) if losses else float("nan"), len(losses))


def _optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
                    sync: Callable[[], None] | None) -> None:
    if sync is not None:
        sync()
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
