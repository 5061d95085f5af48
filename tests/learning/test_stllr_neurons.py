"""S-TLLR with the STC-LIF and TDA-LIF neurons of evstream.nn (stllr.md 5 and check 7)."""

from __future__ import annotations

import torch

from evstream.learning.eligibility import SynapseGeometry
from evstream.learning.stllr import SpikingLayer, STLLRFactors
from evstream.learning.stllr_neuron import STLLRNeuron
from evstream.learning.synapse import Synapse
from evstream.nn.neurons import make_neuron

FACTORS = STLLRFactors(0.2, 0.75, -1.0, 1.0)


def _layer(weight: torch.Tensor, neuron: torch.nn.Module) -> SpikingLayer:
    syn = Synapse(SynapseGeometry("linear"), weight.shape[1], weight.shape[0], bias=False, ws=False).double()
    with torch.no_grad():
        syn.weight.copy_(weight)
    layer = SpikingLayer(syn, neuron.double(), FACTORS)
    layer.rule = "stllr"
    return layer


def _run(layer: SpikingLayer, xs: torch.Tensor, deltas: torch.Tensor, window: int) -> list[torch.Tensor]:
    layer.reset()
    spikes = []
    for t in range(xs.shape[0]):
        learn = t >= xs.shape[0] - window
        with torch.set_grad_enabled(learn):
            s = layer(xs[t])
            if learn:
                (deltas[t] * s).sum().backward()
        spikes.append(s.detach())
    return spikes


def _inputs(seed: int, steps: int = 8, batch: int = 2, n_in: int = 6, n_out: int = 32):
    gen = torch.Generator().manual_seed(seed)
    xs = (torch.rand(steps, batch, n_in, generator=gen) < 0.5).double()
    w = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) * 0.6
    deltas = torch.randn(steps, batch, n_out, generator=gen, dtype=torch.float64)
    return xs, w, deltas


def test_stc_with_zero_circuits_equals_if_layer():
    """beta = gamma = 0 (GN affines zeroed): STC/S-TLLR == IF, threshold 1, >=, Sigmoid(4) psi."""
    xs, w, deltas = _inputs(0)
    stc = make_neuron("stc-lif", 32, conv=False)
    with torch.no_grad():
        for branch in (stc.branch_h, stc.branch_v):
            branch[1].weight.zero_()
            branch[1].bias.zero_()
    a = _layer(w, stc)
    b = _layer(w, STLLRNeuron(leak=1.0, theta=1.0, psi="sigmoid", strict=False, reset="soft"))
    sa, sb = _run(a, xs, deltas, 5), _run(b, xs, deltas, 5)
    assert all(torch.equal(x, y) for x, y in zip(sa, sb)) and sum(float(s.sum()) for s in sa) > 0
    torch.testing.assert_close(a.trpsi, b.trpsi)
    torch.testing.assert_close(a.synapse.weight.grad, b.synapse.weight.grad)


def test_stc_psi_eff_includes_the_spatial_factor():
    """psi_eff = g'(m - 1)(1 + gamma): the postsynaptic trace follows the neuron's own dS/dI."""
    xs, w, _ = _inputs(1)
    stc = make_neuron("stc-lif", 32, conv=False).double()
    layer = _layer(w, stc)
    layer.reset()
    with torch.no_grad():
        layer(xs[0])
        v, p = stc.v.clone(), stc.s_prev.clone()
        trpsi = layer.trpsi.clone()
        layer(xs[1])
    hb, hg = stc.circuits(p)
    beta, gamma = torch.tanh(hb), torch.tanh(hg)
    m = v * (1 + beta) + (xs[1] @ w.T) * (1 + gamma)
    sig = torch.sigmoid(4 * (m - 1))
    expected = 0.2 * trpsi + 4 * sig * (1 - sig) * (1 + gamma)
    assert gamma.abs().max() > 0.01
    torch.testing.assert_close(layer.trpsi, expected)


def test_tda_with_zero_autapses_equals_lif_with_hard_reset():
    xs, w, deltas = _inputs(2)
    w = w * 2.0
    a = _layer(w, make_neuron("tda-lif", 32, conv=False))
    b = _layer(w, STLLRNeuron(leak=0.5, theta=1.0, psi="atan", strict=False, reset="hard"))
    sa, sb = _run(a, xs, deltas, 6), _run(b, xs, deltas, 6)
    assert all(torch.equal(x, y) for x, y in zip(sa, sb)) and sum(float(s.sum()) for s in sa) > 0
    torch.testing.assert_close(a.synapse.weight.grad, b.synapse.weight.grad)


def test_tda_autapse_weights_get_the_instantaneous_gradient():
    """G_{w_a^d} = sum_batch delta ⊙ psi ⊙ s_{t-d}: no trace, no non-causal term."""
    xs, w, deltas = _inputs(3, steps=10)
    tda = make_neuron("tda-lif", 32, conv=False, delays=(1, 2), init="uniform").double()
    layer = _layer(w * 2.0, tda)
    layer.reset()
    expected = torch.zeros_like(tda.weight)
    history: list[torch.Tensor] = []
    for t in range(xs.shape[0]):
        with torch.no_grad():
            v_prev = tda.v_prev.clone() if tda.v_prev is not None else torch.zeros(2, 32, dtype=torch.float64)
        s = layer(xs[t])
        (deltas[t] * s).sum().backward()
        past = [history[-d] if len(history) >= d else torch.zeros_like(s) for d in (1, 2)]
        autapse = sum(tda.weight[:, i].detach() * past[i] for i in range(2))
        v = 0.5 * v_prev * (1 - past[0]) + xs[t] @ (w * 2.0).T + autapse
        psi = 1.0 / (1.0 + (torch.pi * (v - 1.0)) ** 2)
        for i in range(2):
            expected[:, i] += (deltas[t] * psi * past[i]).sum(0)
        history.append(s.detach())
    assert expected.abs().sum() > 0
    torch.testing.assert_close(tda.weight.grad, expected)
