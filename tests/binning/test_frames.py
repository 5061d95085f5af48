"""Binners against the naive references, and their streaming contract."""

from __future__ import annotations

import numpy as np
import pytest

from evstream.binning import BinningError, FrameConfig, make_binner, to_frames
from evstream.events import EventPacket, make_events
from tests.binning import naive
from tests.binning.streams import AEDAT4_DVS128, random_events, split_stream

W, H = 7, 5


def run(config: FrameConfig, packets: list[EventPacket]):
    binner = make_binner(config)
    out = [f for p in packets for f in binner.process(p)] + binner.flush()
    data = np.concatenate([np.asarray(f.data) for f in out]) if out else np.zeros((0, *config.frame_shape))
    starts = np.concatenate([f.t_start for f in out]) if out else np.zeros(0, np.int64)
    ends = np.concatenate([f.t_end for f in out]) if out else np.zeros(0, np.int64)
    return data, starts, ends


@pytest.mark.parametrize("representation", ["count", "signed", "binary", "rate", "voxel", "timesurface"])
@pytest.mark.parametrize("crop, factor", [(None, 1), ((1, 1, 5, 4), 2)])
def test_time_windows_match_reference(representation, crop, factor):
    rng = np.random.default_rng(1)
    events = random_events(rng, 300, W, H, t0=1003, span_us=950)
    config = FrameConfig(width=W, height=H, window_us=100, origin_us=0, representation=representation,
                         n_time_bins=3, tau_us=150.0, crop=crop, downsample=factor, dtype="float64")
    data, starts, ends = run(config, [EventPacket(events, W, H, 1003, 1953)])
    first, last = 10, 19  # windows [1000, 1100) .. [1900, 2000): the stream reaches into the last one
    expected = naive.frames(events, W, H, 100, 0, representation, first, last, crop=crop, factor=factor,
                            n_bins=3, tau=150.0)
    np.testing.assert_allclose(data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(starts, 100 * np.arange(first, last + 1))
    np.testing.assert_array_equal(ends, starts + 100)


@pytest.mark.parametrize("representation", ["count", "signed", "binary", "rate", "voxel", "timesurface"])
@pytest.mark.parametrize("window, stride, origin", [(300, 100, 0), (250, 100, 30), (100, 250, 0)])
def test_sliding_windows_match_reference(representation, window, stride, origin):
    rng = np.random.default_rng(2)
    events = random_events(rng, 200, W, H, t0=520, span_us=1000)
    config = FrameConfig(width=W, height=H, window_us=window, stride_us=stride, origin_us=origin,
                         representation=representation, n_time_bins=3, tau_us=150.0, dtype="float64")
    data, starts, _ = run(config, [EventPacket(events, W, H, 520, 1520)])
    first = (520 - origin) // stride
    last = (1520 - 1 - origin) // stride  # every frame that starts before the end of the stream
    if representation == "timesurface":  # flush samples once, at the first sampling time after the stream
        last = (1520 - window - origin - 1) // stride + 1
    expected = naive.frames(events, W, H, window, origin, representation, first, last, stride=stride, n_bins=3,
                            tau=150.0)
    np.testing.assert_array_equal(starts, origin + stride * np.arange(first, last + 1))
    np.testing.assert_allclose(data, expected, rtol=1e-12)


@pytest.mark.parametrize("count", [1, 7, 50])
def test_event_count_windows_match_reference(count):
    rng = np.random.default_rng(3)
    events = random_events(rng, 123, W, H)
    data, starts, ends = run(FrameConfig(width=W, height=H, event_count=count, dtype="int32"),
                             [EventPacket(events, W, H, 0, 1000)])
    expected, exp_starts, exp_ends = naive.count_windows(events, W, H, count)
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(starts, exp_starts)
    np.testing.assert_array_equal(ends, exp_ends)


@pytest.mark.parametrize("count, timeout", [(7, 40), (50, 15), (3, 8)])
def test_event_count_windows_with_timeout_match_reference(count, timeout):
    rng = np.random.default_rng(4)
    events = random_events(rng, 123, W, H)
    data, starts, ends = run(FrameConfig(width=W, height=H, event_count=count, timeout_us=timeout, dtype="int32"),
                             [EventPacket(events, W, H, 0, 1000)])
    expected, exp_starts, exp_ends = naive.count_windows(events, W, H, count, timeout, stream_end=1000)
    assert any(e - s == timeout for s, e in zip(exp_starts, exp_ends)), "some frames must close by time"
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(starts, exp_starts)
    np.testing.assert_array_equal(ends, exp_ends)


def test_a_clock_tick_closes_an_event_count_frame_at_its_timeout():
    binner = make_binner(FrameConfig(width=W, height=H, event_count=10, timeout_us=100, dtype="int32"))
    ev = make_events([1000, 1020], [0, 1], [0, 0], [1, 0])
    assert binner.process(EventPacket(ev, W, H, 1000, 1050)) == []
    assert binner.process(EventPacket(ev[:0], W, H, 1050, 1099)) == []  # 1 µs before the deadline
    out = binner.process(EventPacket(ev[:0], W, H, 1099, 1100))  # the tick that reaches first event + timeout
    assert len(out) == 1 and out[0].t_start.tolist() == [1000] and out[0].t_end.tolist() == [1100]
    assert out[0].data.sum() == 2
    assert binner.process(EventPacket(ev[:0], W, H, 1100, 5000)) == []  # silence starts no frame
    assert binner.flush() == []


def test_to_frames_on_a_real_recording(recording):
    packet = recording(AEDAT4_DVS128)
    ev = packet.events[:400]
    frames = to_frames(ev, width=128, height=128, window_us=1_000)
    t = ev["t"]
    first, last = t[0] // 1_000, t[-1] // 1_000
    assert frames.shape == (last - first + 1, 2, 128, 128)
    assert frames.dtype == np.int32
    k = t // 1_000 - first
    expected = np.zeros(frames.shape, np.int64)
    np.add.at(expected, (k, ev["p"].astype(int), ev["y"].astype(int), ev["x"].astype(int)), 1)
    np.testing.assert_array_equal(frames, expected)
    assert (frames.sum(axis=(1, 2, 3)) == 0).any(), "this slice has silent windows; they must stay"


def test_empty_windows_and_clock_ticks():
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10, dtype="int32"))
    ev = make_events([3, 4], [0, 1], [0, 0], [1, 0])
    assert [len(f) for f in binner.process(EventPacket(ev, W, H, 0, 9))] == []
    # A clock tick (no events) that reaches 40 µs completes windows 0, 1, 2 and 3: the open window's
    # own frame (no copy), then the empty windows as one block.
    out = binner.process(EventPacket(ev[:0], W, H, 9, 40))
    assert [len(f) for f in out] == [1, 3]
    np.testing.assert_array_equal(np.concatenate([f.t_start for f in out]), [0, 10, 20, 30])
    assert out[0].data.sum() == 2 and out[1].data.sum() == 0
    assert binner.flush() == []  # nothing reached into [40, 50)


def test_max_frames_splits_a_long_gap():
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10, max_frames=4))
    out = binner.process(EventPacket(make_events([0], [0], [0], [1])[:0], W, H, 0, 100))
    assert [len(f) for f in out] == [4, 4, 2]
    assert [f.seq for f in out] == [0, 1, 2]


def test_torch_output_shares_the_kernel_buffer():
    torch = pytest.importorskip("torch")
    ev = make_events([1, 2, 15], [0, 1, 2], [0, 0, 1], [1, 1, 0])
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10, output="torch"))
    out = binner.process(EventPacket(ev, W, H, 0, 20))
    assert isinstance(out[0].data, torch.Tensor) and out[0].data.dtype == torch.float32
    assert out[0].data.shape == (2, 2, H, W)
    assert out[0].data[0, 1].sum().item() == 2 and out[0].data[1, 0, 1, 2].item() == 1


def test_time_going_back_is_refused():
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10))
    binner.process(EventPacket(make_events([25], [0], [0], [1]), W, H, 0, 30))
    with pytest.raises(BinningError, match="time order"):
        binner.process(EventPacket(make_events([12], [0], [0], [1]), W, H, 12, 40))


@pytest.mark.parametrize("kwargs, word", [
    (dict(window_us=0), "window_us"),
    (dict(representation="histogram"), "representation"),
    (dict(representation="voxel", dtype="int32"), "float"),
    (dict(crop=(5, 0, 10, 2)), "crop"),
    (dict(pin_memory=True), "pin_memory"),
    (dict(event_count=10, representation="timesurface"), "event_count"),
    (dict(timeout_us=100), "timeout_us"),
])
def test_bad_parameters_name_the_culprit(kwargs, word):
    with pytest.raises(BinningError, match=word):
        FrameConfig(width=W, height=H, **kwargs)


def test_split_stream_helper_keeps_every_event():
    rng = np.random.default_rng(0)
    ev = random_events(rng, 50, W, H)
    packets = split_stream(ev, W, H, 0, 1000, [500, 500, 10, 999])
    assert sum(len(p) for p in packets) == 50 and len(packets) == 5


def test_pinned_torch_frames_on_cuda_machines():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        with pytest.raises(BinningError, match="CUDA"):
            make_binner(FrameConfig(width=W, height=H, window_us=10, output="torch", pin_memory=True))
        return
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10, output="torch", pin_memory=True))
    out = binner.process(EventPacket(make_events([1, 2], [0, 1], [0, 0], [1, 1]), W, H, 0, 10))
    assert out[0].data.is_pinned() and out[0].data.sum().item() == 2


def test_reset_starts_a_new_stream():
    binner = make_binner(FrameConfig(width=W, height=H, window_us=10, dtype="int32"))
    binner.process(EventPacket(make_events([500, 505], [0, 1], [0, 0], [1, 1]), W, H, 500, 507))
    binner.reset()  # e.g. the replay looped back to the start of the file
    out = binner.process(EventPacket(make_events([3], [2], [2], [0]), W, H, 0, 10))
    assert len(out) == 1 and out[0].t_start.tolist() == [0] and out[0].data.sum() == 1
