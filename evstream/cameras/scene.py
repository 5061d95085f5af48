"""Synthetic scenes rendered as intensity images: moving shapes, and a person performing gestures.

A scene has a sensor size and ``render(t_us) -> (H, W) float32`` intensities
in [0, 1] at any time (µs); it is a pure function of time and its seed, so
rendering the same instant twice gives the same image. Shapes are drawn as
anti-aliased capsules (:func:`evstream.cameras._kernels.draw_capsules`) over a
static textured background, so sub-pixel motion changes intensities smoothly,
as optics would.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from evstream.cameras import _kernels
from evstream.cameras.gestures import Body, GestureSegment, arm_pose, hand_targets, make_schedule

__all__ = ["GestureScene", "Scene", "ShapesScene", "static_background"]


def static_background(width: int, height: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """``(H, W)`` float32 background: ``level`` with a smooth ±10 % texture (static, so it makes no events)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    tex = np.zeros((height, width), np.float32)
    for _ in range(4):
        fx, fy = rng.uniform(0.02, 0.12, 2)
        ph = rng.uniform(0, 2 * math.pi)
        tex += np.sin(fx * x + fy * y + ph).astype(np.float32)
    return np.clip(level * (1.0 + 0.1 * tex / 4.0), 0.0, 1.0).astype(np.float32)


class Scene:
    """Base of the synthetic scenes: sensor size, a static background and capsules drawn over it."""

    def __init__(self, width: int, height: int, background: float, seed: int) -> None:
        if not (0.0 <= background <= 1.0):
            raise ValueError(f"background intensity must lie in [0, 1] (got {background})")
        self.width = int(width)
        self.height = int(height)
        self.seed = int(seed)
        self._background = static_background(self.width, self.height, background, np.random.default_rng(seed))

    def capsules(self, t_us: int) -> np.ndarray:
        """``(K, 6)`` rows ``(ax, ay, bx, by, radius, intensity)`` to draw at ``t_us`` µs."""
        raise NotImplementedError

    def render(self, t_us: int) -> np.ndarray:
        """The ``(H, W)`` float32 image at ``t_us`` µs."""
        image = self._background.copy()
        _kernels.draw_capsules(image, np.ascontiguousarray(self.capsules(t_us), dtype=np.float64))
        return image


class ShapesScene(Scene):
    """Discs and bars moving at constant speed, bouncing off the sensor's borders.

    Args:
        width, height: sensor size in pixels.
        n_shapes: number of shapes.
        speed: mean speed in pixels/s.
        contrast: log-intensity ratio between a shape and the background
            (shapes are brighter or darker by ``exp(contrast)``).
        background: background intensity in [0, 1].
        seed: seed of positions, sizes, velocities and texture.
    """

    def __init__(self, width: int = 128, height: int = 128, n_shapes: int = 4, speed: float = 60.0,
                 contrast: float = 1.0, background: float = 0.3, seed: int = 0) -> None:
        super().__init__(width, height, background, seed)
        rng = np.random.default_rng(seed + 1)
        self._pos = rng.uniform([0, 0], [width, height], (n_shapes, 2))
        angle = rng.uniform(0, 2 * math.pi, n_shapes)
        v = speed * rng.uniform(0.5, 1.5, n_shapes)
        self._vel = np.stack([v * np.cos(angle), v * np.sin(angle)], axis=1)
        self._radius = rng.uniform(3, 8, n_shapes) * min(width, height) / 128
        self._bar = rng.uniform(0, 1, n_shapes) < 0.5
        self._spin = rng.uniform(-3, 3, n_shapes)
        brighter = rng.uniform(0, 1, n_shapes) < 0.5
        self._value = np.clip(background * np.exp(np.where(brighter, contrast, -contrast)), 0.0, 1.0)

    def capsules(self, t_us: int) -> np.ndarray:
        t = t_us * 1e-6
        size = np.array([self.width, self.height], dtype=np.float64)
        # Bouncing is reflection: fold the free path into [0, size] with a triangle wave.
        free = np.mod(self._pos + self._vel * t, 2 * size)
        pos = np.where(free > size, 2 * size - free, free)
        half = np.where(self._bar, 2.0 * self._radius, 0.0)
        ang = self._spin * t
        dx, dy = half * np.cos(ang), half * np.sin(ang)
        radius = np.where(self._bar, self._radius / 2.5, self._radius)
        return np.stack([pos[:, 0] - dx, pos[:, 1] - dy, pos[:, 0] + dx, pos[:, 1] + dy, radius, self._value], axis=1)


class GestureScene(Scene):
    """A person (head, torso, two arms) performing a schedule of DVS Gesture motions.

    Args:
        schedule: the gesture segments (see :func:`evstream.cameras.gestures.make_schedule`);
            between segments the person rests, arms hanging.
        width, height: sensor size in pixels.
        contrast: log-intensity ratio between the arms and the background (the
            head and torso get 0.7 of it, so arms show against the body).
        background: background intensity in [0, 1].
        seed: seed of the background texture.
    """

    def __init__(self, schedule: list[GestureSegment], width: int = 128, height: int = 128,
                 contrast: float = 1.0, background: float = 0.25, seed: int = 0) -> None:
        super().__init__(width, height, background, seed)
        self.schedule = list(schedule)
        self._starts = [s.start_us for s in self.schedule]
        self.body = self.schedule[0].body if self.schedule else Body(width / 2, height * 0.41, min(width, height) / 128)
        # Arms a little brighter than the body, so an arm crossing the torso still shows.
        self._body_value = float(min(background * math.exp(0.7 * contrast), 1.0))
        self._arm_value = float(min(background * math.exp(contrast), 1.0))

    @classmethod
    def random(cls, n_segments: int, seed: int = 0, width: int = 128, height: int = 128,
               labels: list[int] | None = None, **kwargs: float) -> GestureScene:
        """A scene of ``n_segments`` random gestures (or ``labels`` in order) drawn from ``seed``."""
        return cls(make_schedule(n_segments, seed, labels, width, height), width, height, seed=seed, **kwargs)

    @property
    def duration_us(self) -> int:
        """End of the last gesture plus a short rest, µs."""
        return self.schedule[-1].end_us + 300_000 if self.schedule else 0

    def segment_at(self, t_us: int) -> GestureSegment | None:
        """The gesture performed at ``t_us`` µs, or ``None`` during a rest."""
        i = bisect.bisect_right(self._starts, t_us) - 1
        if i >= 0 and t_us < self.schedule[i].end_us:
            return self.schedule[i]
        return None

    def capsules(self, t_us: int) -> np.ndarray:
        b = self.body
        seg = self.segment_at(t_us)
        hands = hand_targets(seg, t_us) if seg is not None else (b.rest_hand(-1), b.rest_hand(+1))
        s, v, va = b.scale, self._body_value, self._arm_value
        rows = [
            (b.cx, b.shoulder_y - 24 * s, b.cx, b.shoulder_y - 20 * s, 8.5 * s, v),     # head
            (b.cx, b.shoulder_y + 4 * s, b.cx, b.shoulder_y + 42 * s, 12.0 * s, v),     # torso
            (b.cx - 13 * s, b.shoulder_y, b.cx + 13 * s, b.shoulder_y, 4.0 * s, v),     # shoulders
        ]
        for side, hand in ((-1, hands[0]), (+1, hands[1])):
            sh, el, ha = arm_pose(b, side, hand)
            rows += [(sh.real, sh.imag, el.real, el.imag, 3.5 * s, va), (el.real, el.imag, ha.real, ha.imag, 3.0 * s, va),
                     (ha.real, ha.imag, ha.real, ha.imag, 4.5 * s, va)]
        return np.array(rows, dtype=np.float64)
