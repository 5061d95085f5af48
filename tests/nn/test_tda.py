"""Spec §3.5 checks for TDA-LIF (mode A layer and mode B sweeps)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evstream.nn.functional import tda_autapse_sum, tda_step
from evstream.nn.neurons import LIF, TDALIF
from evstream.nn.surrogate import ATan, atan_grad, atan_primitive
from evstream.nn.tda_net import TDASweep, conv_edges, mlp_edges, rc_edges, segment_starts


def tda_layer(weights: list[float], delays: list[int], tau: float = 0.5) -> TDALIF:
    layer = TDALIF(1, delays=delays, tau=tau)
    with torch.no_grad():
        layer.weight[0] = torch.tensor(weights)
    return layer


def test_hand_example():
    layer = tda_layer([-0.5, 0.3, 0.4], [1, 2, 3])
    table = [(0.0, 1.2, 1, 0.716957), (-0.5, -0.1, 0, 0.077266), (0.3, 0.85, 0, 0.818286),
             (0.4, 1.325, 1, 0.489602)]
    for i_t, (a, v, s, g) in zip([1.2, 0.4, 0.6, 0.5], table):
        autapse = tda_autapse_sum(layer.history or [], layer.delays, layer.weight)
        assert float(torch.as_tensor(autapse).detach()) == pytest.approx(a, abs=1e-6)
        assert layer.step(torch.tensor([[i_t]])).item() == s
        assert layer.v_prev.item() == pytest.approx(v, abs=1e-6)
        assert atan_grad(torch.tensor(v - 1.0), 2.0).item() == pytest.approx(g, abs=1e-6)


def test_equals_spikingjelly_lif_without_autapses():
    sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    torch.manual_seed(0)
    x = torch.rand(50, 4, 8) * 1.6
    tda = TDALIF(8, delays=[1, 3])
    ours = LIF(tau=2.0, decay_input=False)
    sj = sj_neuron.LIFNode(tau=2.0, decay_input=False, v_reset=0.0)
    for t in range(50):
        s = tda.step(x[t])
        assert torch.equal(s, sj(x[t]))
        assert torch.equal(s, ours.step(x[t]))


@pytest.mark.parametrize("d", [1, 3, 5])
def test_ring_buffer_adds_exactly_once_at_t0_plus_d(d):
    steps, t0 = 12, 2
    current = torch.zeros(steps, 1, 1)
    current[t0] = 1.0  # the only spike of the neuron without autapse
    with_autapse = tda_layer([1.0], [d])
    without = tda_layer([0.0], [d])
    diffs = []
    for t in range(steps):
        with_autapse.step(current[t])
        without.step(current[t])
        diffs.append((with_autapse.v_prev - without.v_prev).item())
        if t == t0 + d:
            break
    assert with_autapse.d_max == d  # d = L: the read wraps onto the oldest slot
    assert diffs[t0 + d] == pytest.approx(1.0)
    assert all(abs(x) < 1e-12 for x in diffs[: t0 + d])


def test_history_is_bounded():
    layer = TDALIF(3, delays=[2, 7])
    for _ in range(40):
        layer.step(torch.rand(2, 3))
    assert len(layer.history) == 7


class SmoothATan(ATan):
    """Test double: the smooth ATan primitive instead of the Heaviside step."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return atan_primitive(z, self.alpha)


def test_gradients_match_finite_differences_of_smooth_model():
    torch.manual_seed(1)
    delays = torch.tensor([1, 2, 3])

    def rollout(current: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        sur = SmoothATan()
        v = torch.zeros(2, 3, dtype=torch.float64)
        hist: list[torch.Tensor] = []
        outs = []
        for t in range(6):
            s_prev = hist[-1] if hist else torch.zeros_like(v)
            s, v = tda_step(current[t], v, s_prev, tda_autapse_sum(hist, delays, weights), sur)
            hist.append(s)
            outs.append(s)
        return torch.stack(outs)

    current = (torch.rand(6, 2, 3, dtype=torch.float64) * 1.5).requires_grad_(True)
    weights = (torch.randn(3, 3, dtype=torch.float64) * 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(rollout, (current, weights), atol=1e-4)


def test_mlp_family_with_tau_zero_is_a_dense_layer():
    sizes = [5, 4]
    edges = mlp_edges(sizes)
    assert len(edges.target) == 5 * 4
    sweep = TDASweep(6, sum(sizes), edges, sizes[0], list(range(5, 9)), tau=0.0)
    torch.manual_seed(2)
    with torch.no_grad():
        sweep.theta.mul_(4.0)
    x = torch.rand(3, 6) * 3
    out = sweep.step(x)
    b1, b2 = segment_starts(sizes)
    w2 = torch.zeros(4, 5)
    for t, d, q in zip(*edges[:3]):
        w2[t - b2, t - d - b1] = sweep.theta[q]
    s1 = (sweep.input(x) >= 1.0).float()
    expected = (s1 @ w2.T >= 1.0).float()
    assert torch.equal(out, expected)
    assert 0 < expected.sum() < expected.numel()


def test_conv_family_with_tau_zero_is_conv1d():
    n, kernel = 7, 3
    edges = conv_edges(n, 2, kernel)
    sweep = TDASweep(5, 2 * n, edges, n, list(range(n, 2 * n)), tau=0.0)
    torch.manual_seed(3)
    with torch.no_grad():
        sweep.theta.copy_(torch.tensor([1.2, 0.7, -0.4]))
    x = torch.rand(4, 5) * 3
    out = sweep.step(x)
    s1 = (sweep.input(x) >= 1.0).float()
    expected = (nn.functional.conv1d(s1[:, None], sweep.theta.detach()[None, None], padding=1)[:, 0] >= 1.0).float()
    assert torch.equal(out, expected)


def test_rc_edges_respect_causality_and_state_carries_over():
    edges = rc_edges(6, [1, 2, 4])
    assert all(d < t for t, d in zip(edges.target, edges.delay))
    sweep = TDASweep(3, 6, edges, 6, range(6))
    x = torch.rand(2, 3) * 3
    first = sweep.step(x)
    second = sweep.step(x)
    sweep.reset()
    assert torch.equal(sweep.step(x), first)
    assert first.shape == second.shape == (2, 6)
