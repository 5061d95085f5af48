"""Spec §2.6 checks for STC-LIF / STC-PLIF, the FC form and the fused update."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from evstream.nn.backends.torch import stc_fused_step
from evstream.nn.functional import stc_step
from evstream.nn.neurons import STCNeuron, make_neuron, stc_conv_branch
from evstream.nn.surrogate import Sigmoid, sigmoid_grad


class Affine(nn.Module):
    """Test double of a circuit: ``p -> scale * p + offset`` (pre-tanh), no GN."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.scale * p + self.offset


class SmoothSigmoid(Sigmoid):
    """Test double: forward ``sigmoid(alpha z)`` itself, so finite differences see the surrogate."""

    def fire(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * z)


def injectable(plif: bool = False, fused: bool = False) -> STCNeuron:
    return STCNeuron(Affine(0.5, -0.2), Affine(-1.0, 0.3), plif=plif, fused=fused)


@pytest.mark.parametrize("fused", [False, True])
def test_core_update_hand_table(fused):
    table = [  # beta, gamma, m, s, v, g'(m - 1)
        (-0.197375, 0.291313, 1.033050, 1, 0.033050, 0.995643),
        (0.291313, -0.604368, 0.240494, 0, 0.240494, 0.174582),
        (-0.197375, 0.291313, 1.355208, 1, 0.355208, 0.626755),
        (0.291313, -0.604368, 0.577374, 0, 0.577374, 0.525856),
    ]
    neuron = injectable(fused=fused)
    for x, (beta, gamma, m, s, v, g) in zip([0.8, 0.5, 0.9, 0.3], table):
        p = neuron.s_prev if neuron.s_prev is not None else torch.zeros(1)
        hb, hg = neuron.circuits(p)
        assert math.tanh(hb.item()) == pytest.approx(beta, abs=1e-6)
        assert math.tanh(hg.item()) == pytest.approx(gamma, abs=1e-6)
        assert neuron.step(torch.tensor([x])).item() == s
        assert neuron.v.item() == pytest.approx(v, abs=1e-6)
        assert sigmoid_grad(torch.tensor(m - 1.0), 4.0).item() == pytest.approx(g, abs=1e-6)


@pytest.mark.parametrize("fused", [False, True])
def test_stc_plif_hand_table(fused):
    table = [(1, 0.033050), (0, 0.219155), (1, 0.250131), (0, 0.280188)]
    neuron = injectable(plif=True, fused=fused)
    for x, (s, v) in zip([1.6, 1.0, 1.8, 0.6], table):
        assert neuron.step(torch.tensor([x])).item() == s
        assert neuron.v.item() == pytest.approx(v, abs=1e-6)


def conv_neuron(channels: int = 16, **kw) -> STCNeuron:
    return STCNeuron(stc_conv_branch(channels, 3, 16), stc_conv_branch(channels, 3, 16), **kw)


def test_if_reduction_with_zeroed_circuit_affines():
    neuron = conv_neuron()
    for branch in (neuron.branch_h, neuron.branch_v):
        nn.init.zeros_(branch[1].weight)
        nn.init.zeros_(branch[1].bias)
    table = [(0, 0.6), (1, 0.3), (0, 0.5), (1, 0.4)]
    for x, (s, v) in zip([0.6, 0.7, 0.2, 0.9], table):
        out = neuron.step(torch.full((1, 16, 4, 4), x))
        assert torch.all(out == s)
        torch.testing.assert_close(neuron.v, torch.full((1, 16, 4, 4), v), atol=1e-6, rtol=0)


def test_lif_reduction_with_constant_circuits():
    a = 0.5
    neuron = STCNeuron(Affine(0.0, math.atanh(a - 1.0)), Affine(0.0, math.atanh(-a)))
    torch.manual_seed(1)
    xs = torch.rand(20, 3) * 2.5
    v = torch.zeros(3)
    for x in xs:
        m = a * v + (1 - a) * x
        s = (m >= 1.0).float()
        v = m - s
        assert torch.equal(neuron.step(x), s)
        torch.testing.assert_close(neuron.v, v, atol=1e-6, rtol=0)


def test_fresh_state_gives_zero_circuits():
    torch.manual_seed(2)
    neuron = conv_neuron()
    x = torch.randn(2, 16, 5, 5) * 3
    neuron.step(x)  # allocates a fresh zero state; the first step saw p = 0
    neuron.reset()
    hb, hg = neuron.circuits(torch.zeros(2, 16, 5, 5))
    assert torch.all(torch.tanh(hb) == 0) and torch.all(torch.tanh(hg) == 0)


def test_gradient_detach_blocks_credit_through_circuits():
    torch.manual_seed(3)
    x = torch.randn(2, 1, 16, 4, 4) * 2

    def run(detach: bool):
        torch.manual_seed(4)
        neuron = conv_neuron(gradient_detach=detach)
        xs = x.clone().requires_grad_(True)
        neuron.step(xs[0])
        out = neuron.step(xs[1])
        (out.sum() + neuron.v.sum()).backward()
        return neuron, xs.grad[0].clone()

    detached, g_detached = run(True)
    _, g_attached = run(False)
    assert detached.branch_h[0].weight.grad.abs().sum() > 0
    assert not torch.allclose(g_detached, g_attached)
    # reference: the same two steps with the circuit input an explicit constant
    torch.manual_seed(4)
    ref = conv_neuron(gradient_detach=False)
    xs = x.clone().requires_grad_(True)
    s1, v1 = stc_step(xs[0], torch.zeros_like(xs[0]), torch.zeros_like(xs[0]), torch.zeros_like(xs[0]),
                      ref.surrogate)
    const = s1.detach().clone()
    s2, v2 = stc_step(xs[1], v1, torch.tanh(ref.branch_h(const)), torch.tanh(ref.branch_v(const)), ref.surrogate)
    (s2.sum() + v2.sum()).backward()
    torch.testing.assert_close(g_detached, xs.grad[0])


def test_parameter_count_matches_paper_circuit_difference():
    per_branch = sum(p.numel() for p in stc_conv_branch(256, 5, 16).parameters())
    assert 3 * per_branch == 308_736  # 0.309 M per circuit (3.614 M - 3.305 M)


def test_spike_boundary_and_surrogate_at_threshold():
    neuron = STCNeuron(Affine(0.0, 0.0), Affine(0.0, 0.0))
    x = torch.tensor([1.0], requires_grad=True)
    s = neuron.step(x)
    assert s.item() == 1.0
    s.backward()
    assert x.grad.item() == pytest.approx(1.0)  # g'(0) = 1, (1 + gamma) = 1


def test_fc_form_shapes_and_group_requirement():
    neuron = make_neuron("stc-lif", 64, conv=False)
    out = neuron.step(torch.randn(3, 64) * 2)
    assert out.shape == (3, 64) and set(out.unique().tolist()) <= {0.0, 1.0}
    assert sum(p.numel() for p in neuron.branch_h.parameters()) == 64 * 64 // 16 + 2 * 64
    with pytest.raises(ValueError, match="groups"):
        make_neuron("stc-lif", 24, conv=False)


def test_grouped_linear_is_block_diagonal():
    neuron = make_neuron("stc-lif", 32, conv=False)
    gl = neuron.branch_h[0]
    p = torch.randn(5, 32)
    torch.testing.assert_close(gl(p), p @ gl.dense().T)
    assert gl.dense()[0, 2] == 0  # groups of 2: feature 2 is outside group 0


@pytest.mark.parametrize("plif", [False, True])
def test_fused_backward_matches_autograd_of_plain_chain(plif):
    torch.manual_seed(5)
    shape = (3, 7)
    args = [torch.randn(shape, dtype=torch.float64) * 1.5 for _ in range(4)]
    a = torch.tensor(0.3, dtype=torch.float64, requires_grad=True) if plif else None
    sur = Sigmoid()
    xs = [t.clone().requires_grad_(True) for t in args]
    s, v = stc_fused_step(xs[0], xs[1], xs[2], xs[3], a, sur)
    (s * 0.7 + v * 1.3).sum().backward()
    fused = [t.grad for t in xs] + ([a.grad.clone()] if plif else [])
    ys = [t.clone().requires_grad_(True) for t in args]
    a2 = a.detach().clone().requires_grad_(True) if plif else None
    s2, v2 = stc_step(ys[0], ys[1], torch.tanh(ys[2]), torch.tanh(ys[3]), sur, 1.0, a2)
    (s2 * 0.7 + v2 * 1.3).sum().backward()
    plain = [t.grad for t in ys] + ([a2.grad] if plif else [])
    assert torch.equal(s, s2)
    for f, p in zip(fused, plain):
        torch.testing.assert_close(f, p)


@pytest.mark.parametrize("plif", [False, True])
def test_fused_gradcheck_float64(plif):
    torch.manual_seed(6)
    inputs = [torch.randn(2, 5, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    a = torch.tensor(0.2, dtype=torch.float64, requires_grad=True) if plif else None
    sur = SmoothSigmoid()

    def fn(x, v, hb, hg, *rest):
        return stc_fused_step(x, v, hb, hg, rest[0] if rest else None, sur)

    assert torch.autograd.gradcheck(fn, (*inputs, *([a] if plif else [])))


@pytest.mark.parametrize("kind", ["stc-lif", "stc-plif"])
def test_fused_layer_equals_plain_layer_and_single_equals_multi(kind):
    torch.manual_seed(7)
    plain = make_neuron(kind, 16, conv=True, kernel=3)
    fused = make_neuron(kind, 16, conv=True, kernel=3, fused=True)
    fused.load_state_dict(plain.state_dict())
    multi = make_neuron(kind, 16, conv=True, kernel=3, step_mode="m")
    multi.load_state_dict(plain.state_dict())
    x = torch.randn(8, 2, 16, 6, 6) * 2
    s_plain = torch.stack([plain.step(x[t]) for t in range(8)])
    s_fused = torch.stack([fused.step(x[t]) for t in range(8)])
    assert torch.equal(s_plain, s_fused)
    assert torch.equal(multi(x), s_plain)
    torch.testing.assert_close(fused.v, plain.v)
    assert s_plain.sum() > 0 and (1 - s_plain).sum() > 0


def run_layers(layers: list, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Step every layer over ``x`` ``(T, ...)`` with a shared loss; returns ``(spikes, input grad)`` each."""
    out = []
    for layer in layers:
        xs = x.clone().requires_grad_(True)
        s = torch.stack([layer.step(xs[t]) for t in range(x.shape[0])])
        (s.sum() * 0.5 + layer.v.sum()).backward()
        out.append((s.detach(), xs.grad))
    return out


@pytest.mark.slow  # the first torch.compile of a process takes tens of seconds
@pytest.mark.parametrize("kind", ["stc-lif", "stc-plif"])
def test_compiled_update_equals_eager_on_cpu(kind):
    from evstream.nn.backends.torch import COMPILED_STC_FORWARD

    torch.manual_seed(8)
    eager = make_neuron(kind, 16, conv=True, kernel=3, fused=True)
    compiled = make_neuron(kind, 16, conv=True, kernel=3, compiled=True)
    compiled.load_state_dict(eager.state_dict())
    x = torch.randn(6, 2, 16, 6, 6) * 2
    (s_e, g_e), (s_c, g_c) = run_layers([eager, compiled], x)
    assert COMPILED_STC_FORWARD.reason is None, COMPILED_STC_FORWARD.reason
    assert COMPILED_STC_FORWARD.compiled is not None
    assert torch.equal(s_e, s_c) and s_e.sum() > 0
    torch.testing.assert_close(compiled.v, eager.v, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_c, g_e, rtol=1e-5, atol=1e-6)


def test_compile_failure_falls_back_to_eager_with_logged_reason(monkeypatch, caplog):
    from evstream.nn.backends import torch as backend

    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    wrapper = backend.CompiledOrEager(backend.stc_forward, "the STC update")
    monkeypatch.setattr(backend, "COMPILED_STC_FORWARD", wrapper)
    monkeypatch.setattr(torch, "compile", broken)
    torch.manual_seed(9)
    eager = make_neuron("stc-lif", 16, conv=True, kernel=3, fused=True)
    fallback = make_neuron("stc-lif", 16, conv=True, kernel=3, compiled=True)
    fallback.load_state_dict(eager.state_dict())
    with caplog.at_level("WARNING", logger="evstream.nn.backends.torch"):
        (s_e, g_e), (s_f, g_f) = run_layers([eager, fallback], torch.randn(4, 2, 16, 6, 6) * 2)
    assert wrapper.reason == "RuntimeError: no C++ compiler found"
    assert sum("running it eager: RuntimeError: no C++ compiler found" in r.message for r in caplog.records) == 1
    assert torch.equal(s_e, s_f) and torch.equal(g_e, g_f) and torch.equal(eager.v, fallback.v)
