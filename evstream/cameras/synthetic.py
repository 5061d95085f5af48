"""A synthetic event camera: a scene rendered at a fixed frame rate through the DVS pixel model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from evstream.cameras.contrast import DvsParams, DvsPixelModel
from evstream.cameras.gestures import GESTURES, make_schedule
from evstream.cameras.scene import GestureScene, Scene
from evstream.events import EventPacket, concat_events, empty_events

__all__ = ["SyntheticCamera", "gesture_samples"]


class SyntheticCamera:
    """Events of ``scene`` as a DVS would see it, packet by packet.

    The scene is rendered every ``frame_us`` µs and each pair of frames goes
    through :class:`DvsPixelModel`, so timestamps have µs resolution inside a
    frame interval. The output depends only on the scene, ``params``,
    ``frame_us`` and ``seed``, not on how the time is cut into packets.

    Args:
        scene: what the camera looks at.
        params: pixel model parameters.
        frame_us: rendering period in µs (1000 = 1 kHz; motion of at most ~1
            pixel per frame keeps edges continuous).
        seed: seed of the pixel mismatch and the noise.
    """

    def __init__(self, scene: Scene, params: DvsParams | None = None, frame_us: int = 1000, seed: int = 0) -> None:
        if frame_us <= 0:
            raise ValueError(f"frame_us must be a positive number of µs (got {frame_us})")
        self.scene = scene
        self.width, self.height = scene.width, scene.height
        self.frame_us = int(frame_us)
        self.model = DvsPixelModel(self.width, self.height, params, seed)
        self.model.step(scene.render(0), 0)

    @property
    def t(self) -> int:
        """Time up to which events have been produced, µs."""
        return int(self.model.t)

    def advance(self, t_end: int) -> np.ndarray:
        """Events from :attr:`t` up to the last frame time ``<= t_end`` µs (time-sorted)."""
        chunks = []
        t = self.t + self.frame_us
        while t <= t_end:
            chunks.append(self.model.step(self.scene.render(t), t))
            t += self.frame_us
        return concat_events(chunks) if chunks else empty_events()

    def packets(self, packet_us: int, duration_us: int | None = None, seq: int = 0) -> Iterator[EventPacket]:
        """Consecutive packets of ``packet_us`` µs (a multiple of ``frame_us``), empty ones included.

        Stops once ``duration_us`` µs (rounded up to a whole frame) are covered
        (``None``: never).
        """
        if packet_us <= 0 or packet_us % self.frame_us:
            raise ValueError(f"packet_us ({packet_us}) must be a positive multiple of frame_us ({self.frame_us})")
        if duration_us is not None:
            duration_us = -(-duration_us // self.frame_us) * self.frame_us
        while duration_us is None or self.t < duration_us:
            t0 = self.t
            t1 = t0 + packet_us if duration_us is None else min(t0 + packet_us, duration_us)
            events = self.advance(t1)
            yield EventPacket(events, self.width, self.height, t0, self.t, seq)
            seq += 1

    def record(self, duration_us: int) -> np.ndarray:
        """All events of ``[0, duration_us)`` in one array."""
        return concat_events([p.events for p in self.packets(100 * self.frame_us, duration_us)])


def gesture_samples(n_per_class: int, seed: int = 0, width: int = 128, height: int = 128,
                    duration_s: tuple[float, float] = (1.5, 2.5), params: DvsParams | None = None,
                    classes: tuple[int, ...] | None = None) -> Iterator[tuple[np.ndarray, int]]:
    """Labelled training samples: ``(events, label)`` with one gesture performance each.

    Sample ``i`` is drawn from seed ``(seed, i)`` (its own body, speed, amplitude,
    pixel mismatch and noise), so a set is reproducible and two seeds give
    disjoint sets. Events cover the performance only, with ``t`` from 0 µs.
    Classes cycle through ``classes`` (default all 11).

    Args:
        n_per_class: samples per class.
        seed: base seed.
        width, height: sensor size in pixels.
        duration_s: (min, max) length of a performance, seconds.
        params: pixel model parameters.
        classes: class indices to generate (0..10).
    """
    labels = classes if classes is not None else tuple(range(len(GESTURES)))
    for i in range(n_per_class * len(labels)):
        label = labels[i % len(labels)]
        sample_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        schedule = make_schedule(1, sample_seed, [label], width, height, duration_s[0], duration_s[1], gap_s=0.0)
        seg = schedule[0]
        scene = GestureScene(schedule, width, height, seed=sample_seed)
        camera = SyntheticCamera(scene, params, seed=sample_seed)
        events = camera.record(seg.end_us)
        events = events[events["t"] >= seg.start_us]
        events["t"] -= seg.start_us
        yield events, label
