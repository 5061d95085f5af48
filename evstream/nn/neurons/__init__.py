"""Stateful neuron layers: LIF/PLIF baselines, STC-LIF/STC-PLIF, TDA-LIF (spec/neurons.md).

Each layer takes the synaptic current of one step ``(N, ...)`` in :meth:`step`
and returns spikes in {0, 1} of the same shape; see :mod:`evstream.nn.base`.
:func:`make_neuron` builds one by kind name for the zoo and checkpoints.
"""

from __future__ import annotations

from evstream.nn.neurons.factory import NEURON_KINDS, make_neuron
from evstream.nn.neurons.lif import LIF, PLIF
from evstream.nn.neurons.stc import STCNeuron, GroupedLinear, stc_conv_branch, stc_linear_branch
from evstream.nn.neurons.tda import TDALIF

__all__ = ["LIF", "NEURON_KINDS", "PLIF", "STCNeuron", "TDALIF", "GroupedLinear", "make_neuron",
           "stc_conv_branch", "stc_linear_branch"]
