"""The online S-TLLR node on real N-MNIST frames streamed with their labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evstream.graph.registry import get
from evstream.learning import datasets as ds
from evstream.learning.nodes import LabelFile, OnlineSTLLR
from evstream.packets import FramePacket, LabelPacket

WINDOW_US = 20_000
STEPS = 16


def _stream(data: ds.FrameDataset, first: int, count: int):
    """(label packet, frame packet) per sample; sample i spans [i * STEPS * WINDOW_US, ...)."""
    for i in range(first, first + count):
        frames, label = data[i]
        t0 = np.arange(STEPS, dtype=np.int64) * WINDOW_US + i * STEPS * WINDOW_US
        yield (LabelPacket(np.array([label]), np.ones(1, np.float32), t0[:1], t0[-1:] + WINDOW_US, seq=i),
               FramePacket(frames.numpy(), t0, t0 + WINDOW_US, seq=i))


def _load(folder, limit: int) -> ds.FrameDataset:
    return ds.nmnist(folder, ds.Binning(WINDOW_US, STEPS, downsample=2), limit=limit)


@pytest.fixture(scope="module")
def nmnist_half(nmnist_train_dir):
    return _load(nmnist_train_dir, 10)


@pytest.fixture(scope="module")
def nmnist_300(nmnist_train_dir):
    return _load(nmnist_train_dir, 300)


def test_registered_and_learning_changes_the_weights(nmnist_half, tmp_path):
    assert get("learning.stllr") is OnlineSTLLR and get("learning.labels") is LabelFile
    node = OnlineSTLLR("learn", lr=1e-3, save=str(tmp_path / "online.pt"))
    node.start()
    out = []
    for labels, frames in _stream(nmnist_half, 0, 6):
        out += node.process(labels, "labels")
        out += node.process(frames, "frames")
    before = [p.detach().clone() for p in node.net.parameters()]
    out += node.flush()
    assert sum(len(p) for p in out) == 6 * STEPS
    assert all(isinstance(p, LabelPacket) and ((0 <= p.label) & (p.label < 10)).all() for p in out)
    stats = node.stats_extra()
    assert stats["steps"] == stats["learned_steps"] == 6 * STEPS and stats["updates"] == 6 * STEPS
    assert stats["scored_segments"] == 6
    assert (tmp_path / "online.pt").exists()
    for labels, frames in _stream(nmnist_half, 6, 1):
        node.process(labels, "labels")
        node.process(frames, "frames")
    assert any(not torch.equal(a, b) for a, b in zip(before, node.net.parameters()))


def test_frames_wait_for_late_labels_and_unlabelled_frames_only_run_forward(nmnist_half):
    node = OnlineSTLLR("learn", hold_frames=64)
    node.start()
    (labels, frames), = _stream(nmnist_half, 0, 1)
    assert node.process(frames, "frames") == []            # held: no label yet covers them
    out = node.process(labels, "labels")
    assert sum(len(p) for p in out) == STEPS and node.stats_extra()["learned_steps"] == STEPS
    t0 = np.arange(STEPS, dtype=np.int64) * WINDOW_US + 10**9
    unlabelled = FramePacket(frames.data, t0, t0 + WINDOW_US)
    node.process(unlabelled, "frames")
    out = node.flush()
    assert sum(len(p) for p in out) == STEPS
    stats = node.stats_extra()
    assert stats["steps"] == 2 * STEPS and stats["learned_steps"] == STEPS


def test_state_does_not_grow_while_streaming(nmnist_half):
    node = OnlineSTLLR("learn")
    node.start()

    def held_elements() -> int:
        total = 0
        for module in node.net.modules():
            for value in vars(module).values():
                if isinstance(value, torch.Tensor):
                    total += value.numel()
            traces = getattr(module, "traces", None)
            if traces is not None:
                total += sum(t.numel() for t in (traces.trx, traces.trpsi) if t is not None)
        return total

    sizes = []
    for labels, frames in _stream(nmnist_half, 0, 8):
        node.process(labels, "labels")
        node.process(frames, "frames")
        sizes.append(held_elements())
    assert sizes[1] == sizes[-1] > 0


@pytest.mark.slow
def test_online_learning_improves_accuracy_on_real_samples(nmnist_300):
    """Prequential accuracy (each sample predicted while it is learned) rises over the stream."""
    node = OnlineSTLLR("learn", lr=1e-3)
    node.start()
    correct = []
    for labels, frames in _stream(nmnist_300, 0, 300):
        node.process(labels, "labels")
        node.process(frames, "frames")
        correct.append(node.stats_extra()["correct_segments"])
    node.flush()
    correct.append(node.stats_extra()["correct_segments"])
    first = (correct[51] - correct[1]) / 50          # segments 1..50 (scored when the next starts)
    last = (correct[-1] - correct[-51]) / 50          # segments 251..300
    assert last > first + 0.2 and last > 0.3, (first, last)   # chance is 0.1


@pytest.mark.slow
def test_online_memory_is_flat_over_10000_steps(nmnist_300):
    import os

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    node = OnlineSTLLR("learn")
    node.start()
    samples = 10_000 // STEPS
    marks = {}
    stream = list(_stream(nmnist_300, 0, 300))
    for k in range(samples):
        labels, frames = stream[k % len(stream)]
        shift = (k // len(stream)) * len(stream) * STEPS * WINDOW_US
        node.process(LabelPacket(labels.label, labels.confidence, labels.t_start + shift, labels.t_end + shift), "labels")
        node.process(FramePacket(frames.data, frames.t_start + shift, frames.t_end + shift), "frames")
        if k in (samples // 5, samples - 1):
            marks[k] = rss_mb()
    assert node.stats_extra()["steps"] >= 10_000 - STEPS
    growth = marks[samples - 1] - marks[samples // 5]
    assert growth < 20, f"RSS grew by {growth:.1f} MB between step 2000 and 10000"


def test_online_graph_replay_binning_and_learning(recordings_dir, tmp_path):
    """io.read -> binning.count -> learning.stllr (frames) <- learning.labels, run by the graph runtime."""
    from evstream.graph import Graph
    from evstream.graph.registry import get as node_type

    t0 = 1718320899149165   # first event of the recording (file time, µs)
    csv = tmp_path / "walk_labels.csv"
    csv.write_text(f"class,startTime_usec,endTime_usec\n2,{t0},{t0 + 2_000_000}\n5,{t0 + 3_000_000},{t0 + 5_000_000}\n")
    g = Graph()
    src = g.add(node_type("io.read")("src", path=str(recordings_dir / "aedat4" / "dvs128-redpob-2024_06_13_16_16_25.aedat4")))
    frames = g.add(node_type("binning.count")("frames", window_us=100_000, downsample=8), input=src)
    labels = g.add(LabelFile("labels", path=str(csv)))
    learn = g.add(OnlineSTLLR("learn", classes=11, save=str(tmp_path / "online.pt")),
                  input={"frames": frames, "labels": labels})
    g.add(node_type("core.count")("out"), input=learn)
    stats = g.run()["nodes"]
    assert stats["learn"]["steps"] >= 50                   # ~5.5 s of events in 100 ms frames
    assert 35 <= stats["learn"]["learned_steps"] <= 40     # 2 s + 2 s labelled, frames wholly inside a label
    assert stats["learn"]["scored_segments"] == 2
    assert (tmp_path / "online.pt").exists()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(0, 2 * STEPS), max_size=6))
def test_results_do_not_depend_on_packet_boundaries(nmnist_half, cuts):
    """Frames split into packets anywhere (empty packets included) give the same predictions and weights."""
    def run(bounds: list[int]):
        node = OnlineSTLLR("learn", seed=3)
        node.start()
        frames, t0s = [], []
        for label_packet, frame_packet in _stream(nmnist_half, 0, 2):
            node.process(label_packet, "labels")
            frames.append(frame_packet.data)
            t0s.append(frame_packet.t_start)
        data, t_start = np.concatenate(frames), np.concatenate(t0s)
        out = []
        edges = [0, *sorted(bounds), len(data)]
        for a, b in zip(edges[:-1], edges[1:]):
            out += node.process(FramePacket(data[a:b], t_start[a:b], t_start[a:b] + WINDOW_US), "frames")
        out += node.flush()
        return np.concatenate([p.label for p in out]), [p.detach().clone() for p in node.net.parameters()]

    ref_labels, ref_weights = run([])
    labels, weights = run(cuts)
    np.testing.assert_array_equal(labels, ref_labels)
    assert all(torch.equal(a, b) for a, b in zip(weights, ref_weights))
