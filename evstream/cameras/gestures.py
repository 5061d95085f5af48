"""The 11 DVS Gesture motions as arm trajectories, gesture schedules and their label files.

A person faces the camera; each arm is a shoulder, an elbow and a hand. A
gesture is a function of time giving both hand positions (pixels, image
coordinates: x right, y down, "right" is the subject's right, which the camera
sees on the image's left); elbows follow by two-link inverse kinematics. Each
performance varies speed, amplitude, body position and size, drawn from a
seeded generator.

Label files use DVS Gesture's ``*_labels.csv`` layout: a header
``class,startTime_usec,endTime_usec`` and one row per gesture segment with the
1-based class number.
"""

from __future__ import annotations

import cmath
import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evstream.errors import UserError

__all__ = [
    "GESTURES",
    "Body",
    "GestureSegment",
    "LabelFileError",
    "arm_pose",
    "hand_targets",
    "make_schedule",
    "read_labels",
    "write_labels",
]

GESTURES: tuple[str, ...] = (
    "hand_clap", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
    "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
    "arm_roll", "air_drums", "air_guitar", "other",
)
"""Class names in DVS Gesture order: index ``i`` is class ``i + 1`` in label files."""

LABEL_HEADER = ("class", "startTime_usec", "endTime_usec")


class LabelFileError(UserError):
    """A gesture label file cannot be read."""


@dataclass(frozen=True)
class Body:
    """Where the person stands and how big they are, in pixels (for a 128 x 128 sensor, scale 1).

    ``cx`` is the body's centre line, ``shoulder_y`` the shoulders' height,
    ``scale`` multiplies every length. Points are complex numbers ``x + 1j * y``
    (pixels, y down): cheap 2-D vectors whose rotation is a multiplication.
    """

    cx: float = 64.0
    shoulder_y: float = 52.0
    scale: float = 1.0

    @property
    def upper_arm(self) -> float:
        return 20.0 * self.scale

    @property
    def forearm(self) -> float:
        return 18.0 * self.scale

    def shoulder(self, side: int) -> complex:
        """Shoulder position; ``side`` -1 = subject's right (image left), +1 = left."""
        return complex(self.cx + side * 14.0 * self.scale, self.shoulder_y)

    def rest_hand(self, side: int) -> complex:
        """Hand position of an arm hanging at rest."""
        return self.shoulder(side) + complex(side * 4.0, 36.0) * self.scale


@dataclass(frozen=True)
class GestureSegment:
    """One performance of a gesture in ``[start_us, end_us)``.

    ``freq_hz`` is its repetition rate, ``amplitude`` scales its motion, ``seed``
    drives the free motion of the "other" class.
    """

    label: int
    start_us: int
    end_us: int
    body: Body = Body()
    freq_hz: float = 1.5
    amplitude: float = 1.0
    seed: int = 0

    @property
    def name(self) -> str:
        return GESTURES[self.label]


@functools.lru_cache(maxsize=64)
def _free_motion(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative frequencies and phases ``(2 hands, 2 axes, 3 sinusoids)`` of the "other" class."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 1.2, (2, 2, 3)), rng.uniform(0.0, 2.0 * math.pi, (2, 2, 3))


def hand_targets(seg: GestureSegment, t_us: int) -> tuple[complex, complex]:
    """Right and left hand positions (pixels, ``x + 1j * y``) of ``seg`` at time ``t_us`` µs.

    The motion fades in and out over the first and last 150 ms of the segment
    from the rest pose, so segments join without jumps.
    """
    b, s = seg.body, seg.body.scale
    a = seg.amplitude * s
    tau = (t_us - seg.start_us) * 1e-6
    phi = 2.0 * math.pi * seg.freq_hz * tau
    rest_r, rest_l = b.rest_hand(-1), b.rest_hand(+1)
    right, left = rest_r, rest_l
    chest = complex(b.cx, b.shoulder_y + 14.0 * s)
    name = seg.name
    if name == "hand_clap":
        d = (3.0 + 7.0 * a * (1.0 + math.cos(phi))) * s
        right, left = chest - d, chest + d
    elif name in ("right_hand_wave", "left_hand_wave"):
        side = -1 if name.startswith("right") else 1
        hand = b.shoulder(side) + complex(side * 12.0 * s + 9.0 * a * math.sin(phi), -26.0 * s)
        right, left = (hand, left) if side < 0 else (right, hand)
    elif "arm_" in name and "clockwise" in name:
        side = -1 if name.startswith("right") else 1
        turn = -1.0 if "counter" in name else 1.0
        center = b.shoulder(side) + complex(side * 10.0, 2.0) * s
        hand = center + 20.0 * a * cmath.exp(1j * (math.pi / 2 + turn * phi))
        right, left = (hand, left) if side < 0 else (right, hand)
    elif name == "arm_roll":
        right = chest + complex(-4.0, 4.0) * s + 7.0 * a * cmath.exp(1j * phi)
        left = chest + complex(4.0, 4.0) * s - 7.0 * a * cmath.exp(1j * phi)
    elif name == "air_drums":
        right = chest + complex(-13.0 * s, 8.0 * s + 8.0 * a * math.sin(phi))
        left = chest + complex(13.0 * s, 8.0 * s - 8.0 * a * math.sin(phi))
    elif name == "air_guitar":
        left = b.shoulder(+1) + complex(14.0 * s + 3.0 * a * math.sin(0.5 * phi), -4.0 * s)
        right = chest + complex(-4.0 * s, 14.0 * s + 7.0 * a * math.sin(2.0 * phi))
    else:  # "other": smooth free motion of both hands, a sum of sinusoids
        f, ph = _free_motion(seg.seed)
        wobble = np.sin(phi * f + ph).sum(axis=-1) * (14.0 * a / 3.0)
        right = b.shoulder(-1) + complex(-8.0, 16.0) * s + complex(wobble[0, 0], wobble[0, 1])
        left = b.shoulder(+1) + complex(8.0, 16.0) * s + complex(wobble[1, 0], wobble[1, 1])
    ramp_s = 0.15
    end_s = (seg.end_us - seg.start_us) * 1e-6
    w = min(1.0, tau / ramp_s, max(end_s - tau, 0.0) / ramp_s)
    w = w * w * (3.0 - 2.0 * w)
    return rest_r + w * (right - rest_r), rest_l + w * (left - rest_l)


def arm_pose(body: Body, side: int, hand: complex) -> tuple[complex, complex, complex]:
    """``(shoulder, elbow, hand)`` of one arm reaching for ``hand`` (two-link inverse kinematics).

    A target out of reach is pulled onto the reachable ring; the elbow bends
    outwards for a hanging arm (``side`` -1 = right, +1 = left).
    """
    s = body.shoulder(side)
    l1, l2 = body.upper_arm, body.forearm
    v = hand - s
    d = abs(v)
    d_c = min(max(d, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-3)
    u = v / d if d > 1e-9 else 1j
    cos_a = (l1 * l1 + d_c * d_c - l2 * l2) / (2.0 * l1 * d_c)
    a = -side * math.acos(min(max(cos_a, -1.0), 1.0))
    return s, s + l1 * u * cmath.exp(1j * a), s + u * d_c


def make_schedule(n_segments: int, seed: int = 0, labels: list[int] | None = None,
                  width: int = 128, height: int = 128, min_s: float = 1.5, max_s: float = 2.5,
                  gap_s: float = 0.4) -> list[GestureSegment]:
    """A random sequence of gesture performances separated by rest pauses.

    Args:
        n_segments: number of gestures.
        seed: seed of every random choice (classes, timing, speed; the body's
            place and size, which stay the same for the whole schedule).
        labels: class indices (0..10) to perform in order, cycled; default:
            random classes.
        width, height: sensor size in pixels (the body scales with it).
        min_s, max_s: range of a gesture's duration, seconds.
        gap_s: mean rest pause before each gesture, seconds (±50 %).

    Returns:
        Segments with increasing, non-overlapping ``[start_us, end_us)``.
    """
    rng = np.random.default_rng(seed)
    size = min(width, height) / 128.0
    body = Body(cx=width / 2 + rng.uniform(-8, 8) * size, shoulder_y=height * 0.41 + rng.uniform(-4, 4) * size,
                scale=size * rng.uniform(0.85, 1.1))
    t = 0
    out = []
    for i in range(n_segments):
        label = labels[i % len(labels)] if labels else int(rng.integers(0, len(GESTURES)))
        if not 0 <= label < len(GESTURES):
            raise ValueError(f"gesture label {label} out of range 0..{len(GESTURES) - 1}")
        t += int(gap_s * rng.uniform(0.5, 1.5) * 1e6)
        duration = int(rng.uniform(min_s, max_s) * 1e6)
        out.append(GestureSegment(label, t, t + duration, body, freq_hz=float(rng.uniform(1.2, 2.2)),
                                  amplitude=float(rng.uniform(0.85, 1.15)), seed=int(rng.integers(2**31))))
        t += duration
    return out


def write_labels(path: str | Path, segments: list[GestureSegment]) -> None:
    """Write ``segments`` as a DVS Gesture ``*_labels.csv`` (1-based class, start and end µs)."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(LABEL_HEADER)
        for seg in segments:
            out.writerow((seg.label + 1, seg.start_us, seg.end_us))


def read_labels(path: str | Path) -> list[tuple[int, int, int]]:
    """Read a DVS Gesture label file as ``(label 0..10, start_us, end_us)`` rows."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except OSError as exc:
        raise LabelFileError(f"{path}: cannot read the label file ({exc.strerror})") from exc
    if not rows or tuple(c.strip() for c in rows[0]) != LABEL_HEADER:
        raise LabelFileError(f"{path}: not a gesture label file: the first line must be {','.join(LABEL_HEADER)}")
    out = []
    for i, row in enumerate(rows[1:], start=2):
        try:
            label, start, end = (int(c) for c in row)
        except ValueError:
            raise LabelFileError(f"{path}:{i}: expected three integers class,start,end (got {','.join(row)!r})") from None
        if not 1 <= label <= len(GESTURES) or end < start:
            raise LabelFileError(f"{path}:{i}: class must be 1..{len(GESTURES)} and end >= start (got {row})")
        out.append((label - 1, start, end))
    return out
