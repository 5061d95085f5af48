"""Camera backends: the real drivers' imports and enumeration, and selection tested with fakes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from evstream.cameras.backends import (BACKENDS, Backend, BackendMissing, CameraSettings, NoDeviceError,
                                       backend_named, enumerate_backends, select_camera)
from evstream.cameras.live import LiveCamera
from evstream.cli.main import main
from evstream.errors import MissingDependency, UserError

from .fake_drivers import (Name, dv_batch, fake_dv_processing, fake_metavision, fake_nd_without_usb,
                           fake_neuromorphic_drivers, mv_events, nd_events, nd_step)


@pytest.fixture
def drivers(monkeypatch: pytest.MonkeyPatch):
    """Install fake driver modules: ``drivers(nd=..., dv=...)``; metavision stays missing."""

    def install(nd=None, dv=None) -> None:
        for name, mod in (("neuromorphic_drivers", nd), ("dv_processing", dv)):
            if mod is None:
                monkeypatch.setitem(sys.modules, name, None)  # import fails like a missing package
                monkeypatch.setattr(backend_named(name.replace("_", "-")), "installed", lambda: False)
            else:
                monkeypatch.setitem(sys.modules, name, mod)
    return install


def test_real_drivers_import_and_enumerate_cleanly() -> None:
    """The installed drivers (the dev extra has both) list devices or say "no device" in one line."""
    reports = {r.backend: r for r in enumerate_backends()}
    for name in ("neuromorphic-drivers", "dv-processing"):
        r = reports[name]
        assert r.installed and r.version, f"{name} must be installed in the test environment"
        assert r.devices or r.status.startswith("no device")
        assert "\n" not in r.line()
    meta = reports["metavision"]
    if not meta.installed:
        assert "OpenEB" in meta.status and "not installed" in meta.status


def test_cli_cameras_without_camera_exits_2_with_one_line_per_backend(capfd: pytest.CaptureFixture) -> None:
    reports = enumerate_backends()
    code = main(["cameras"])
    out, err = capfd.readouterr()
    assert code == (0 if any(r.devices for r in reports) else 2)
    lines = out.splitlines()
    assert len(lines) == len(BACKENDS)
    assert [ln.split(":")[0].split()[0] for ln in lines] == [b.name for b in BACKENDS]
    if code == 2:
        assert "no camera connected" in err and "Traceback" not in err


def test_cli_cameras_json_and_a_fake_camera(drivers, capsys: pytest.CaptureFixture) -> None:
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "00050421", None)]), dv=fake_dv_processing([]))
    assert main(["cameras", "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["cameras"] == 1
    nd = report["backends"][0]
    assert nd["devices"][0]["serial"] == "00050421" and nd["devices"][0]["width"] == 1280
    assert main(["cameras"]) == 0
    assert "neuromorphic-drivers" in capsys.readouterr().out.splitlines()[0]


def test_auto_prefers_neuromorphic_drivers_then_dv_processing(drivers) -> None:
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "A", None)]), dv=fake_dv_processing(["B"]))
    backend, device = select_camera()
    assert (backend.name, device.serial, device.model) == ("neuromorphic-drivers", "A", "prophesee_evk4")
    drivers(nd=fake_neuromorphic_drivers([]), dv=fake_dv_processing(["B"]))
    backend, device = select_camera()
    assert (backend.name, device.serial) == ("dv-processing", "B")


def test_auto_skips_a_backend_without_usb(drivers) -> None:
    drivers(nd=fake_nd_without_usb(), dv=fake_dv_processing(["B"]))
    assert select_camera()[0].name == "dv-processing"
    drivers(nd=fake_nd_without_usb(), dv=fake_dv_processing([]))
    with pytest.raises(NoDeviceError, match=r"neuromorphic-drivers: no device \(USB unavailable: Other error\); "
                                            r"dv-processing: no device"):
        select_camera()


def test_serial_selects_and_a_wrong_serial_lists_what_was_found(drivers) -> None:
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "A", None), (Name.INIVATION_DAVIS346, "B", None)]),
            dv=fake_dv_processing([]))
    assert select_camera(serial="B")[1].name == "iniVation DAVIS 346"
    with pytest.raises(NoDeviceError, match=r"no camera with serial 'C' \(found A, B\)"):
        select_camera(serial="C")


def test_a_device_with_an_error_is_not_opened(drivers) -> None:
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "A", "permission denied")]), dv=fake_dv_processing([]))
    with pytest.raises(NoDeviceError):
        select_camera()
    assert "permission denied" in enumerate_backends()[0].status


def test_named_missing_backend_gives_its_install_hint(drivers) -> None:
    drivers(nd=None, dv=fake_dv_processing([]))
    with pytest.raises(BackendMissing, match=r"neuromorphic-drivers camera backend needs neuromorphic-drivers: "
                                             r"pip install 'evstream\[cameras\]'") as info:
        select_camera("neuromorphic-drivers")
    assert isinstance(info.value, MissingDependency)
    with pytest.raises(BackendMissing, match="OpenEB"):
        select_camera("metavision")
    with pytest.raises(UserError, match="unknown camera backend 'flir'"):
        select_camera("flir")


def test_no_backend_installed_lists_every_hint() -> None:
    class Missing(Backend):
        name, module, package, hint = "nothing", "evstream_no_such_driver", "no-such-driver", "pip install it"

    with pytest.raises(UserError, match="no camera backend is installed: nothing: pip install it"):
        select_camera(backends=(Missing(),))
    assert enumerate_backends((Missing(),))[0].line() == "nothing: not installed (): pip install it"


def test_live_camera_over_fake_neuromorphic_drivers(drivers) -> None:
    script = [
        nd_step(None, 100.0, current_t=None),                                        # timeout before data
        nd_step(nd_events([10, 20, 30], [1, 700, 5], [2, 3, 600], [True, False, True]), 100.1),
        nd_step(None, 100.2, dropped=2, current_t=500),                               # still scene, clock moves
        nd_step(nd_events([510, 520], [9, 9], [9, 9], [False, True]), 100.3, dropped=3),
    ]
    nd = fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "A", None)], script)
    drivers(nd=nd, dv=fake_dv_processing([]))
    cam = LiveCamera(settings=CameraSettings(biases={"diff_on": 12}, roi=(0, 0, 100, 100), rate_limit_ev_s=2e6))
    packets = list(cam.packets())
    assert (cam.width, cam.height) == (1280, 720)
    assert [(p.t_start, p.t_end) for p in packets] == [(10, 31), (31, 500), (500, 521)]
    assert packets[0].events["x"].tolist() == [1] and packets[0].events["p"].tolist() == [1]  # ROI crop
    assert len(packets[1]) == 0
    assert cam.stats.dropped_packets == 3 and cam.stats.packets == 3
    assert [t.host_s for t in cam.timing] == [100.1, 100.2, 100.3]
    config, timeout, serial, device = nd.opened[0]
    assert config.biases.diff_on == 12 and config.rate_limiter.maximum_events_per_period == 2000
    assert serial == "A" and timeout == cam.poll_s
    cam.close()
    assert device.closed


def test_unknown_bias_is_a_user_error(drivers) -> None:
    drivers(nd=fake_neuromorphic_drivers([(Name.PROPHESEE_EVK4, "A", None)]), dv=fake_dv_processing([]))
    with pytest.raises(UserError, match="unknown bias bogus"):
        LiveCamera(settings=CameraSettings(biases={"bogus": 1})).open()


def test_live_camera_over_fake_dv_processing(drivers) -> None:
    batches = [None, dv_batch([5, 6], [1, 2], [3, 4], [1, 0]), dv_batch([9], [0], [0], [1])]
    drivers(nd=fake_neuromorphic_drivers([]), dv=fake_dv_processing(["DXA"], batches))
    cam = LiveCamera()
    packets = list(cam.packets())
    assert cam.backend.name == "dv-processing" and (cam.width, cam.height) == (640, 480)
    assert [(p.t_start, p.t_end, len(p)) for p in packets] == [(5, 7, 2), (7, 10, 1)]
    assert np.array_equal(packets[0].events["p"], [1, 0])


def test_metavision_backend_over_fake_sdk(drivers, monkeypatch: pytest.MonkeyPatch) -> None:
    drivers(nd=fake_nd_without_usb(), dv=fake_dv_processing([]))
    buffers = [mv_events([3, 4], [10, 11], [20, 21], [1, 0]), mv_events([], [], [], []), mv_events([9], [1], [2], [1])]
    modules = fake_metavision(["PSEE-1"], buffers)
    for name, mod in modules.items():
        monkeypatch.setitem(sys.modules, name, mod)
    backend, device = select_camera()
    assert (backend.name, device.serial) == ("metavision", "PSEE-1")
    cam = LiveCamera(poll_s=0.01)
    packets = list(cam.packets())
    assert (cam.width, cam.height) == (1280, 720)
    assert [(p.t_start, p.t_end, len(p)) for p in packets] == [(3, 5, 2), (5, 10, 1)]
    assert packets[0].events["p"].tolist() == [1, 0]
    assert modules["metavision_core.event_io"].EventsIterator.opened == [("PSEE-1", 10_000)]
