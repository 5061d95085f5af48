"""Live camera backends behind one interface, and the logic that picks one.

Three backends, each imported only when used:

* ``neuromorphic-drivers`` (Prophesee EVK4 / EVK3 HD, iniVation DVXplorer /
  DAVIS346, without a vendor SDK),
* ``dv-processing`` (iniVation cameras),
* ``metavision`` (Prophesee cameras through the Metavision SDK / OpenEB).

A backend lists devices (:meth:`Backend.list_devices`) and opens one
(:meth:`Backend.open`) as a :class:`CameraStream` yielding
:class:`CameraChunk` s: device-time events in :data:`EVENT_DTYPE`, the host
time they were received and the packets the driver lost. :func:`select_camera`
picks the backend and device (tested with fakes of the driver modules).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evstream.errors import MissingDependency, UserError
from evstream.events import EVENT_DTYPE

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendMissing",
    "BackendReport",
    "CameraChunk",
    "CameraSettings",
    "CameraStream",
    "DeviceInfo",
    "NoDeviceError",
    "backend_named",
    "enumerate_backends",
    "select_camera",
]


class NoDeviceError(UserError):
    """No camera is connected (or none matches the requested serial)."""


class BackendMissing(MissingDependency):
    """A camera backend's driver package is not installed; the message says how to install it."""

    def __init__(self, backend: Backend) -> None:
        UserError.__init__(self, f"the {backend.name} camera backend needs {backend.package}: {backend.hint}")
        self.package = backend.package
        self.extra = "cameras"


@dataclass(frozen=True)
class DeviceInfo:
    """One connected camera as a backend sees it (``width``/``height`` in pixels when known)."""

    backend: str
    name: str
    serial: str
    width: int | None = None
    height: int | None = None
    error: str | None = None
    model: str = ""
    """Backend-specific model key (neuromorphic-drivers: its device module, ``prophesee_evk4``)."""


@dataclass(frozen=True)
class CameraSettings:
    """Settings applied when a camera opens.

    Args:
        biases: bias name -> value, in the backend's own names and units
            (neuromorphic-drivers: the device's ``Biases`` fields).
        roi: ``(x, y, width, height)`` pixels; events outside are discarded in
            software (the sensor geometry is unchanged).
        rate_limit_ev_s: event-rate limit in events/s applied by the sensor
            where the backend supports it (0 = none).
    """

    biases: dict[str, int] = field(default_factory=dict)
    roi: tuple[int, int, int, int] | None = None
    rate_limit_ev_s: float = 0.0


@dataclass
class CameraChunk:
    """Events read from a camera in one go.

    ``events`` carry device time (µs), ``host_s`` is when the host received
    them (UNIX seconds), ``device_t`` the device clock in µs when the backend
    reports it (lets an empty chunk say how far time went), and
    ``dropped_packets`` the packets the driver lost since the previous chunk.
    """

    events: np.ndarray
    host_s: float
    dropped_packets: int = 0
    device_t: int | None = None


class CameraStream:
    """An open camera: ``width``/``height`` pixels, ``chunks()`` until closed."""

    width: int
    height: int

    def chunks(self) -> Iterator[CameraChunk | None]:
        """Chunks as they arrive; ``None`` when nothing arrived within the poll timeout."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _events_from(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = np.empty(len(t), EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = t, x, y, p
    return out


class Backend:
    """One way of talking to cameras; subclasses fill in the class attributes and methods.

    ``module`` is the Python module imported, ``package`` the pip distribution,
    ``hint`` how to install it.
    """

    name: str = ""
    module: str = ""
    package: str = ""
    hint: str = ""
    cameras: str = ""

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module.split(".")[0]) is not None

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None

    def load(self) -> Any:
        """The driver module, or :class:`MissingDependency` with the install hint."""
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise BackendMissing(self) from exc

    def list_devices(self) -> list[DeviceInfo]:
        raise NotImplementedError

    def open(self, device: DeviceInfo, settings: CameraSettings, poll_s: float) -> CameraStream:
        raise NotImplementedError


# -- neuromorphic-drivers --------------------------------------------------------------


class _NdStream(CameraStream):
    def __init__(self, device: Any, width: int, height: int) -> None:
        self._device, self.width, self.height = device, width, height

    def chunks(self) -> Iterator[CameraChunk | None]:
        seen_drops = 0
        for status, packet in self._device:
            ev = getattr(packet, "polarity_events", None) if packet is not None else None
            ring = getattr(status, "ring", None)
            if ring is None and ev is None:
                yield None
                continue
            # The ring reports a running total of packets it dropped; count the increase.
            drops = int(getattr(ring, "dropped_packets", seen_drops))
            new_drops, seen_drops = max(drops - seen_drops, 0), max(drops, seen_drops)
            events = _events_from(ev["t"], ev["x"], ev["y"], ev["on"]) if ev is not None else np.empty(0, EVENT_DTYPE)
            current = getattr(ring, "current_t", None)
            yield CameraChunk(events, float(getattr(ring, "system_time", status.system_time)), new_drops,
                              None if current is None else int(current))

    def close(self) -> None:
        self._device.__exit__(None, None, None)


class NeuromorphicDriversBackend(Backend):
    name = "neuromorphic-drivers"
    module = "neuromorphic_drivers"
    package = "neuromorphic-drivers"
    hint = "pip install 'evstream[cameras]' (then run neuromorphic-drivers-install-udev-rules once on Linux)"
    cameras = "Prophesee EVK4/EVK3 HD, iniVation DVXplorer/DAVIS346 (no vendor SDK)"

    def list_devices(self) -> list[DeviceInfo]:
        nd = self.load()
        try:
            listed = nd.list_devices()
        except RuntimeError as exc:  # no USB stack (containers): the driver says "Other error"
            raise NoDeviceError(f"no device (USB unavailable: {exc})") from exc
        out = []
        for d in listed:
            props = nd.name_to_properties(d.name)
            out.append(DeviceInfo(self.name, d.name.value, d.serial or "", props.width, props.height, d.error,
                                  model=d.name.name.lower()))
        return out

    def _configuration(self, nd: Any, device: DeviceInfo, settings: CameraSettings) -> Any:
        module = getattr(nd, device.model, None)
        if module is None:
            return None
        config = module.Configuration()
        if settings.biases:
            known = {f.name for f in dataclasses.fields(config.biases)}
            unknown = sorted(set(settings.biases) - known)
            if unknown:
                raise UserError(f"{device.name}: unknown bias {', '.join(unknown)} (known: {', '.join(sorted(known))})")
            config = dataclasses.replace(config, biases=dataclasses.replace(config.biases, **settings.biases))
        if settings.rate_limit_ev_s and hasattr(module, "RateLimiter"):
            period_us = 1000
            config = dataclasses.replace(config, rate_limiter=module.RateLimiter(
                reference_period_us=period_us, maximum_events_per_period=int(settings.rate_limit_ev_s * period_us * 1e-6)))
        return config

    def open(self, device: DeviceInfo, settings: CameraSettings, poll_s: float) -> CameraStream:
        nd = self.load()
        handle = nd.open(configuration=self._configuration(nd, device, settings), iterator_timeout=poll_s,
                         serial=device.serial or None)
        handle.__enter__()
        props = handle.properties()
        return _NdStream(handle, int(props.width), int(props.height))


# -- dv-processing ----------------------------------------------------------------------


class _DvStream(CameraStream):
    def __init__(self, camera: Any) -> None:
        self._camera = camera
        self.width, self.height = (int(v) for v in camera.getEventResolution())

    def chunks(self) -> Iterator[CameraChunk | None]:
        while self._camera.isRunning():
            batch = self._camera.getNextEventBatch()
            if batch is None:  # the call does not block: wait a little instead of spinning
                time.sleep(0.001)
                yield None
                continue
            a = batch.numpy()
            yield CameraChunk(_events_from(a["timestamp"], a["x"], a["y"], a["polarity"]), time.time())

    def close(self) -> None:
        self._camera = None


class DvProcessingBackend(Backend):
    name = "dv-processing"
    module = "dv_processing"
    package = "dv-processing"
    hint = "pip install 'evstream[cameras]'"
    cameras = "iniVation DVXplorer, DAVIS, DVS128"

    def list_devices(self) -> list[DeviceInfo]:
        dv = self.load()
        return [DeviceInfo(self.name, str(d.cameraModel), str(d.serialNumber)) for d in dv.io.camera.discover()]

    def open(self, device: DeviceInfo, settings: CameraSettings, poll_s: float) -> CameraStream:
        dv = self.load()
        if settings.biases:
            raise UserError(f"{self.name}: bias settings are not supported by this backend; "
                            "use backend = 'neuromorphic-drivers' or set them in DV")
        return _DvStream(dv.io.camera.open(device.serial))


# -- Metavision SDK / OpenEB -------------------------------------------------------------


class _MetavisionStream(CameraStream):
    def __init__(self, iterator: Any) -> None:
        self._it = iterator
        self.height, self.width = (int(v) for v in iterator.get_size())

    def chunks(self) -> Iterator[CameraChunk | None]:
        for evs in self._it:
            yield CameraChunk(_events_from(evs["t"], evs["x"], evs["y"], evs["p"]), time.time())

    def close(self) -> None:
        self._it = None


class MetavisionBackend(Backend):
    name = "metavision"
    module = "metavision_core.event_io"
    package = "metavision-sdk-python"
    hint = ("install the Metavision SDK or build OpenEB with its Python bindings (metavision_core, "
            "metavision_hal); for Prophesee cameras without the SDK use neuromorphic-drivers")
    cameras = "Prophesee cameras"

    def list_devices(self) -> list[DeviceInfo]:
        self.load()
        try:
            hal = importlib.import_module("metavision_hal")
        except ImportError as exc:
            raise BackendMissing(self) from exc
        return [DeviceInfo(self.name, "Prophesee camera", str(s)) for s in hal.DeviceDiscovery.list()]

    def open(self, device: DeviceInfo, settings: CameraSettings, poll_s: float) -> CameraStream:
        event_io = self.load()
        return _MetavisionStream(event_io.EventsIterator(input_path=device.serial, delta_t=int(poll_s * 1e6)))


BACKENDS: tuple[Backend, ...] = (NeuromorphicDriversBackend(), DvProcessingBackend(), MetavisionBackend())
"""Backends in the order ``auto`` tries them."""


def backend_named(name: str, backends: tuple[Backend, ...] = BACKENDS) -> Backend:
    """The backend called ``name``, or a :class:`UserError` listing the known ones."""
    for b in backends:
        if b.name == name:
            return b
    raise UserError(f"unknown camera backend {name!r}: choose auto or one of {', '.join(b.name for b in backends)}")


@dataclass
class BackendReport:
    """What ``evstream cameras`` says about one backend."""

    backend: str
    installed: bool
    version: str | None
    cameras: str
    devices: list[DeviceInfo] = field(default_factory=list)
    status: str = ""

    def line(self) -> str:
        head = f"{self.backend} {self.version}" if self.version else self.backend
        return f"{head}: {self.status}"


def enumerate_backends(backends: tuple[Backend, ...] = BACKENDS) -> list[BackendReport]:
    """One report per backend: not installed (with the hint), no device, or its devices."""
    reports = []
    for b in backends:
        report = BackendReport(b.name, b.installed(), b.version(), b.cameras)
        if not report.installed:
            report.status = f"not installed ({b.cameras}): {b.hint}"
        else:
            try:
                report.devices = b.list_devices()
                report.status = (", ".join(f"{d.name} serial {d.serial or '?'}" + (f" ({d.error})" if d.error else "")
                                           for d in report.devices) or "no device")
            except NoDeviceError as exc:
                report.status = str(exc)
            except UserError as exc:
                report.status = f"unusable: {exc}"
        reports.append(report)
    return reports


def select_camera(backend: str = "auto", serial: str = "",
                  backends: tuple[Backend, ...] = BACKENDS) -> tuple[Backend, DeviceInfo]:
    """Pick the backend and device to open.

    ``backend`` names one backend or ``"auto"`` (the first installed backend,
    in :data:`BACKENDS` order, that sees a device, matching ``serial`` when
    given). A named backend that is missing raises :class:`MissingDependency`;
    no matching device raises :class:`NoDeviceError` naming what was tried.
    """
    candidates = backends if backend == "auto" else (backend_named(backend, backends),)
    installed = [b for b in candidates if b.installed()]
    if not installed:
        if backend != "auto":
            raise BackendMissing(candidates[0])
        raise UserError("no camera backend is installed: " + "; ".join(f"{b.name}: {b.hint}" for b in candidates))
    tried = []
    for b in installed:
        try:
            devices = b.list_devices()
        except NoDeviceError as exc:
            tried.append(f"{b.name}: {exc}")
            continue
        usable = [d for d in devices if d.error is None and (not serial or d.serial == serial)]
        if usable:
            return b, usable[0]
        what = f"no camera with serial {serial!r}" if serial else "no device"
        tried.append(f"{b.name}: {what}" + (f" (found {', '.join(d.serial or d.name for d in devices)})" if devices else ""))
    raise NoDeviceError("no camera found: " + "; ".join(tried) + "; `evstream cameras` lists what is connected, "
                        "`cameras.emulator` or `cameras.synthetic` stand in for one")
