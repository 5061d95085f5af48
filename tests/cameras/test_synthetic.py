"""Statistics of the synthetic DVS: contrast, polarity, noise, refractory period, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.cameras.contrast import DvsParams, DvsPixelModel
from evstream.cameras.scene import ShapesScene
from evstream.cameras.synthetic import SyntheticCamera
from evstream.events import concat_events


def _shapes_events(contrast: float, seconds: float = 0.5, noise_hz: float = 0.0, n_shapes: int = 3,
                   refractory_us: int = 100, seed: int = 3) -> np.ndarray:
    scene = ShapesScene(64, 64, n_shapes=n_shapes, speed=40.0, contrast=contrast, seed=seed)
    cam = SyntheticCamera(scene, DvsParams(noise_hz=noise_hz, refractory_us=refractory_us), seed=seed)
    return cam.record(int(seconds * 1e6))


def test_event_rate_rises_with_contrast() -> None:
    counts = [len(_shapes_events(c)) for c in (0.3, 0.8, 1.6)]
    assert counts[0] > 0
    assert counts[0] < counts[1] < counts[2]
    assert counts[2] > 2 * counts[0]


def test_polarity_balance_of_moving_shapes() -> None:
    ev = _shapes_events(1.0, seconds=1.0)
    assert len(ev) > 5000
    assert 0.4 < ev["p"].mean() < 0.6


def test_noise_rate_matches_the_set_rate() -> None:
    noise_hz = 5.0
    ev = _shapes_events(1.0, seconds=1.0, noise_hz=noise_hz, n_shapes=0)
    expected = noise_hz * 64 * 64 * 1.0  # 20480 events, Poisson sd ~143
    assert abs(len(ev) - expected) < 0.04 * expected
    assert 0.47 < ev["p"].mean() < 0.53
    # Spread over the whole sensor and the whole second.
    assert len(np.unique(ev["x"])) == 64 and len(np.unique(ev["y"])) == 64
    assert ev["t"].min() < 10_000 and ev["t"].max() > 990_000


def test_a_still_scene_without_noise_is_silent() -> None:
    assert len(_shapes_events(1.0, n_shapes=0)) == 0


def test_refractory_period_holds_per_pixel() -> None:
    refractory = 2000
    ev = _shapes_events(2.0, refractory_us=refractory)
    assert len(ev) > 1000
    order = np.lexsort((ev["t"], ev["y"], ev["x"]))
    s = ev[order]
    same_pixel = (s["x"][1:] == s["x"][:-1]) & (s["y"][1:] == s["y"][:-1])
    gaps = np.diff(s["t"])[same_pixel]
    assert gaps.size and gaps.min() >= refractory


def test_refractory_drops_are_counted() -> None:
    scene = ShapesScene(64, 64, n_shapes=3, speed=40.0, contrast=2.0, seed=3)
    short = SyntheticCamera(scene, DvsParams(noise_hz=0, refractory_us=0), seed=3)
    long = SyntheticCamera(scene, DvsParams(noise_hz=0, refractory_us=5000), seed=3)
    n_short, n_long = len(short.record(300_000)), len(long.record(300_000))
    assert n_long < n_short
    assert n_long + long.model.refractory_drops == n_short


def test_threshold_mismatch_has_the_set_spread() -> None:
    model = DvsPixelModel(100, 100, DvsParams(threshold=0.25, threshold_sigma=0.04), seed=1)
    for c in (model.c_on, model.c_off):
        assert abs(c.mean() - 0.25) < 0.003
        assert abs(c.std() - 0.04) < 0.003
    assert not np.array_equal(model.c_on, model.c_off)


def test_events_are_time_sorted_inside_the_sensor() -> None:
    ev = _shapes_events(1.0, noise_hz=1.0)
    assert np.all(np.diff(ev["t"]) >= 0)
    assert ev["x"].max() < 64 and ev["y"].max() < 64


def test_same_seed_same_events_other_seed_other_events() -> None:
    a, b, c = _shapes_events(1.0, noise_hz=1.0), _shapes_events(1.0, noise_hz=1.0), _shapes_events(1.0, noise_hz=1.0, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a[: min(len(a), len(c))], c[: min(len(a), len(c))])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_packet_boundaries_do_not_change_the_events(frames_per_packet: list[int]) -> None:
    """Random packet lengths (in whole frames) give the same events and contiguous ranges."""
    scene = ShapesScene(32, 32, n_shapes=2, speed=60.0, seed=9)
    reference = SyntheticCamera(scene, DvsParams(noise_hz=20.0), seed=9).record(120_000)
    cam = SyntheticCamera(scene, DvsParams(noise_hz=20.0), seed=9)
    pieces, t = [], 0
    for k in itertools.cycle(frames_per_packet):
        if t >= 120_000:
            break
        packet = next(cam.packets(k * 1000, 120_000))
        assert packet.t_start == t
        t = packet.t_end
        assert all(packet.t_start <= packet.events["t"]) and all(packet.events["t"] < packet.t_end)
        pieces.append(packet.events)
    assert t == 120_000
    assert np.array_equal(concat_events(pieces), reference)


def test_packets_cover_time_with_empty_packets_when_still() -> None:
    cam = SyntheticCamera(ShapesScene(16, 16, n_shapes=0), DvsParams(noise_hz=0.0))
    packets = list(cam.packets(5000, 50_000))
    assert [p.t_start for p in packets] == list(range(0, 50_000, 5000))
    assert all(len(p) == 0 and p.duration_us == 5000 for p in packets)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DvsParams(threshold=0)
    with pytest.raises(ValueError, match="multiple of frame_us"):
        next(SyntheticCamera(ShapesScene(8, 8)).packets(1500))
