"""The 11 gesture motions, their schedule and DVS Gesture label files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evstream.cameras.contrast import DvsParams
from evstream.cameras.gestures import (GESTURES, Body, GestureSegment, LabelFileError, arm_pose, hand_targets,
                                       make_schedule, read_labels, write_labels)
from evstream.cameras.scene import GestureScene
from evstream.cameras.synthetic import SyntheticCamera


def _angles(seg: GestureSegment, side: int, center: complex) -> np.ndarray:
    ts = np.arange(seg.start_us + 200_000, seg.end_us - 200_000, 10_000)
    hands = np.array([hand_targets(seg, int(t))[0 if side < 0 else 1] for t in ts])
    return np.unwrap(np.angle(hands - center))


@pytest.mark.parametrize("name, side, turn", [
    ("right_arm_clockwise", -1, 1), ("right_arm_counter_clockwise", -1, -1),
    ("left_arm_clockwise", 1, 1), ("left_arm_counter_clockwise", 1, -1)])
def test_arm_circles_turn_the_named_way(name: str, side: int, turn: int) -> None:
    """Clockwise as the camera sees it: in image coordinates (y down) the angle grows."""
    body = Body()
    seg = GestureSegment(GESTURES.index(name), 0, 2_000_000, body, freq_hz=1.0)
    center = body.shoulder(side) + complex(side * 10.0, 2.0)
    angles = _angles(seg, side, center)
    assert turn * (angles[-1] - angles[0]) > 2 * math.pi  # more than one full turn in 1.6 s at 1 Hz


def test_waves_move_only_the_named_hand() -> None:
    body = Body()
    for name, moving in (("right_hand_wave", 0), ("left_hand_wave", 1)):
        seg = GestureSegment(GESTURES.index(name), 0, 2_000_000, body)
        hands = np.array([hand_targets(seg, t) for t in range(300_000, 1_700_000, 20_000)])  # (T, 2) complex
        spread = hands.std(axis=0)  # motion of the right and the left hand, pixels
        assert spread[moving] > 2.0 and spread[1 - moving] < 1e-9
        assert hands[:, moving].imag.max() < body.shoulder_y  # waving hand raised above the shoulder


def test_gestures_start_and_end_at_rest() -> None:
    body = Body()
    for label in range(len(GESTURES)):
        seg = GestureSegment(label, 1_000_000, 3_000_000, body, seed=label)
        for t in (1_000_000, 3_000_000):
            r, l = hand_targets(seg, t)
            assert np.allclose(r, body.rest_hand(-1)) and np.allclose(l, body.rest_hand(1))


def test_arm_pose_keeps_segment_lengths() -> None:
    body = Body(scale=1.2)
    for target in (10 + 10j, 50 + 80j, 64 + 52j, 200 + 0j):
        s, e, h = arm_pose(body, -1, target)
        assert np.isclose(abs(e - s), body.upper_arm)
        assert np.isclose(abs(h - e), body.forearm)
    # A hanging arm's elbow bends outwards (away from the body's centre line).
    for side in (-1, 1):
        s, e, h = arm_pose(body, side, body.rest_hand(side) - 8j)
        assert side * (e.real - s.real) > 0


def test_schedule_is_ordered_and_reproducible() -> None:
    a = make_schedule(30, seed=4)
    assert a == make_schedule(30, seed=4) and a != make_schedule(30, seed=5)
    assert all(s.end_us > s.start_us for s in a)
    assert all(x.end_us < y.start_us for x, y in zip(a, a[1:]))
    assert {s.label for s in a} <= set(range(11)) and len({s.label for s in a}) > 6
    assert [s.label for s in make_schedule(5, labels=[3, 7])] == [3, 7, 3, 7, 3]
    with pytest.raises(ValueError, match="out of range"):
        make_schedule(1, labels=[11])


def test_every_gesture_makes_events_where_the_arms_are() -> None:
    """All 11 classes, short: events concentrate in the segments; the waves land on their side."""
    schedule = make_schedule(11, seed=1, labels=list(range(11)), width=64, height=64, min_s=0.6, max_s=0.6)
    scene = GestureScene(schedule, 64, 64, seed=1)
    ev = SyntheticCamera(scene, DvsParams(noise_hz=0.05), seed=1).record(scene.duration_us)
    rest_mask = np.ones(len(ev), bool)
    for seg in schedule:
        inside = (ev["t"] >= seg.start_us) & (ev["t"] < seg.end_us)
        rest_mask &= ~inside
        assert inside.sum() > 400, f"{seg.name} made only {inside.sum()} events"
        if seg.name.endswith("hand_wave"):
            x = ev["x"][inside].astype(float)
            assert (x.mean() < scene.body.cx) == seg.name.startswith("right")
    rest_s = (scene.duration_us - sum(s.end_us - s.start_us for s in schedule)) * 1e-6
    in_s = sum(s.end_us - s.start_us for s in schedule) * 1e-6
    assert rest_mask.sum() / rest_s < 0.05 * (len(ev) - rest_mask.sum()) / in_s


def test_labels_round_trip(tmp_path: Path) -> None:
    schedule = make_schedule(5, seed=2)
    path = tmp_path / "user01_labels.csv"
    write_labels(path, schedule)
    assert path.read_text().splitlines()[0] == "class,startTime_usec,endTime_usec"
    assert read_labels(path) == [(s.label, s.start_us, s.end_us) for s in schedule]


@pytest.mark.parametrize("text, match", [
    ("", "first line"), ("a,b,c\n1,2,3\n", "first line"),
    ("class,startTime_usec,endTime_usec\n1,2\n", "three integers"),
    ("class,startTime_usec,endTime_usec\n12,0,5\n", "class must be 1..11")])
def test_bad_label_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(LabelFileError, match=match):
        read_labels(path)
    with pytest.raises(LabelFileError, match="cannot read"):
        read_labels(tmp_path / "missing.csv")


def test_gesture_samples_are_labelled_reproducible_and_varied() -> None:
    from evstream.cameras.synthetic import gesture_samples

    kw = dict(width=48, height=48, duration_s=(0.4, 0.5), classes=(0, 3, 8))
    a = list(gesture_samples(2, seed=1, **kw))
    assert [label for _, label in a] == [0, 3, 8, 0, 3, 8]
    for events, _ in a:
        assert len(events) > 200 and events["t"].min() >= 0 and events["t"].max() < 500_000
        assert np.all(np.diff(events["t"]) >= 0)
    b = list(gesture_samples(2, seed=1, **kw))
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    c = list(gesture_samples(1, seed=2, **kw))
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[3][0])  # two performances of one class differ
