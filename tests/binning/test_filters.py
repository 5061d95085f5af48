"""Filters against the naive references, on random and real events."""

from __future__ import annotations

import numpy as np
import pytest

from evstream.binning import (
    BinningError,
    DecimationFilter,
    DenoiseFilter,
    DownsampleFilter,
    HotPixelFilter,
    OrientFilter,
    PolarityFilter,
    RefractoryFilter,
    RoiFilter,
    TimeFilter,
)
from evstream.events import EventPacket, concat_events, make_events
from tests.binning import naive
from tests.binning.streams import AEDAT4_DVS128, random_events

W, H = 9, 6


def test_refractory_matches_reference(recording):
    events = recording(AEDAT4_DVS128).events[:4000]
    for period in (0, 1_000, 50_000):
        got = RefractoryFilter(128, 128, period_us=period).apply(events)
        np.testing.assert_array_equal(got, naive.refractory(events, period))
        assert 0 < len(got) <= len(events)


@pytest.mark.parametrize("neighbours", [4, 8])
def test_denoise_matches_reference(recording, neighbours):
    events = recording(AEDAT4_DVS128).events[:4000]
    got = DenoiseFilter(128, 128, time_us=20_000, neighbours=neighbours).apply(events)
    expected = naive.denoise(events, 20_000, neighbours)
    np.testing.assert_array_equal(got, expected)
    assert 0 < len(got) < len(events)


def test_decimation_matches_reference():
    events = random_events(np.random.default_rng(4), 500, W, H)
    for n in (1, 3):
        np.testing.assert_array_equal(DecimationFilter(W, H, n=n).apply(events), naive.decimate(events, n))


def test_hot_pixel_is_learned_then_masked():
    rng = np.random.default_rng(5)
    background = random_events(rng, 400, W, H, span_us=2000)
    hot = make_events(np.arange(0, 2000, 5), np.full(400, 4), np.full(400, 2), np.ones(400))
    both = concat_events([background, hot])
    events = both[np.argsort(both["t"], kind="stable")]
    flt = HotPixelFilter(W, H, learn_us=1000, sigma=3.0, pixels=[(0, 0)])
    out = flt.process(EventPacket(events, W, H, 0, 2000))[0].events
    assert flt.hot_pixels.tolist() == [[0, 0], [4, 2]]
    learning, after = out[out["t"] < 1000], out[out["t"] >= 1000]
    listed = (events["x"] == 0) & (events["y"] == 0)
    np.testing.assert_array_equal(learning, events[(events["t"] < 1000) & ~listed])  # all but listed pass
    assert not ((after["x"] == 4) & (after["y"] == 2)).any()
    assert not ((out["x"] == 0) & (out["y"] == 0)).any()  # listed: masked from the start
    expected_after = events[(events["t"] >= 1000) & ~((events["x"] == 4) & (events["y"] == 2)) & ~listed]
    np.testing.assert_array_equal(after, expected_after)


def test_geometry_filters():
    ev = make_events([1, 2, 3, 4], [0, 8, 3, 5], [0, 5, 2, 1], [1, 0, 1, 0])
    roi = RoiFilter(W, H, x=3, y=1, w=4, h=3)
    out = roi.process(EventPacket(ev, W, H, 0, 10))[0]
    assert (out.width, out.height) == (4, 3)
    assert out.events[["x", "y"]].tolist() == [(0, 1), (2, 0)]
    assert PolarityFilter(W, H, polarity=0).apply(ev)["t"].tolist() == [2, 4]
    down = DownsampleFilter(W, H, factor=4)
    assert (down.out_width, down.out_height) == (3, 2)
    assert down.apply(ev)[["x", "y"]].tolist() == [(0, 0), (2, 1), (0, 0), (1, 0)]


@pytest.mark.parametrize("kwargs, mapping", [
    (dict(flip_x=True), lambda x, y: (W - 1 - x, y)),
    (dict(flip_y=True), lambda x, y: (x, H - 1 - y)),
    (dict(transpose=True), lambda x, y: (y, x)),
    (dict(rotate=90), lambda x, y: (H - 1 - y, x)),
    (dict(rotate=180), lambda x, y: (W - 1 - x, H - 1 - y)),
    (dict(rotate=270), lambda x, y: (y, W - 1 - x)),
    (dict(flip_x=True, rotate=90), lambda x, y: (H - 1 - y, W - 1 - x)),
])
def test_orientations(kwargs, mapping):
    rng = np.random.default_rng(6)
    ev = random_events(rng, 50, W, H)
    flt = OrientFilter(W, H, **kwargs)
    out = flt.apply(ev)
    expected = [mapping(int(a), int(b)) for a, b in zip(ev["x"], ev["y"])]
    assert list(zip(out["x"].tolist(), out["y"].tolist())) == expected
    assert 0 <= out["x"].max() < flt.out_width and 0 <= out["y"].max() < flt.out_height


def test_time_filter_keeps_packet_ranges_with_merging_scale():
    ev = make_events(np.arange(10, 30), np.zeros(20), np.zeros(20), np.ones(20))
    flt = TimeFilter(W, H, offset_us=100, scale=0.25)
    packets = [EventPacket(ev, W, H, 10, 30).slice_time(a, b) for a, b in ((10, 17), (17, 22), (22, 30))]
    out = [q for p in packets for q in flt.process(p)] + flt.flush()
    times = np.concatenate([q.events["t"] for q in out])
    np.testing.assert_array_equal(times, np.floor(ev["t"] * 0.25).astype(np.int64) + 100)
    for q in out:
        assert len(q) == 0 or q.t_start <= q.events["t"][0] and q.events["t"][-1] < q.t_end


def test_out_of_sensor_events_are_dropped_not_written():
    ev = make_events([1, 2], [W + 3, 1], [0, H + 10], [1, 1])
    for flt in (RefractoryFilter(W, H), DenoiseFilter(W, H), DecimationFilter(W, H, n=1), HotPixelFilter(W, H)):
        assert len(flt.apply(ev)) == 0


@pytest.mark.parametrize("make", [
    lambda: RefractoryFilter(W, H, period_us=-1),
    lambda: DenoiseFilter(W, H, neighbours=6),
    lambda: RoiFilter(W, H, x=5, y=0, w=5, h=2),
    lambda: OrientFilter(W, H, rotate=45),
    lambda: TimeFilter(W, H, scale=0),
    lambda: HotPixelFilter(W, H, pixels=[(W, 0)]),
    lambda: PolarityFilter(0, H),
])
def test_bad_filter_parameters_raise_user_errors(make):
    with pytest.raises(BinningError):
        make()
