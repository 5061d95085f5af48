"""Fakes of the camera driver modules (neuromorphic_drivers, dv_processing), shaped like their APIs."""

from __future__ import annotations

import dataclasses
import enum
import importlib.machinery
import types

import numpy as np

ND_EVENT = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])


def _module(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return mod


class Name(enum.Enum):
    PROPHESEE_EVK4 = "Prophesee EVK4"
    INIVATION_DAVIS346 = "iniVation DAVIS 346"


@dataclasses.dataclass
class Biases:
    pr: int = 0
    diff_on: int = 0


@dataclasses.dataclass
class RateLimiter:
    reference_period_us: int
    maximum_events_per_period: int


@dataclasses.dataclass
class Configuration:
    biases: Biases = dataclasses.field(default_factory=Biases)
    rate_limiter: RateLimiter | None = None


class FakeNdDevice:
    """Iterates over scripted ``(status, packet)`` pairs like ``nd.open(...)``."""

    def __init__(self, script: list, width: int, height: int) -> None:
        self.script, self.props = script, types.SimpleNamespace(width=width, height=height)
        self.closed = False

    def __enter__(self) -> FakeNdDevice:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.closed = True
        return False

    def __iter__(self):
        return iter(self.script)

    def properties(self):
        return self.props


def nd_events(t: list[int], x: list[int], y: list[int], on: list[bool]) -> np.ndarray:
    a = np.zeros(len(t), ND_EVENT)
    a["t"], a["x"], a["y"], a["on"] = t, x, y, on
    return a


def nd_step(events: np.ndarray | None, host_s: float, dropped: int = 0, current_t: int | None = None) -> tuple:
    """One ``(status, packet)`` item; ``events=None`` with no ring is a poll timeout."""
    ring = types.SimpleNamespace(system_time=host_s, dropped_packets=dropped, current_t=current_t)
    packet = None if events is None else types.SimpleNamespace(polarity_events=events)
    return types.SimpleNamespace(system_time=host_s, ring=ring), packet


def fake_neuromorphic_drivers(devices: list[tuple[Name, str, str | None]], script: list | None = None) -> types.ModuleType:
    """A ``neuromorphic_drivers`` module listing ``devices`` (name, serial, error) and opening onto ``script``."""
    nd = _module("neuromorphic_drivers")
    nd.Name = Name
    nd.opened = []
    nd.list_devices = lambda: [types.SimpleNamespace(name=n, serial=s, error=e) for n, s, e in devices]
    sizes = {Name.PROPHESEE_EVK4: (1280, 720), Name.INIVATION_DAVIS346: (346, 260)}
    nd.name_to_properties = lambda name: types.SimpleNamespace(width=sizes[name][0], height=sizes[name][1])
    nd.prophesee_evk4 = types.SimpleNamespace(Configuration=Configuration, RateLimiter=RateLimiter)

    def open_(configuration=None, iterator_timeout=None, raw=False, serial=None, **kwargs):
        name = next(n for n, s, _ in devices if serial in (None, s))
        device = FakeNdDevice(list(script or []), *sizes[name])
        nd.opened.append((configuration, iterator_timeout, serial, device))
        return device

    nd.open = open_
    return nd


def fake_nd_without_usb() -> types.ModuleType:
    """``list_devices`` failing like the real driver where USB is unavailable (containers)."""
    nd = fake_neuromorphic_drivers([])

    def fail():
        raise RuntimeError("Other error")

    nd.list_devices = fail
    return nd


class FakeDvCamera:
    def __init__(self, batches: list) -> None:
        self.batches = list(batches)

    def getEventResolution(self):  # noqa: N802 - dv-processing's name
        return (640, 480)

    def isRunning(self) -> bool:  # noqa: N802
        return bool(self.batches)

    def getNextEventBatch(self):  # noqa: N802
        return self.batches.pop(0)


def fake_dv_processing(serials: list[str], batches: list | None = None) -> types.ModuleType:
    """A ``dv_processing`` module whose ``io.camera.discover()`` lists DVXplorers with ``serials``."""
    dv = _module("dv_processing")
    descriptors = [types.SimpleNamespace(cameraModel="DVXplorer", serialNumber=s) for s in serials]
    camera = types.SimpleNamespace(discover=lambda: descriptors, open=lambda serial: FakeDvCamera(batches or []))
    dv.io = types.SimpleNamespace(camera=camera)
    return dv


def dv_batch(t: list[int], x: list[int], y: list[int], p: list[bool]):
    a = np.zeros(len(t), [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "u1")])
    a["timestamp"], a["x"], a["y"], a["polarity"] = t, x, y, p
    return types.SimpleNamespace(numpy=lambda: a)


def fake_metavision(serials: list[str], buffers: list[np.ndarray] | None = None) -> dict[str, types.ModuleType]:
    """``metavision_core.event_io`` (``EventsIterator``) and ``metavision_hal`` (``DeviceDiscovery``) fakes."""
    core, event_io, hal = _module("metavision_core"), _module("metavision_core.event_io"), _module("metavision_hal")
    core.event_io = event_io

    class EventsIterator:
        opened: list = []

        def __init__(self, input_path: str, delta_t: int) -> None:
            EventsIterator.opened.append((input_path, delta_t))

        def get_size(self) -> tuple[int, int]:
            return (720, 1280)

        def __iter__(self):
            return iter(buffers or [])

    event_io.EventsIterator = EventsIterator
    hal.DeviceDiscovery = types.SimpleNamespace(list=lambda: list(serials))
    return {"metavision_core": core, "metavision_core.event_io": event_io, "metavision_hal": hal}


def mv_events(t: list[int], x: list[int], y: list[int], p: list[int]) -> np.ndarray:
    a = np.zeros(len(t), [("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
    a["t"], a["x"], a["y"], a["p"] = t, x, y, p
    return a
