"""Put a whole network under a learning rule: zoo networks of :mod:`evstream.nn` and S-TLLR layers.

:func:`use_rule` switches a network between ``"bptt"`` and ``"stllr"``:

* :class:`~evstream.learning.stllr.SpikingLayer` and
  :class:`~evstream.learning.stllr.LeakyReadout` modules get their ``rule`` set;
* the cells of :mod:`evstream.nn.cells` (``conv`` or ``fc`` synapse, ``norm``,
  ``neuron``) are wrapped in :class:`STLLRCell` (and unwrapped for BPTT), which
  runs the GroupNorm variant of spec 5.1: causal eligibility with the trace
  ``trx`` replacing the input, no non-causal term (``alpha_post`` forced to 0).

Plain layers (pooling, the linear readout) need nothing: under S-TLLR they get
the same-step gradient, which is their exact instantaneous gradient. A readout
that feeds a leaky :class:`~evstream.nn.zoo.Integrator` is wrapped in
:class:`STLLRReadout` (input trace with the integrator's leak, spec 3.6).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from evstream.learning.catalog import RULES
from evstream.learning.eligibility import SynapseGeometry, causal_synapse
from evstream.learning.stllr import DirectFeedback, LeakyReadout, SpikingLayer, STLLRFactors, Traces, leaky_trace
from evstream.nn.zoo import Integrator

__all__ = ["STLLRCell", "STLLRReadout", "current_rule", "reset_sequence", "unwrap", "use_rule"]


def _synapse_of(cell: nn.Module) -> tuple[nn.Module, SynapseGeometry]:
    conv = getattr(cell, "conv", None)
    if isinstance(conv, nn.Conv2d):
        if conv.bias is not None or len(set(conv.stride)) != 1 or len(set(conv.padding)) != 1:
            raise ValueError("STLLRCell supports square, bias-free Conv2d synapses")
        return conv, SynapseGeometry("conv", conv.stride[0], conv.padding[0], conv.dilation[0], conv.groups)
    fc = getattr(cell, "fc", None)
    if isinstance(fc, nn.Linear) and fc.bias is None:
        return fc, SynapseGeometry("linear")
    raise TypeError(f"{type(cell).__name__} is not a cell with a bias-free conv or fc synapse")


class STLLRCell(nn.Module):
    """An :mod:`evstream.nn` cell (``neuron(norm(synapse(s_in)))``) trained by S-TLLR.

    ``step(x)`` is one S-TLLR step (traces of spec 3.2 with the GroupNorm
    variant of 5.1); the wrapped cell keeps its parameters, so the network's
    weights are shared with the unwrapped form.
    """

    def __init__(self, cell: nn.Module, factors: STLLRFactors) -> None:
        super().__init__()
        self.cell = cell
        self.synapse, self.geometry = _synapse_of(cell)
        self.traces = Traces(dataclasses.replace(factors, alpha_post=0.0))

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One step: input spikes/frame -> output spikes (neuron state detached after it)."""
        return self.traces.step(x, self.synapse.weight, self.geometry, self.cell.neuron, self.cell.norm)

    forward = step

    def reset(self) -> None:
        self.cell.neuron.reset()
        self.traces.reset()


class STLLRReadout(nn.Module):
    """A zoo network's linear readout ``fc`` under S-TLLR, feeding an :class:`~evstream.nn.zoo.Integrator`.

    The integrator runs truncated (``u[t-1]`` constant); the weight gradient
    takes the input trace ``trx <- leak * trx + x`` in place of ``x`` and the
    bias gradient the same trace of a constant 1, which makes both the exact
    BPTT gradients of the integrator's readout (spec 3.6). The gradient sent
    down to the spikes is the same-step one.
    """

    def __init__(self, fc: nn.Linear, leak: float) -> None:
        super().__init__()
        self.fc = fc
        self.leak = leak
        self.trx: torch.Tensor | None = None
        self.steps_trace = 0.0
        """Trace of the bias input: ``sum_k leak^k`` over the steps so far."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.trx = leaky_trace(self.trx, x, self.leak)
        self.steps_trace = self.leak * self.steps_trace + 1.0
        current = causal_synapse(x, self.trx, self.fc.weight, SynapseGeometry("linear"), 1.0)
        if self.fc.bias is None:
            return current
        bias = self.fc.bias
        return current + bias.detach() + (bias - bias.detach()) * self.steps_trace   # value b, gradient x trace

    def reset(self) -> None:
        self.trx = None
        self.steps_trace = 0.0


def _use_readout_rule(net: nn.Module, rule: str) -> None:
    integrator = getattr(net, "integrator", None)
    if not isinstance(integrator, Integrator):
        return
    integrator.truncated = rule == "stllr"
    if rule == "stllr" and isinstance(net.fc, nn.Linear):
        net.fc = STLLRReadout(net.fc, integrator.leak)
    elif rule == "bptt" and isinstance(net.fc, STLLRReadout):
        net.fc = net.fc.fc


def use_rule(net: nn.Module, rule: str, factors: STLLRFactors | None = None,
             feedback: DirectFeedback | None = None) -> nn.Module:
    """Switch ``net`` (in place) to ``rule`` (``"bptt"`` or ``"stllr"``) and return it.

    ``feedback``: S-TLLR learning signal by direct feedback alignment instead of
    same-step backprop (every spiking layer of ``net`` uses it).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)} (got {rule!r})")
    factors = factors or STLLRFactors()
    for module in list(net.modules()):
        _use_readout_rule(module, rule)
        if isinstance(module, (SpikingLayer, LeakyReadout)):
            module.rule = rule
        cells = getattr(module, "cells", None)
        if isinstance(cells, nn.ModuleList):
            for i, cell in enumerate(cells):
                if rule == "stllr" and not isinstance(cell, STLLRCell):
                    cells[i] = STLLRCell(cell, factors)
                elif rule == "bptt" and isinstance(cell, STLLRCell):
                    cells[i] = cell.cell
    for module in net.modules():
        traces = getattr(module, "traces", None)
        if isinstance(traces, Traces):
            traces.feedback = feedback
    return net


def current_rule(net: nn.Module) -> str:
    """``"stllr"`` when any layer of ``net`` runs S-TLLR, else ``"bptt"``."""
    for module in net.modules():
        if isinstance(module, (STLLRCell, STLLRReadout)) or getattr(module, "rule", "bptt") == "stllr":
            return "stllr"
    return "bptt"


def unwrap(net: nn.Module) -> nn.Module:
    """``net`` back in its plain (BPTT) form, e.g. before saving a checkpoint."""
    return use_rule(net, "bptt")


def reset_sequence(net: nn.Module) -> None:
    """Clear every state in ``net``: neurons, S-TLLR traces, readouts (before each new sequence)."""
    for module in net.modules():
        if module is not net and callable(getattr(module, "reset", None)) and not isinstance(module, nn.ModuleList):
            module.reset()
