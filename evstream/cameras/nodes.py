"""Camera source nodes: ``cameras.live``, ``cameras.emulator`` and ``cameras.synthetic``.

All three emit :class:`EventPacket` s that cover time without gaps, empty ones
included, and count what the link dropped in their stats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from evstream.cameras.backends import CameraSettings
from evstream.cameras.contrast import DvsParams
from evstream.cameras.emulator import CameraEmulator
from evstream.cameras.gestures import GESTURES, make_schedule
from evstream.cameras.live import LiveCamera
from evstream.cameras.recording import open_recording
from evstream.cameras.scene import GestureScene, Scene, ShapesScene
from evstream.cameras.synthetic import SyntheticCamera
from evstream.events import EventPacket
from evstream.graph.node import Param, ParamError, Source
from evstream.graph.registry import register

__all__ = ["EmulatorSource", "LiveCameraSource", "SyntheticSource", "build_scene"]

_LINK_PARAMS: dict[str, Param] = {
    "packet_us": Param(int, 1000, doc="delivered packet length, µs (the camera's packet cadence)"),
    "speed": Param(float, 1.0, doc="stream seconds per wall-clock second; 0 = as fast as possible"),
    "rate_limit_ev_s": Param(float, 0.0, doc="event-rate limit, events/s (0 = none); excess evenly thinned"),
    "drop_probability": Param(float, 0.0, doc="chance a packet is lost in transit (delivered empty, counted)"),
    "jitter_us": Param(int, 0, doc="random delivery delay per packet, µs (timestamps unchanged)"),
    "seed": Param(int, 0, doc="seed of drops, jitter and (synthetic) the scene and pixels"),
}


class _EmulatedSource(Source):
    """Shared body of the emulated cameras: a packet stream fed through :class:`CameraEmulator`."""

    output_kind = "events"
    loop = False

    def open_stream(self) -> Iterable[EventPacket]:
        raise NotImplementedError

    def start(self) -> None:
        if self.packet_us <= 0:
            raise ParamError(f"node {self.name!r}: parameter 'packet_us' must be positive (got {self.packet_us})")
        try:
            self.emulator = CameraEmulator(self.open_stream, self.packet_us, self.speed, self.loop,
                                           self.rate_limit_ev_s, self.drop_probability, self.jitter_us,
                                           self.seed, self.stopping)
        except ValueError as exc:
            raise ParamError(f"node {self.name!r}: {exc}") from exc

    def generate(self) -> Iterator[EventPacket]:
        if not hasattr(self, "emulator"):
            self.start()
        yield from self.emulator.packets()

    def stats_extra(self) -> dict[str, Any]:
        return self.emulator.stats.as_dict() if hasattr(self, "emulator") else {}


@register
class EmulatorSource(_EmulatedSource):
    """A recording played as a live camera: paced, optionally looping, rate-limited and lossy."""

    type_name = "cameras.emulator"
    params = {
        "path": Param(str, doc="recording to play (any format evstream.io reads)"),
        "loop": Param(bool, False, doc="replay forever, timestamps continuing upwards"),
        **_LINK_PARAMS,
    }

    def start(self) -> None:
        self.recording = open_recording(self.path)
        super().start()

    def open_stream(self) -> Iterable[EventPacket]:
        return self.recording.packets()


def build_scene(kind: str, width: int, height: int, seed: int, contrast: float, gestures: int,
                labels: list[int] | None = None, gesture_s: tuple[float, float] = (1.5, 2.5),
                speed_px_s: float = 60.0, shapes: int = 4) -> Scene:
    """The scene of a synthetic camera: ``"gestures"`` (``gestures`` segments lasting
    ``gesture_s`` = (min, max) seconds) or ``"shapes"``."""
    if kind == "gestures":
        if len(gesture_s) != 2 or not 0.3 <= gesture_s[0] <= gesture_s[1]:
            raise ValueError(f"gesture_s must be [min, max] seconds with 0.3 <= min <= max (got {list(gesture_s)})")
        schedule = make_schedule(gestures, seed, labels, width, height, min_s=gesture_s[0], max_s=gesture_s[1])
        return GestureScene(schedule, width, height, contrast=contrast, seed=seed)
    return ShapesScene(width, height, shapes, speed_px_s, contrast, seed=seed)


@register
class SyntheticSource(_EmulatedSource):
    """A synthetic DVS: moving shapes, or a person performing the 11 DVS Gesture motions.

    After :meth:`start`, ``world`` is the scene (a :class:`GestureScene` has the
    ground-truth ``schedule`` of gesture segments).
    """

    type_name = "cameras.synthetic"
    params = {
        "scene": Param(str, "gestures", doc="what the camera sees", choices=("gestures", "shapes")),
        "width": Param(int, 128, doc="sensor width, pixels"),
        "height": Param(int, 128, doc="sensor height, pixels"),
        "gestures": Param(int, 1000, doc="number of gesture performances (gestures scene)"),
        "labels": Param(list, [], doc=f"class indices 0..{len(GESTURES) - 1} to perform in order (default random)"),
        "gesture_s": Param(list, [1.5, 2.5], doc="[min, max] duration of one gesture performance, s"),
        "duration_s": Param(float, 0.0, doc="stream length, s (0 = until the scene ends; shapes: endless)"),
        "contrast": Param(float, 1.0, doc="log-intensity contrast between moving objects and background"),
        "threshold": Param(float, 0.2, doc="mean contrast threshold, log units"),
        "threshold_sigma": Param(float, 0.03, doc="per-pixel threshold mismatch (std), log units"),
        "refractory_us": Param(int, 100, doc="pixel dead time after an event, µs"),
        "noise_hz": Param(float, 0.1, doc="background-activity rate per pixel, events/s"),
        "frame_us": Param(int, 1000, doc="scene rendering period, µs"),
        **_LINK_PARAMS,
    }

    def start(self) -> None:
        try:
            self.dvs = DvsParams(self.threshold, self.threshold_sigma, self.refractory_us, self.noise_hz)
            self.world = build_scene(self.scene, self.width, self.height, self.seed, self.contrast,
                                     self.gestures, self.labels or None, tuple(self.gesture_s))
        except ValueError as exc:
            raise ParamError(f"node {self.name!r}: {exc}") from exc
        if self.packet_us % self.frame_us:
            raise ParamError(f"node {self.name!r}: packet_us ({self.packet_us}) must be a multiple of "
                             f"frame_us ({self.frame_us})")
        super().start()

    @property
    def duration_us(self) -> int | None:
        """Stream length in µs, or ``None`` when endless."""
        if self.duration_s > 0:
            return int(self.duration_s * 1e6)
        return self.world.duration_us if isinstance(self.world, GestureScene) else None

    def open_stream(self) -> Iterable[EventPacket]:
        camera = SyntheticCamera(self.world, self.dvs, self.frame_us, self.seed)
        return camera.packets(self.packet_us, self.duration_us)

    def progress(self) -> tuple[float, float] | None:
        total = self.duration_us
        if total is None or not hasattr(self, "emulator") or not self.emulator.timing:
            return None
        return (self.emulator.timing[-1].t_end_us, total)


@register
class LiveCameraSource(Source):
    """A connected event camera (neuromorphic-drivers, dv-processing or Metavision)."""

    type_name = "cameras.live"
    output_kind = "events"
    params = {
        "backend": Param(str, "auto", doc="camera backend",
                         choices=("auto", "neuromorphic-drivers", "dv-processing", "metavision")),
        "serial": Param(str, "", doc="camera serial number (empty = first found)"),
        "biases": Param(dict, {}, doc="bias name -> value, backend's names and units"),
        "roi": Param(list, [], doc="region of interest [x, y, width, height] pixels (software crop)"),
        "rate_limit_ev_s": Param(float, 0.0, doc="sensor event-rate limit, events/s, where supported (0 = none)"),
        "poll_s": Param(float, 0.02, doc="wait for data before checking for stop, s"),
    }

    def start(self) -> None:
        if self.roi and len(self.roi) != 4:
            raise ParamError(f"node {self.name!r}: roi must be [x, y, width, height] (got {self.roi})")
        settings = CameraSettings(dict(self.biases), tuple(self.roi) if self.roi else None, self.rate_limit_ev_s)
        self.camera = LiveCamera(self.backend, self.serial, settings, self.poll_s, self.stopping)
        self.camera.open()

    def generate(self) -> Iterator[EventPacket]:
        if not hasattr(self, "camera"):
            self.start()
        yield from self.camera.packets()

    def close(self) -> None:
        if hasattr(self, "camera"):
            self.camera.close()

    def stats_extra(self) -> dict[str, Any]:
        if not hasattr(self, "camera"):
            return {}
        return {"backend": self.camera.backend.name, "serial": self.camera.device.serial,
                **self.camera.stats.as_dict()}
