"""The zoo's leaky-integrator readout and its S-TLLR form (spec 3.6: exact readout gradient)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from evstream.learning.networks import STLLRReadout, current_rule, reset_sequence, use_rule
from evstream.learning.stllr import stllr_sequence
from evstream.nn.zoo import Integrator, build

STEPS, WINDOW = 6, 3


def _net(leak: float) -> torch.nn.Module:
    torch.manual_seed(0)
    return build("mlp", in_shape=[2, 4, 4], features=[32], n_classes=3, neuron="stc-lif", readout_leak=leak).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    frames = torch.poisson(torch.full((STEPS, 5, 2, 4, 4), 0.8, dtype=torch.float64), generator=gen)
    return frames, torch.randint(0, 3, (5,), generator=gen)


def test_integrator_accumulates_with_its_leak_and_zero_leak_is_the_linear_readout():
    integrator = Integrator(0.5)
    currents = torch.tensor([[1.0], [2.0], [-1.0]])
    assert [float(integrator.step(c[None])) for c in currents] == [1.0, 2.5, 0.25]
    integrator.reset()
    assert float(integrator.step(torch.tensor([[3.0]]))) == 3.0
    net = _net(0.0)
    frames, _ = _batch()
    logits = net(frames)
    reset_sequence(net)
    hidden = []
    for t in range(STEPS):
        h = frames[t].flatten(1)
        for cell in net.cells:
            h = cell.step(h)
        hidden.append(net.fc(h))
    torch.testing.assert_close(logits, torch.stack(hidden), rtol=0, atol=0)
    with pytest.raises(ValueError, match="leak"):
        Integrator(1.0)


def test_stllr_readout_gradient_is_the_exact_readout_gradient():
    """Readout weights under S-TLLR get BPTT's gradient of the window losses through the integrator."""
    net = _net(0.8)
    frames, labels = _batch()
    use_rule(net, "stllr")
    assert isinstance(net.fc, STLLRReadout) and net.integrator.truncated and current_rule(net) == "stllr"
    reset_sequence(net)
    stllr_sequence(net, frames, labels, torch.optim.SGD(net.parameters(), lr=0.0), WINDOW)
    got_w, got_b = net.fc.fc.weight.grad.clone(), net.fc.fc.bias.grad.clone()
    use_rule(net, "bptt")
    assert isinstance(net.fc, torch.nn.Linear) and not net.integrator.truncated
    reset_sequence(net)
    net.zero_grad()
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(STEPS):
        with torch.no_grad():          # the hidden activity is what S-TLLR saw; only the readout is differentiated
            h = frames[t].flatten(1)
            for cell in net.cells:
                h = cell.step(h)
        u = net.integrator.step(net.fc(h))
        if t >= STEPS - WINDOW:
            loss = loss + F.cross_entropy(u, labels)
    loss.backward()
    assert float(net.fc.weight.grad.abs().max()) > 1e-3
    torch.testing.assert_close(got_w, net.fc.weight.grad, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(got_b, net.fc.bias.grad, rtol=1e-6, atol=1e-9)


def test_stllr_readout_differs_from_the_same_step_gradient_when_leaky():
    """With a leak the trace matters: the gradient is not the one of a plain same-step readout."""
    grads = []
    for leak in (0.0, 0.8):
        net = _net(leak)
        use_rule(net, "stllr")
        reset_sequence(net)
        frames, labels = _batch()
        stllr_sequence(net, frames, labels, torch.optim.SGD(net.parameters(), lr=0.0), WINDOW)
        grads.append(net.fc.fc.weight.grad)
    assert not torch.allclose(grads[0], grads[1])
