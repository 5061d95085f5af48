"""S-TLLR traces and weight gradients against the spec's hand example and a plain reference."""

from __future__ import annotations

import pytest
import torch

from evstream.learning.eligibility import SynapseGeometry
from evstream.learning.stllr import LeakyReadout, SpikingLayer, STLLRFactors
from evstream.learning.stllr_neuron import STLLRNeuron
from evstream.learning.synapse import Synapse, standardize
from tests.learning.stllr_reference import RefLayer

DVS_FACTORS = (0.2, 0.75, -1.0, 1.0)


def make_layer(weight, bias=None, conv=None, leak=0.5, theta=0.6, psi="triangle", factors=DVS_FACTORS,
               strict=True, reset="soft", ws=False) -> SpikingLayer:
    """A float64 S-TLLR layer with the given weight (linear (N_out, N_in) or conv (C_out, C_in, k, k))."""
    geometry = SynapseGeometry("conv", stride=conv[0], padding=conv[1]) if conv else SynapseGeometry("linear")
    kernel = weight.shape[-1] if conv else 1
    syn = Synapse(geometry, weight.shape[1], weight.shape[0], kernel, bias=bias is not None, ws=ws).double()
    with torch.no_grad():
        syn.weight.copy_(weight)
        if bias is not None:
            syn.bias.copy_(bias)
    layer = SpikingLayer(syn, STLLRNeuron(leak, theta, psi, strict, reset), STLLRFactors(*factors))
    layer.rule = "stllr"
    return layer


def run_unit_delta(layer: SpikingLayer, xs: list[float], window: int) -> tuple[float, list[float]]:
    """Single synapse, ``delta = 1`` on the last ``window`` steps; returns G_W and the per-step increments."""
    layer.reset()
    layer.synapse.weight.grad = None
    increments, previous = [], 0.0
    for t, value in enumerate(xs):
        x = torch.tensor([[value]], dtype=torch.float64)
        learn = t >= len(xs) - window
        with torch.set_grad_enabled(learn):
            s = layer(x)
            if learn:
                s.sum().backward()
        g = 0.0 if layer.synapse.weight.grad is None else float(layer.synapse.weight.grad)
        increments.append(g - previous)
        previous = g
    return previous, increments


def test_hand_example_traces_and_gradients():
    layer = make_layer(torch.ones(1, 1, dtype=torch.float64))
    g4, e = run_unit_delta(layer, [1, 0, 1, 1], window=4)
    assert e == pytest.approx([0.180000, 0.135000, 0.018375, 0.034847], abs=1e-6)
    assert g4 == pytest.approx(0.368222, abs=1e-6)
    assert run_unit_delta(layer, [1, 0, 1, 1], window=2)[0] == pytest.approx(0.053222, abs=1e-6)
    assert run_unit_delta(layer, [1, 0, 1, 1], window=0)[0] == 0.0


def test_hand_example_trace_values_match_the_table():
    layer = make_layer(torch.ones(1, 1, dtype=torch.float64))
    layer.reset()
    trx, trpsi_old, u_after, spikes = [], [], [], []
    with torch.no_grad():
        for value in [1, 0, 1, 1]:
            before = None if layer.trpsi is None else float(layer.trpsi)
            spikes.append(float(layer(torch.tensor([[float(value)]], dtype=torch.float64))))
            trx.append(float(layer.trx))
            trpsi_old.append(before or 0.0)
            u_after.append(float(layer.neuron.u))
    assert trx == pytest.approx([1.0, 0.75, 1.5625, 2.171875])
    assert trpsi_old == pytest.approx([0.0, 0.18, 0.216, 0.1932])
    assert spikes == [1.0, 0.0, 1.0, 1.0]
    assert u_after == pytest.approx([0.4, 0.2, 0.5, 0.65])


def test_hand_example_with_linear_psi():
    layer = make_layer(torch.ones(1, 1, dtype=torch.float64), psi="rational")
    _, e = run_unit_delta(layer, [1, 0, 1, 1], window=4)
    assert e == pytest.approx([0.00059488, 0.00044616, -0.00011313, -0.00002865], abs=1e-8)


def test_spike_is_strict_and_reset_follows_psi():
    layer = make_layer(torch.ones(1, 1, dtype=torch.float64))
    layer.reset()
    with torch.no_grad():
        s = layer(torch.tensor([[0.6]], dtype=torch.float64))          # u == theta exactly
    assert float(s) == 0.0
    assert float(layer.trpsi) == pytest.approx(0.3)                     # psi(0) read before any reset
    geq = make_layer(torch.ones(1, 1, dtype=torch.float64), strict=False)
    geq.reset()
    with torch.no_grad():
        assert float(geq(torch.tensor([[0.6]], dtype=torch.float64))) == 1.0


def _random_binary(gen, *shape):
    return (torch.rand(*shape, generator=gen, dtype=torch.float64) < 0.4).double()


@pytest.mark.parametrize("psi", ["triangle", "rational", "sigmoid"])
def test_two_linear_layers_match_reference(psi):
    gen = torch.Generator().manual_seed(3)
    w1 = torch.randn(5, 7, generator=gen, dtype=torch.float64) * 0.7
    w2 = torch.randn(4, 5, generator=gen, dtype=torch.float64) * 0.7
    b1 = torch.randn(5, generator=gen, dtype=torch.float64) * 0.1
    b2 = torch.randn(4, generator=gen, dtype=torch.float64) * 0.1
    factors = (0.5, 0.8, -0.2, 1.0)
    ours = [make_layer(w1, b1, psi=psi, factors=factors, leak=0.881), make_layer(w2, b2, psi=psi, factors=factors, leak=0.881)]
    ref = [RefLayer(w1, b1, 0.881, 0.6, psi, factors), RefLayer(w2, b2, 0.881, 0.6, psi, factors)]
    steps, window = 7, 4
    xs = _random_binary(gen, steps, 3, 7)
    readout = torch.randn(steps, 3, 4, generator=gen, dtype=torch.float64)   # L_t = sum(c_t * s_2[t])
    for layer in ours:
        layer.reset()
    for t in range(steps):
        learn = t >= steps - window
        with torch.set_grad_enabled(learn):
            s2 = ours[1](ours[0](xs[t]))
            if learn:
                (readout[t] * s2).sum().backward()
        r2 = ref[1].step(ref[0].step(xs[t]))
        torch.testing.assert_close(s2.detach(), r2)
        torch.testing.assert_close(ours[0].trx, ref[0].saved["trx"])
        torch.testing.assert_close(ours[1].trpsi, ref[1].trpsi)
        if learn:
            ref[0].learn(ref[1].learn(readout[t]))        # delta of layer 1 = same-step backprop from layer 2
    for layer, r in zip(ours, ref):
        torch.testing.assert_close(layer.synapse.weight.grad, r.gw)
        torch.testing.assert_close(layer.synapse.bias.grad, r.gb)
    assert ref[1].gw.abs().sum() > 0 and ref[0].gw.abs().sum() > 0


def test_conv_layer_with_stride_and_padding_matches_reference():
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64) * 0.6
    b = torch.randn(3, generator=gen, dtype=torch.float64) * 0.1
    ours = make_layer(w, b, conv=(2, 1))
    ref = RefLayer(w, b, 0.5, 0.6, "triangle", DVS_FACTORS, conv=(2, 1))
    steps, window = 6, 3
    xs = _random_binary(gen, steps, 2, 2, 7, 7)
    ours.reset()
    for t in range(steps):
        learn = t >= steps - window
        x = xs[t].clone().requires_grad_(learn)
        with torch.set_grad_enabled(learn):
            s = ours(x)
            delta = torch.randn(s.shape, generator=gen, dtype=torch.float64)
            if learn:
                (delta * s).sum().backward()
        r = ref.step(xs[t])
        torch.testing.assert_close(s.detach(), r)
        if learn:
            torch.testing.assert_close(x.grad, ref.learn(delta))
    torch.testing.assert_close(ours.synapse.weight.grad, ref.gw)
    torch.testing.assert_close(ours.synapse.bias.grad, ref.gb)


@pytest.mark.parametrize("conv", [None, (2, 1)])
def test_instantaneous_limit_equals_same_step_autograd(conv):
    """lambda_pre = 0, alpha_post = 0: G equals autograd of L_t wrt W_hat with u[t-1] detached."""
    gen = torch.Generator().manual_seed(11)
    w = (torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64) if conv
         else torch.randn(4, 6, generator=gen, dtype=torch.float64)) * 0.8
    factors = (0.2, 0.0, 0.0, 1.0)
    ours = make_layer(w, conv=conv, factors=factors, ws=True)
    plain = make_layer(w, conv=conv, factors=factors, ws=True)
    plain.rule = "bptt"
    shape = (2, 2, 6, 6) if conv else (2, 6)
    ours.reset()
    plain.reset()
    steps = 5
    expected = torch.zeros_like(w)
    for t in range(steps):
        x = _random_binary(gen, *shape)
        s = ours(x)
        delta = torch.randn(s.shape, generator=gen, dtype=torch.float64)
        (delta * s).sum().backward()
        plain.neuron.detach_state()
        w_hat = plain.synapse.effective_weight()
        s_plain = plain.neuron(plain.synapse.add_bias(plain.geometry.apply(x, w_hat)))
        expected += torch.autograd.grad((delta * s_plain).sum(), plain.synapse.weight)[0]
    torch.testing.assert_close(ours.synapse.weight.grad, expected)
    assert expected.abs().sum() > 0


def test_ws_gradient_chains_through_standardisation():
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    ws_layer = make_layer(w, ws=True)
    raw = make_layer(w, ws=False)
    with torch.no_grad():
        raw.synapse.weight.copy_(ws_layer.synapse.effective_weight())
    x_seq = _random_binary(gen, 5, 2, 6) * 2
    for layer in (ws_layer, raw):
        layer.reset()
        for x in x_seq:
            layer(x).sum().backward()
    w_param = ws_layer.synapse.weight.detach().clone().requires_grad_(True)
    w_hat = standardize(w_param, ws_layer.synapse.gain.detach())
    (expected,) = torch.autograd.grad((w_hat * raw.synapse.weight.grad).sum(), w_param)
    torch.testing.assert_close(ws_layer.synapse.weight.grad, expected)


def test_weight_standardisation_rows():
    w = torch.randn(5, 12, dtype=torch.float64)
    w_hat = standardize(w, torch.ones(5, 1, dtype=torch.float64))
    torch.testing.assert_close(w_hat.mean(1), torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close((w_hat ** 2).sum(1), torch.full((5,), 11 / 12, dtype=torch.float64), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="fan-in"):
        Synapse(SynapseGeometry("linear"), 1, 3, ws=True)


def test_leaky_readout_stllr_equals_bptt_when_trace_matches_leak():
    gen = torch.Generator().manual_seed(4)
    steps = 8
    xs = torch.randn(steps, 3, 5, generator=gen, dtype=torch.float64)
    targets = torch.randn(steps, 3, 2, generator=gen, dtype=torch.float64)
    grads = {}
    for rule in ("bptt", "stllr"):
        torch.manual_seed(0)
        readout = LeakyReadout(5, 2, leak=0.9, lambda_pre=0.9).double()
        readout.rule = rule
        readout.reset()
        total = 0.0
        for t in range(steps):
            u = readout(xs[t])
            loss = ((u - targets[t]) ** 2).sum()
            if rule == "stllr":
                loss.backward()
            else:
                total = total + loss
        if rule == "bptt":
            total.backward()
        grads[rule] = readout.synapse.weight.grad.clone()
    torch.testing.assert_close(grads["stllr"], grads["bptt"])


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_direct_feedback_replaces_the_backpropagated_signal(smoothing: float):
    """DFA: the layer learns from delta = B e (e = dL/dlogits) with the same eligibility as BP mode; with
    label smoothing e is taken against the smoothed target, and the readout's own gradient is that of the
    smoothed cross-entropy."""
    from evstream.learning.networks import use_rule
    from evstream.learning.stllr import DirectFeedback, stllr_sequence

    gen = torch.Generator().manual_seed(8)
    w = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    layer = make_layer(w, factors=(0.5, 0.8, -0.2, 1.0), leak=0.881, psi="rational")
    readout = torch.nn.Linear(6, 3).double()
    net = torch.nn.Sequential(layer, readout)
    feedback = DirectFeedback(3, seed=1)
    use_rule(net, "stllr", feedback=feedback)
    xs = _random_binary(gen, 5, 2, 5) * 2
    labels = torch.tensor([0, 2])
    layer.reset()
    stllr_sequence(net, xs, labels, torch.optim.SGD(net.parameters(), lr=0.0), window=3, label_smoothing=smoothing)
    ref = RefLayer(w, torch.zeros(6, dtype=torch.float64), 0.881, 0.6, "rational", (0.5, 0.8, -0.2, 1.0))
    b = feedback.matrices[id(layer.traces)]
    target = torch.nn.functional.one_hot(labels, 3) * (1 - smoothing) + smoothing / 3
    readout_grad = torch.zeros_like(readout.weight)
    for t in range(5):
        s = ref.step(xs[t])
        if t >= 2:
            logits = readout(s).detach()
            error = (torch.softmax(logits, 1) - target) / 2
            ref.learn(error @ b.T)
            readout_grad += error.T @ s
    assert ref.gw.abs().sum() > 0
    torch.testing.assert_close(layer.synapse.weight.grad, ref.gw)
    torch.testing.assert_close(readout.weight.grad, readout_grad)
