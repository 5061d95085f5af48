"""Packet boundaries never change the output (hypothesis: random splits, empty packets, cuts on edges)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evstream.binning import (
    DecimationFilter,
    DenoiseFilter,
    FrameConfig,
    HotPixelFilter,
    RefractoryFilter,
    TimeFilter,
    make_binner,
)
from evstream.events import EventPacket, concat_events
from tests.binning.streams import random_events, split_stream

W, H = 6, 5
T0, T1 = 1000, 3000

CONFIGS = {
    "count": dict(window_us=100),
    "count-origin": dict(window_us=70, origin_us=13, crop=(1, 0, 4, 5), downsample=2),
    "signed": dict(window_us=150, representation="signed"),
    "binary": dict(window_us=100, representation="binary"),
    "rate": dict(window_us=100, representation="rate"),
    "voxel": dict(window_us=100, representation="voxel", n_time_bins=4),
    "timesurface": dict(window_us=100, representation="timesurface", tau_us=80.0),
    "sliding": dict(window_us=300, stride_us=100),
    "sliding-odd": dict(window_us=250, stride_us=100, origin_us=30, representation="binary"),
    "event-count": dict(event_count=17),
    "event-count-batches": dict(event_count=3, max_frames=2, representation="signed", crop=(0, 1, 6, 3)),
    "event-count-timeout": dict(event_count=9, timeout_us=50, max_frames=2),
    "sliding-batches": dict(window_us=200, stride_us=50, max_frames=2, downsample=4),
    "sliding-voxel": dict(window_us=300, stride_us=100, representation="voxel", n_time_bins=3, max_frames=2),
    "sliding-voxel-odd": dict(window_us=130, stride_us=200, origin_us=20, representation="voxel", crop=(1, 0, 4, 5)),
    "sliding-timesurface": dict(window_us=250, stride_us=100, origin_us=30, representation="timesurface",
                                tau_us=120.0, max_frames=3),
    "small-batches": dict(window_us=50, max_frames=3),
}

FILTERS = {
    "refractory": lambda: RefractoryFilter(W, H, period_us=40),
    "denoise": lambda: DenoiseFilter(W, H, time_us=60),
    "decimation": lambda: DecimationFilter(W, H, n=3),
    "hot-pixel": lambda: HotPixelFilter(W, H, learn_us=700, sigma=1.0, min_count=2),
    "time": lambda: TimeFilter(W, H, offset_us=-500, scale=0.3),
}

settings.register_profile("binning", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])

cuts_strategy = st.lists(
    st.one_of(st.integers(T0, T1),  # anywhere
              st.integers(T0 // 50, T1 // 50).map(lambda k: 50 * k),  # exactly on window edges
              st.just(T0), st.just(T1)),  # empty packets at both ends
    max_size=12,
)


def _events(seed: int, n: int) -> np.ndarray:
    return random_events(np.random.default_rng(seed), n, W, H, t0=T0, span_us=T1 - T0)


def _frames(config: FrameConfig, packets: list[EventPacket]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    binner = make_binner(config)
    out = [f for p in packets for f in binner.process(p)] + binner.flush()
    if not out:
        return np.zeros((0, *config.frame_shape)), np.zeros(0), np.zeros(0)
    return (np.concatenate([f.data for f in out]), np.concatenate([f.t_start for f in out]),
            np.concatenate([f.t_end for f in out]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
@settings(settings.get_profile("binning"))
@given(seed=st.integers(0, 2**31), n=st.integers(0, 150), cuts=cuts_strategy)
def test_binners_ignore_packet_boundaries(name, seed, n, cuts):
    config = FrameConfig(width=W, height=H, dtype="float64", **CONFIGS[name])
    events = _events(seed, n)
    whole = _frames(config, [EventPacket(events, W, H, T0, T1)])
    split = _frames(config, split_stream(events, W, H, T0, T1, cuts))
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)
    if config.event_count is None:  # constant frame rate: consecutive windows, none skipped
        assert np.all(np.diff(whole[1]) == config.stride)
        assert len(whole[1]) and whole[1][0] <= T0 < whole[1][0] + config.stride


@pytest.mark.parametrize("name", sorted(FILTERS))
@settings(settings.get_profile("binning"))
@given(seed=st.integers(0, 2**31), n=st.integers(0, 150), cuts=cuts_strategy)
def test_filters_ignore_packet_boundaries(name, seed, n, cuts):
    events = _events(seed, n)

    def run(packets: list[EventPacket]) -> np.ndarray:
        flt = FILTERS[name]()
        out = [q for p in packets for q in flt.process(p)] + flt.flush()
        for q in out:  # every output packet keeps the contract
            assert len(q) == 0 or (q.t_start <= q.events["t"][0] and q.events["t"][-1] < q.t_end)
        return concat_events([q.events for q in out])

    whole = run([EventPacket(events, W, H, T0, T1)])
    split = run(split_stream(events, W, H, T0, T1, cuts))
    np.testing.assert_array_equal(whole, split)
