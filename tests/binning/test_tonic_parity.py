"""Equality with tonic on the real recordings, and the differences evstream makes on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from evstream.binning import (
    DecimationFilter,
    DenoiseFilter,
    DownsampleFilter,
    FrameConfig,
    RefractoryFilter,
    TimeBinner,
    TimeFilter,
    to_frames,
    to_time_surfaces,
    to_voxel_grid,
)
from evstream.events import make_events, to_tonic
from tests.binning.streams import AEDAT4_DVS128, AEDAT4_DVXPLORER, NMNIST

tonic_transforms = pytest.importorskip("tonic.transforms")

# (recording, window µs, events used): small enough for tonic's per-event Python loops.
CASES = [(AEDAT4_DVS128, 50_000, None), (AEDAT4_DVXPLORER, 20_000, 30_000), (NMNIST, 10_000, None)]


def _load(recording, path: str, limit: int | None):
    packet = recording(path)
    events = packet.events if limit is None else packet.events[:limit]
    return events, packet.width, packet.height


@pytest.mark.parametrize("path, window, limit", CASES)
def test_count_frames_equal_tonic_to_frame(recording, path, window, limit):
    events, w, h = _load(recording, path, limit)
    theirs = tonic_transforms.ToFrame(sensor_size=(w, h, 2), time_window=window)(to_tonic(events))
    ours = to_frames(events, width=w, height=h, window_us=window, origin_us=int(events["t"][0]))
    assert len(theirs) >= 5
    np.testing.assert_array_equal(ours[:len(theirs)], theirs)


def test_deliberate_differences_from_tonic_to_frame(recording):
    """tonic cuts windows from the first event and drops the last partial one; evstream
    cuts at absolute multiples of the window and keeps every event."""
    events, w, h = _load(recording, AEDAT4_DVS128, None)
    window = 50_000
    theirs = tonic_transforms.ToFrame(sensor_size=(w, h, 2), time_window=window)(to_tonic(events))
    ours = to_frames(events, width=w, height=h, window_us=window)
    t0, t1 = int(events["t"][0]), int(events["t"][-1])
    assert t0 % window != 0  # this recording does not start on an edge ...
    assert len(ours) == t1 // window - t0 // window + 1  # ... evstream's first frame starts at the edge before it
    assert ours.sum() == len(events)  # every event is in a frame
    assert theirs.sum() < len(events)  # tonic drops the events after its last full window
    assert not np.array_equal(ours[:len(theirs)], theirs)  # shifted edges: other frames


@pytest.mark.parametrize("path, window, limit", CASES)
def test_voxel_grid_equals_tonic(recording, path, window, limit):
    events, w, h = _load(recording, path, limit)
    # tonic's ToVoxelGrid maps polarity 0 to -1 by assigning into the p field: with tonic's own
    # bool field that assignment gives True (all +1), so tonic is fed integer polarities here.
    tonic_events = to_tonic(events).astype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i2")])
    theirs = tonic_transforms.ToVoxelGrid(sensor_size=(w, h, 2), n_time_bins=7)(tonic_events)
    ours = to_voxel_grid(events, width=w, height=h, n_time_bins=7)
    assert theirs.shape == (7, 1, h, w)
    np.testing.assert_allclose(ours, theirs[:, 0], rtol=1e-9, atol=1e-9)
    assert np.abs(ours).sum() > 0


@pytest.mark.parametrize("path, window, limit", CASES[:2])
def test_time_surfaces_equal_tonic(recording, path, window, limit):
    events, w, h = _load(recording, path, 8_000)
    tau = window / 2
    theirs = tonic_transforms.ToTimesurface(sensor_size=(w, h, 2), dt=window, tau=tau)(to_tonic(events))
    ours = to_time_surfaces(events, width=w, height=h, window_us=window, tau_us=tau, origin_us=int(events["t"][0]))
    assert len(theirs) >= 3
    np.testing.assert_allclose(ours[:len(theirs)], theirs, rtol=1e-12)


@pytest.mark.parametrize("path, window, limit", CASES[:2])
@pytest.mark.parametrize("ours, theirs", [
    (lambda w, h: DenoiseFilter(w, h, time_us=5_000, neighbours=4), lambda: tonic_transforms.Denoise(5_000)),
    (lambda w, h: RefractoryFilter(w, h, period_us=20_000), lambda: tonic_transforms.RefractoryPeriod(20_000)),
    (lambda w, h: DecimationFilter(w, h, n=3), lambda: tonic_transforms.Decimation(3)),
    (lambda w, h: DownsampleFilter(w, h, factor=4), lambda: tonic_transforms.Downsample(spatial_factor=0.25)),
    (lambda w, h: TimeFilter(w, h, scale=0.001), lambda: tonic_transforms.Downsample(time_factor=0.001)),
], ids=["denoise", "refractory", "decimation", "downsample", "time-scale"])
def test_filters_equal_tonic(recording, path, window, limit, ours, theirs):
    events, w, h = _load(recording, path, 15_000)
    sample = to_tonic(events)
    expected = theirs()(sample.copy())
    got = ours(w, h)(sample)  # an evstream filter called as a tonic transform
    assert got.dtype == sample.dtype
    np.testing.assert_array_equal(got, expected)
    assert 0 < len(got) <= len(events)


def test_binner_and_filter_compose_with_tonic():
    compose = tonic_transforms.Compose([
        DenoiseFilter(34, 34, time_us=5_000),
        TimeBinner(FrameConfig(width=34, height=34, window_us=50_000, dtype="int16")),
    ])
    events = make_events([100, 150, 200, 60_000], [3, 4, 3, 10], [3, 3, 4, 10], [1, 1, 0, 1])
    frames = compose(to_tonic(events))
    # The first event has no earlier neighbour and the one at 60 ms is isolated: both are noise,
    # so the sample left for the binner spans [150, 201) µs: one window.
    assert frames.shape == (1, 2, 34, 34) and frames.dtype == np.int16
    assert frames[0, 1, 3, 4] == 1 and frames[0, 0, 4, 3] == 1 and frames.sum() == 2
