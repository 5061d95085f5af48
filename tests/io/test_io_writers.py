"""Writers: exact round trips in evstream and in the peer readers, streaming, and clear errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evstream.io as eio
from evstream.cli.main import main
from evstream.events import make_events
from tests.conftest import RECORDINGS

EVT3 = RECORDINGS / "evt3/gen41-expelliarmus-evt3_sample.raw"
AEDAT4 = RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4"
EXTENSIONS = (".aedat4", ".raw", ".evt2", ".h5", ".npy", ".npz", ".csv")


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, int, int]:
    """A real EVT 3 recording (1280x720) cut to its first 60000 events."""
    rec = eio.open(EVT3)
    return rec.read()[:60000], rec.width, rec.height


def _read_back(path: Path) -> eio.Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eio.GeometryWarning)
        return eio.open(path)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_round_trip_is_exact(tmp_path: Path, sample: tuple, ext: str) -> None:
    events, w, h = sample
    path = tmp_path / f"out{ext}"
    eio.write(path, events, width=w, height=h)
    rec = _read_back(path)
    back = rec.read()
    assert np.array_equal(back, events)
    if ext != ".npy":  # .npy stores no geometry
        assert (rec.width, rec.height) == (w, h)


def test_epoch_times_survive_raw_via_offset_key(tmp_path: Path) -> None:
    """AEDAT 4 times (Unix epoch µs) exceed EVT counters: the writer stores an offset that evstream adds back."""
    rec = eio.open(AEDAT4)
    events = rec.read()
    for fmt in ("evt2", "evt3"):
        path = tmp_path / f"{fmt}.raw"
        eio.write(path, events, width=rec.width, height=rec.height, format=fmt)
        back = eio.open(path)
        assert "evstream_t_offset_us" in back.metadata["header"]
        assert np.array_equal(back.read(), events)


def _sparse_long_events() -> np.ndarray:
    """Events over 40 s with gaps of several seconds: EVT 3 time-high wraps (2^24 µs) twice."""
    t = np.array([5, 70, 4_000_000, 16_777_000, 16_777_300, 17_000_000, 33_600_000, 40_000_000], np.int64)
    return make_events(t, np.arange(8) * 100, np.arange(8) * 50, np.arange(8) % 2)


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_raw_long_gaps_and_wraps(tmp_path: Path, fmt: str) -> None:
    events = _sparse_long_events()
    path = tmp_path / "long.raw"
    eio.write(path, events, width=1280, height=720, format=fmt)
    assert np.array_equal(eio.read(path), events)
    faery = pytest.importorskip("faery")
    back = np.concatenate(list(faery.events_stream_from_file(path)))
    assert np.array_equal(back["t"].astype(np.int64), events["t"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ext=st.sampled_from([".aedat4", ".raw", ".evt2", ".h5", ".npy", ".csv"]),
       cuts=st.lists(st.integers(0, 60000), max_size=6))
def test_streamed_writes_equal_one_write(tmp_path: Path, sample: tuple, ext: str, cuts: list[int]) -> None:
    """Writing in random pieces (empty ones included) produces the same events as one call."""
    events, w, h = sample
    path = tmp_path / f"pieces{ext}"
    with eio.open_writer(path, w, h) as writer:
        for piece in np.split(events, sorted(cuts)):
            writer.write(piece)
    assert writer.count == len(events)
    assert np.array_equal(_read_back(path).read(), events)


def test_aedat4_read_by_dv_processing(tmp_path: Path, sample: tuple) -> None:
    dv = pytest.importorskip("dv_processing")
    events, w, h = sample
    for compression in ("lz4", "zstd", "none"):
        path = tmp_path / f"{compression}.aedat4"
        eio.write(path, events, width=w, height=h, compression=compression)
        reader = dv.io.MonoCameraRecording(str(path))
        assert reader.getEventResolution() == (w, h)
        parts = []
        while reader.isRunning():
            batch = reader.getNextEventBatch()
            if batch is not None:
                parts.append(batch.numpy())
        got = np.concatenate(parts)
        assert np.array_equal(got["timestamp"], events["t"])
        assert np.array_equal(got["x"], events["x"]) and np.array_equal(got["y"], events["y"])
        assert np.array_equal(got["polarity"], events["p"])


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_raw_read_by_faery(tmp_path: Path, sample: tuple, fmt: str) -> None:
    faery = pytest.importorskip("faery")
    events, w, h = sample
    path = tmp_path / f"{fmt}.raw"
    eio.write(path, events, width=w, height=h, format=fmt)
    got = np.concatenate(list(faery.events_stream_from_file(path)))
    assert np.array_equal(got["t"].astype(np.int64), events["t"])
    assert np.array_equal(got["x"], events["x"]) and np.array_equal(got["y"], events["y"])
    assert np.array_equal(got["on"], events["p"].astype(bool))


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_raw_read_by_expelliarmus(tmp_path: Path, sample: tuple, fmt: str) -> None:
    """expelliarmus reads EVT 2 exactly; for EVT 3 its known time bug (+4096 µs when TIME_LOW
    decreases, expelliarmus#19) shifts times, so only pixels and polarities are compared there."""
    expelliarmus = pytest.importorskip("expelliarmus")
    events, w, h = sample
    path = tmp_path / f"{fmt}.raw"
    eio.write(path, events, width=w, height=h, format=fmt)
    got = expelliarmus.Wizard(encoding=fmt).read(path)
    assert np.array_equal(got["x"], events["x"]) and np.array_equal(got["y"], events["y"])
    assert np.array_equal(got["p"], events["p"])
    if fmt == "evt2":
        assert np.array_equal(got["t"], events["t"])


def test_hdf5_layout_is_the_documented_one(tmp_path: Path, sample: tuple) -> None:
    h5py = pytest.importorskip("h5py")
    events, w, h = sample
    eio.write(tmp_path / "e.h5", events, width=w, height=h)
    with h5py.File(tmp_path / "e.h5") as f:
        group = f["events"]
        assert dict(group.attrs) == {"width": w, "height": h, "layout": b"evstream-events", "version": 1}
        for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")):
            assert group[name].dtype == np.dtype(dtype) and group[name].compression == "gzip"
            assert group[name].chunks is not None
        assert np.array_equal(group["t"][:], events["t"])


@pytest.mark.parametrize("geometry", ["1280x720", b"1280x720"])
def test_prophesee_hdf5_layout_is_read(tmp_path: Path, sample: tuple, geometry: str | bytes) -> None:
    """Metavision's layout (compound /CD/events with x, y, p int16, t; geometry attribute "WxH"), stored
    here without the ECF codec, which needs a plugin that is not on PyPI."""
    h5py = pytest.importorskip("h5py")
    events, w, h = sample
    cd = np.zeros(len(events), dtype=[("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
    for name in ("x", "y", "p", "t"):
        cd[name] = events[name]
    with h5py.File(tmp_path / "prophesee.hdf5", "w") as f:
        f.attrs["geometry"] = geometry
        f.create_group("CD").create_dataset("events", data=cd, chunks=(4096,))
    rec = eio.open(tmp_path / "prophesee.hdf5")
    assert (rec.format, rec.width, rec.height) == ("hdf5", w, h)
    assert np.array_equal(rec.read(), events)


def test_writer_errors(tmp_path: Path) -> None:
    ev = make_events([10, 5], [1, 2], [1, 2], [0, 1])
    with pytest.raises(eio.WriteError, match="event 1: time 5 µs comes before"):
        eio.write(tmp_path / "a.h5", ev, width=10, height=10)
    ev = make_events([1, 2], [1, 20], [1, 2], [0, 1])
    with pytest.raises(eio.WriteError, match=r"event 1: pixel \(20, 2\) lies outside the 10x10 sensor"):
        eio.write(tmp_path / "a.npy", ev, width=10, height=10)
    with pytest.raises(eio.WriteError, match="width must be an integer in 1..2048"):
        eio.write(tmp_path / "a.raw", ev, width=4096, height=10)
    with pytest.raises(eio.WriteError, match="cannot tell the output format"):
        eio.write(tmp_path / "a.txt", ev, width=100, height=100)
    with pytest.raises(eio.WriteError, match="compression"):
        eio.write(tmp_path / "a.aedat4", ev, width=100, height=100, compression="gzip")


def test_convert_cli_cuts_a_time_range(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "clip.h5"
    assert main(["convert", str(AEDAT4), str(out), "--start", "100000", "--end", "200000", "--json",
                 "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    full = eio.read(AEDAT4)
    t0 = int(full["t"][0])
    expected = full[(full["t"] >= t0 + 100000) & (full["t"] < t0 + 200000)]
    assert result["events"] == len(expected) and result["output_format"] == "hdf5"
    assert np.array_equal(eio.read(out), expected)


def test_convert_cli_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["convert", str(RECORDINGS / "bad/random-bytes.raw"), str(tmp_path / "o.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "random-bytes.raw" in err
