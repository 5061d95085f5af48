"""Zoo networks (step / multi-step / reset), checkpoints, streaming memory."""

from __future__ import annotations

import pytest
import torch

from evstream.nn import checkpoint
from evstream.nn.base import StateShapeError
from evstream.nn.neurons import NEURON_KINDS
from evstream.nn.zoo import ARCHITECTURES, ConvStackNet, build


@pytest.mark.parametrize("kind", NEURON_KINDS)
def test_conv_net_single_step_equals_multi_step_and_reset_clears(kind):
    torch.manual_seed(0)
    net = ConvStackNet((2, 20, 20), [16, 16], 4, neuron=kind, kernel=3).eval()
    x = (torch.rand(6, 2, 2, 20, 20) < 0.3).float() * 2
    with torch.no_grad():
        multi = net(x)
        net.reset()
        single = torch.stack([net.step(x[t]) for t in range(6)])
        assert torch.equal(multi, single)
        net.reset()
        again = net(x)
    assert torch.equal(again, multi)
    assert not torch.equal(multi[0], multi[-1])  # state carries over between steps


@pytest.mark.parametrize("name", ["nmnist", "mlp", "tda-mlp", "tda-rc"])
def test_zoo_builds_and_steps(name):
    torch.manual_seed(1)
    net = build(name)
    out = net.step(torch.rand(2, *ARCHITECTURES[name]["in_shape"]) * 2)
    assert out.shape == (2, ARCHITECTURES[name]["n_classes"])
    with pytest.raises(StateShapeError):
        net.step(torch.rand(3, *ARCHITECTURES[name]["in_shape"]))


def test_dvsgesture_shapes():
    net = build("dvsgesture", neuron="lif")
    assert net.fc.in_features == 64 * 8 * 8 and net.fc.out_features == 11
    assert [cell.conv.out_channels for cell in net.cells] == [64, 64, 64]


def test_unknown_architecture_and_neuron():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("resnet")
    with pytest.raises(ValueError, match="unknown neuron kind"):
        build("nmnist", neuron="izhikevich")


@pytest.mark.parametrize("name,kind", [("nmnist", "stc-plif"), ("tda-mlp", None), ("mlp", "tda-lif")])
def test_checkpoint_round_trip(tmp_path, name, kind):
    torch.manual_seed(2)
    net = build(name, **({"neuron": kind} if kind else {})).eval()
    path = checkpoint.save(tmp_path / "net.pt", net, binning={"window_us": 10_000},
                           class_names=[str(i) for i in range(10)])
    loaded = checkpoint.load(path)
    assert loaded.binning == {"window_us": 10_000} and loaded.class_names[3] == "3"
    assert loaded.in_shape == (2, 34, 34)
    x = (torch.rand(3, 1, 2, 34, 34) < 0.2).float()
    with torch.no_grad():
        net.reset()
        assert torch.equal(loaded.net(x), net(x))


def test_checkpoint_errors_are_one_line(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint") as info:
        checkpoint.load(bad)
    assert "\n" not in str(info.value)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(checkpoint.CheckpointError, match="not an evstream network"):
        checkpoint.load(other)


def rss_growth(step, warmup: int = 1000, steps: int = 10_000) -> int:
    """Bytes of RSS growth between ``warmup`` steps and ``steps`` steps of ``step(i)``."""
    psutil = pytest.importorskip("psutil")
    proc = psutil.Process()
    for i in range(warmup):
        step(i)
    before = proc.memory_info().rss
    for i in range(warmup, steps):
        step(i)
    return proc.memory_info().rss - before


def small_stream_net() -> tuple[ConvStackNet, torch.Tensor]:
    torch.manual_seed(3)
    net = ConvStackNet((2, 16, 16), [16], 3, neuron="stc-lif", kernel=3).eval()
    return net, (torch.rand(10, 1, 2, 16, 16) < 0.2).float()


def test_numba_streaming_memory_is_flat_over_10000_steps():
    from evstream.nn.backends.numba import NumbaProgram

    net, frames = small_stream_net()
    program = NumbaProgram.from_torch(net)
    grown = rss_growth(lambda i: program.step(frames[i % 10, 0].numpy()))
    assert grown < 2 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


@pytest.mark.slow
def test_torch_streaming_memory_is_flat_over_10000_steps():
    net, frames = small_stream_net()
    with torch.no_grad():
        grown = rss_growth(lambda i: net.step(frames[i % 10]))
    assert grown < 4 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


def test_neuron_options_are_not_shared_between_layers():
    from evstream.nn.surrogate import Sigmoid

    net = ConvStackNet((2, 16, 16), [16, 16], 3, neuron="lif", neuron_options={"surrogate": Sigmoid(2.0)})
    first, second = (cell.neuron.surrogate for cell in net.cells)
    assert first is not second and first.alpha == second.alpha == 2.0
