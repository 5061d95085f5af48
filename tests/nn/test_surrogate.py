from __future__ import annotations

import math

import pytest
import torch

from evstream.nn.surrogate import ATan, Sigmoid, atan_primitive, make_surrogate


@pytest.mark.parametrize("surrogate", [Sigmoid(), ATan()])
def test_forward_is_heaviside_with_ge(surrogate):
    z = torch.tensor([-1e-6, 0.0, 1e-6, -2.0, 3.0])
    assert surrogate(z).tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("surrogate", [Sigmoid(), ATan()])
def test_default_gradient_at_zero_is_one(surrogate):
    z = torch.zeros(1, requires_grad=True)
    surrogate(z).sum().backward()
    assert z.grad.item() == pytest.approx(1.0)


def test_backward_is_derivative_of_smooth_primitive():
    z = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    Sigmoid(3.0)(z).sum().backward()
    z2 = z.detach().clone().requires_grad_(True)
    torch.sigmoid(3.0 * z2).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad)
    z3 = z.detach().clone().requires_grad_(True)
    ATan(1.5)(z3).sum().backward()
    z4 = z.detach().clone().requires_grad_(True)
    atan_primitive(z4, 1.5).sum().backward()
    torch.testing.assert_close(z3.grad, z4.grad)
    assert z4.grad[20].item() == pytest.approx(1.5 / 2 / (1 + 0))
    assert ATan(2.0).grad(torch.tensor(0.5)).item() == pytest.approx(1.0 / (1 + (math.pi / 2) ** 2))


def test_make_surrogate_builds_new_instances():
    a, b = make_surrogate("sigmoid"), make_surrogate("sigmoid")
    assert a is not b and a.alpha == 4.0
    with pytest.raises(ValueError, match="unknown surrogate"):
        make_surrogate("relu")
