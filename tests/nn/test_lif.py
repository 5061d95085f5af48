"""Spec §1.3 checks for LIF and PLIF."""

from __future__ import annotations

import pytest
import torch

from evstream.nn.base import StateShapeError
from evstream.nn.neurons import LIF, PLIF

X = [1.5, 0.8, 2.5, 0.4]
TABLE = [  # h, s, v after reset, Sigmoid(4) g'(h - 1)
    (0.750000, 0, 0.750000, 0.786448),
    (0.775000, 0, 0.775000, 0.822001),
    (1.637500, 1, 0.0, 0.268724),
    (0.200000, 0, 0.200000, 0.150527),
]


@pytest.mark.parametrize("layer", [LIF(tau=2.0), PLIF(init_tau=2.0)], ids=["lif", "plif-at-init"])
def test_hand_example(layer):
    for x, (h, s, v, g) in zip(X, TABLE):
        v_before = layer.v
        out = layer.step(torch.tensor([x]))
        assert out.item() == s
        assert layer.v.item() == pytest.approx(v, abs=1e-6)
        assert layer.surrogate.grad(torch.tensor(h - 1.0)).item() == pytest.approx(g, abs=1e-6)
        charged = (0.0 if v_before is None else v_before.item()) + (x - (0.0 if v_before is None else v_before.item())) / 2
        assert charged == pytest.approx(h, abs=1e-6)


def test_plif_gradient_wrt_w_is_non_zero():
    layer = PLIF()
    out = layer.multi_step(torch.tensor(X).reshape(4, 1))
    (out.sum() + layer.v.sum()).backward()
    assert layer.w.grad is not None and layer.w.grad.abs().item() > 0


def test_spike_boundary_fires_at_threshold():
    layer = LIF(tau=2.0, decay_input=False)
    assert layer.step(torch.tensor([1.0])).item() == 1.0  # h = 0 - 0 + 1.0 exactly


def test_soft_reset_and_plain_input():
    layer = LIF(tau=2.0, reset="soft", decay_input=False)
    assert layer.step(torch.tensor([1.5])).item() == 1.0
    assert layer.v.item() == pytest.approx(0.5)
    layer.step(torch.tensor([0.2]))  # h = 0.5 - 0.25 + 0.2
    assert layer.v.item() == pytest.approx(0.45)


def test_state_persists_clears_and_checks_shape():
    layer = LIF()
    layer.step(torch.full((2, 3), 0.8))
    v1 = layer.v.clone()
    layer.step(torch.full((2, 3), 0.8))
    assert not torch.equal(layer.v, v1)
    with pytest.raises(StateShapeError, match="call reset"):
        layer.step(torch.zeros(3, 3))
    layer.reset()
    assert layer.v is None
    layer.step(torch.zeros(3, 3))
    assert layer.v.shape == (3, 3)


def test_single_step_equals_multi_step():
    torch.manual_seed(0)
    x = torch.rand(12, 4, 5) * 2
    single = LIF()
    s1 = torch.stack([single.step(x[t]) for t in range(12)])
    multi = LIF(step_mode="m")
    torch.testing.assert_close(multi(x), s1, rtol=0, atol=0)
    torch.testing.assert_close(multi.v, single.v, rtol=0, atol=0)


def test_surrogates_are_not_shared():
    assert LIF().surrogate is not LIF().surrogate
