"""The nn.network / nn.classifier graph nodes, used as plain Python objects."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.errors import UserError
from evstream.graph.registry import get
from evstream.nn import checkpoint
from evstream.nn.zoo import ConvStackNet
from evstream.packets import FramePacket

N_FRAMES = 12


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory):
    torch.manual_seed(0)
    net = ConvStackNet((2, 32, 32), [16, 16], 5, neuron="stc-lif", kernel=3).eval()
    return checkpoint.save(tmp_path_factory.mktemp("nn") / "net.pt", net, {"window_us": 20_000},
                           ["a", "b", "c", "d", "e"])


@pytest.fixture(scope="module")
def frames(dvs_frames):
    return np.ascontiguousarray(dvs_frames[:N_FRAMES, :, 40:72, 40:72])


def packets(frames: np.ndarray, cuts: list[int]) -> list[FramePacket]:
    bounds = [0, *sorted(cuts), len(frames)]
    t = np.arange(len(frames) + 1, dtype=np.int64) * 20_000
    return [FramePacket(frames[a:b], t[a:b], t[a + 1:b + 1], seq) for seq, (a, b) in
            enumerate(zip(bounds[:-1], bounds[1:]))]


def run_node(node, frames: np.ndarray, cuts: list[int]) -> np.ndarray:
    node.reset()
    out = [p.data for pkt in packets(frames, cuts) for p in node.process(pkt, "in")]
    return np.concatenate(out)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_network_node_steps_once_per_frame_and_keeps_state(ckpt_path, frames, backend):
    node = get("nn.network")("net", checkpoint=str(ckpt_path), backend=backend)
    node.start()
    whole = run_node(node, frames, [])
    assert whole.shape == (N_FRAMES, 5)
    net = checkpoint.load(ckpt_path).net
    with torch.no_grad():
        expected = net(torch.from_numpy(frames)[:, None])[:, 0].numpy()
    np.testing.assert_allclose(whole, expected, rtol=1e-4, atol=1e-4)
    assert node.stats_extra()["steps"] == N_FRAMES


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(0, N_FRAMES), max_size=6))
def test_packet_boundaries_do_not_change_outputs(ckpt_path, frames, cuts):
    node = get("nn.network")("net", checkpoint=str(ckpt_path), backend="numba")
    node.start()
    np.testing.assert_array_equal(run_node(node, frames, cuts), run_node(node, frames, []))


def test_classifier_node_emits_labels(ckpt_path, frames):
    node = get("nn.classifier")("cls", checkpoint=str(ckpt_path), average=4)
    node.start()
    out = node.process(packets(frames, [])[0], "in")[0]
    assert out.kind == "labels" and len(out) == N_FRAMES
    assert out.names == ("a", "b", "c", "d", "e")
    assert np.all((out.confidence > 0.2 - 1e-6) & (out.confidence <= 1.0))
    assert out.label.min() >= 0 and out.label.max() < 5


def test_node_errors_name_the_fix(ckpt_path, tmp_path, frames):
    node = get("nn.network")("net", checkpoint=str(ckpt_path))
    node.start()
    bad = FramePacket(np.zeros((1, 2, 16, 16), np.float32), np.zeros(1), np.ones(1))
    with pytest.raises(UserError, match=r"expects \(2, 32, 32\)"):
        node.process(bad, "in")
    with pytest.raises(UserError, match="no such checkpoint"):
        get("nn.network")("net", checkpoint=str(tmp_path / "x.pt")).start()
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            get("nn.network")("net", checkpoint=str(ckpt_path), device="cuda").start()


def test_network_node_in_the_threaded_graph(ckpt_path, frames):
    from evstream.graph import Graph, Sink, Source

    class FrameSource(Source):
        type_name = "test.frames"
        output_kind = "frames"

        def generate(self):
            yield from packets(frames, [3, 3, 7])

    class Collect(Sink):
        type_name = "test.collect"
        input_kind = "tensor"

        def start(self):
            self.got = []

        def consume(self, packet, port):
            self.got.append(packet.data)

    g = Graph()
    src = g.add(FrameSource("src"))
    net = g.add(get("nn.network")("net", checkpoint=str(ckpt_path), backend="numba"), input=src)
    sink = g.add(Collect("out"), input=net)
    stats = g.run(handle_signals=False)
    assert np.concatenate(sink.got).shape == (N_FRAMES, 5)
    assert stats["nodes"]["net"]["steps"] == N_FRAMES
