"""Every real recording in ``shared/recordings`` decodes to its oracle facts, whatever the packet cut."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from evstream.events import EventPacket
from tests.conftest import RECORDINGS, _manifest
from tests.io.facts import FACT_KEYS, assert_valid, facts

GOOD = [f for f in _manifest().get("files", []) if f.get("oracle")]
SMALL = [f for f in GOOD if f["oracle"]["event_count"] <= 25_000]
MEDIUM = [f for f in GOOD if f["oracle"]["event_count"] <= 160_000]


def _ids(files: list[dict]) -> list[str]:
    return [f["path"] for f in files]


def _oracle(entry: dict) -> dict:
    return {k: entry["oracle"][k] for k in FACT_KEYS}


def _read_packets(entry: dict, **options) -> list[EventPacket]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eio.GeometryWarning)
        warnings.simplefilter("ignore", eio.PartialReadWarning)
        return list(eio.open(RECORDINGS / entry["path"], **options))


@pytest.mark.parametrize("entry", GOOD, ids=_ids(GOOD))
def test_read_matches_oracle(entry: dict) -> None:
    packets = _read_packets(entry, packet_events=4093)
    events = np.concatenate([p.events for p in packets])
    assert facts(events) == _oracle(entry)
    rec = eio.open(RECORDINGS / entry["path"]) if entry["width"] else None
    if rec is not None:
        assert (rec.width, rec.height) == (entry["width"], entry["height"])
        assert_valid(events, rec.width, rec.height)
    assert all(len(p) == 4093 for p in packets[:-1]) and 0 < len(packets[-1]) <= 4093
    assert [p.seq for p in packets] == list(range(len(packets)))
    assert eio.open(RECORDINGS / entry["path"], width=2048, height=2048).format == entry["format"]


@pytest.mark.parametrize("entry", SMALL, ids=_ids(SMALL))
def test_one_event_packets(entry: dict) -> None:
    packets = _read_packets(entry, packet_events=1)
    assert all(len(p) == 1 for p in packets)
    assert facts(np.concatenate([p.events for p in packets])) == _oracle(entry)


@pytest.mark.parametrize("entry", MEDIUM, ids=_ids(MEDIUM))
def test_seven_event_packets_and_tiny_chunks(entry: dict) -> None:
    """Odd packets and file chunks of 1001 bytes: decoder state must survive every boundary."""
    packets = _read_packets(entry, packet_events=7, chunk_bytes=1001)
    assert all(len(p) == 7 for p in packets[:-1])
    assert facts(np.concatenate([p.events for p in packets])) == _oracle(entry)


@pytest.mark.parametrize("entry", GOOD, ids=_ids(GOOD))
@pytest.mark.parametrize("window_us", [997, 10_000])
def test_time_windows(entry: dict, window_us: int) -> None:
    packets = _read_packets(entry, window_us=window_us)
    oracle = _oracle(entry)
    events = np.concatenate([p.events for p in packets])
    assert facts(events) == oracle
    assert packets[0].t_start == oracle["t_first_us"]
    assert packets[-1].t_end == oracle["t_last_us"] + 1
    for a, b in zip(packets, packets[1:]):
        assert a.t_end == b.t_start and a.duration_us == window_us
    for p in packets:
        assert len(p) == 0 or (p.t_start <= p.events["t"][0] and p.events["t"][-1] < p.t_end)


def test_start_end_restrict_the_time_range(manifest: dict) -> None:
    entry = next(f for f in GOOD if f["format"] == "evt2")
    full = eio.read(RECORDINGS / entry["path"])
    t0, t1 = int(full["t"][1000]), int(full["t"][-1000])
    part = eio.read(RECORDINGS / entry["path"], start_us=t0, end_us=t1)
    expected = full[(full["t"] >= t0) & (full["t"] < t1)]
    assert np.array_equal(part, expected)
    packets = list(eio.open(RECORDINGS / entry["path"], start_us=t0, end_us=t1, window_us=5000))
    assert packets[0].t_start == t0 and packets[-1].t_end == t1


def test_evt3_pins_faery_time_policy(manifest: dict) -> None:
    """EVT 3 times never step back: a TIME_LOW that runs ahead holds (faery), t_last 11727467 µs."""
    events = eio.read(RECORDINGS / "evt3/gen41-expelliarmus-evt3_sample.raw")
    assert int(events["t"][-1]) == 11727467
    assert np.all(np.diff(events["t"]) >= 0)


def test_aedat4_lists_every_stream() -> None:
    rec = eio.open(RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4")
    types = {s["type"] for s in rec.metadata["streams"]}
    assert "EVTS" in types and len(rec.metadata["streams"]) > 1
    assert rec.metadata["compression"] == "lz4"


def test_raw_geometry_from_sensor_name() -> None:
    """The EVT 2 sample's header has no geometry; its Gen3 plugin name means 640x480 (not faery's 1280x720)."""
    rec = eio.open(RECORDINGS / "evt2/gen3-expelliarmus-evt2_sample.raw")
    assert (rec.width, rec.height) == (640, 480)


def test_geometry_override_drops_outside_events() -> None:
    path = RECORDINGS / "nmnist/nmnist-tonic-sample.bin"
    full = eio.read(path)
    with pytest.warns(eio.PartialReadWarning, match="outside"):
        cropped = eio.read(path, width=20, height=34)
    assert np.array_equal(cropped, full[full["x"] < 20])


def test_dat_geometry_is_inferred_with_a_warning() -> None:
    with pytest.warns(eio.GeometryWarning, match="width= and height="):
        rec = eio.open(RECORDINGS / "dat/ncars-tonic-sample.dat")
    assert (rec.width, rec.height) == (78, 42)


def _count_nmnist_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from evstream.io.nmnist import NmnistDecoder

    passes: list[int] = []
    original = NmnistDecoder.blocks

    def counted(self: NmnistDecoder) -> Iterator[np.ndarray]:
        passes.append(1)
        yield from original(self)

    monkeypatch.setattr(NmnistDecoder, "blocks", counted)
    return passes


def test_small_file_geometry_pass_is_reused_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open + read of a small file without a sensor size decode it once; the next read decodes again."""
    path = tmp_path / "a.bin"
    path.write_bytes((RECORDINGS / "nmnist/nmnist-tonic-sample.bin").read_bytes())
    expected = eio.read(path, width=34, height=34)
    passes = _count_nmnist_passes(monkeypatch)
    rec = eio.open(path)
    assert (rec.width, rec.height) == (34, 34) and len(passes) == 1
    assert np.array_equal(rec.read(), expected) and len(passes) == 1
    assert np.array_equal(rec.read(), expected) and len(passes) == 2


def test_small_file_changed_after_open_is_decoded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.bin"
    data = (RECORDINGS / "nmnist/nmnist-tonic-sample.bin").read_bytes()
    path.write_bytes(data)
    rec = eio.open(path)
    path.write_bytes(data[:5 * 100])
    os.utime(path, ns=(0, 12345))  # a different mtime even on file systems with coarse clocks
    passes = _count_nmnist_passes(monkeypatch)
    assert np.array_equal(rec.read(), eio.read(path, width=34, height=34)) and len(passes) == 2
    assert 0 < len(rec.read()) <= 100


def test_partial_read_warning_of_the_geometry_pass_comes_with_the_read(tmp_path: Path) -> None:
    """The geometry pass keeps its partial-read warnings for the read that reuses it (none at open)."""
    path = tmp_path / "a.bin"
    path.write_bytes((RECORDINGS / "nmnist/nmnist-tonic-sample.bin").read_bytes()[:-2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", eio.PartialReadWarning)
        rec = eio.open(path)
    with pytest.warns(eio.PartialReadWarning, match="ends inside a 5-byte record"):
        events = rec.read()
    with pytest.warns(eio.PartialReadWarning, match="ends inside a 5-byte record"):
        assert np.array_equal(events, eio.read(path, width=34, height=34))


def test_aedat4_start_time_seeks_with_the_data_table() -> None:
    """A start time jumps to the first packet that reaches it (fewer packets decompressed), same events."""
    from evstream.io.aedat4 import Aedat4Decoder

    path = RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4"
    full = eio.read(path)
    t0 = int(full["t"][len(full) * 3 // 4])
    assert np.array_equal(eio.read(path, start_us=t0), full[full["t"] >= t0])
    counts = []
    for seek in (None, t0):
        with open(path, "rb") as fh:
            dec = Aedat4Decoder(path, fh, None, None)
            assert dec.data_table() is not None
            dec.seek_us = seek
            for _ in dec.blocks():
                pass
            counts.append(dec.packets_read)
    assert counts[1] < counts[0] / 2
