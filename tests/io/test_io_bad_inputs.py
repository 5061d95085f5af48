"""Damaged and foreign files give a FormatError or a documented partial read, never a crash or a hang."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evstream.io as eio
from tests.conftest import RECORDINGS
from tests.io.facts import assert_valid, facts

BAD = RECORDINGS / "bad"

# Prefixes of real files, small enough to cut at every offset; each is decodable on its own.
FUZZ_SOURCES = {
    "dat": ("dat/ncars-tonic-sample.dat", 16165),
    "nmnist": ("nmnist/nmnist-tonic-sample.bin", 6000),
    "aedat2": ("bad/aedat2-dvs128-header-then-text-garbage.aedat", 4279),
    "aedat2-davis": ("aedat2/davis240c-pyaedattools-IMU_translBoxes.aedat", 177000),
    "aedat4": ("aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4", 8000),
    "evt2": ("evt2/gen3-expelliarmus-evt2_sample.raw", 6000),
    "evt3": ("evt3/gen41-expelliarmus-evt3_sample.raw", 6000),
}


def _decode(path: Path, **options) -> tuple[np.ndarray | None, str | None]:
    """Events and None, or None and the FormatError message; any other exception propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rec = eio.open(path, **options)
            events = rec.read()
        except eio.FormatError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return None, str(exc)
    assert_valid(events, rec.width, rec.height)
    return events, None


def test_truncated_aedat4_keeps_complete_packets() -> None:
    with pytest.warns(eio.PartialReadWarning, match=r"byte \d+: packet of \d+ bytes runs past the end"):
        cut = eio.read(BAD / "aedat4-truncated-mid-packet.aedat4")
    full = eio.read(RECORDINGS / "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4")
    assert 0 < len(cut) < len(full)
    assert np.array_equal(cut, full[:len(cut)])


def _aedat4_packet_offsets(path: Path) -> list[int]:
    """File offsets of the packet headers of an AEDAT 4 file (up to its data table), walked in Python."""
    import struct

    from evstream.io.aedat4 import MAGIC

    raw = path.read_bytes()
    pos = len(MAGIC) + 4 + struct.unpack_from("<I", raw, len(MAGIC))[0]
    table = eio.open(path).metadata["data_table_position"]
    offsets = []
    while pos + 8 <= (table if table > 0 else len(raw)):
        offsets.append(pos)
        pos += 8 + struct.unpack_from("<i", raw, pos + 4)[0]
    return offsets


@pytest.mark.parametrize("chunk_bytes", [20, 1001, 1 << 23])
def test_aedat4_bad_packet_size_is_an_error_at_its_header(tmp_path: Path, chunk_bytes: int) -> None:
    import struct

    src = RECORDINGS / "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
    offsets = _aedat4_packet_offsets(src)
    raw = bytearray(src.read_bytes())
    at = offsets[len(offsets) // 2]
    struct.pack_into("<i", raw, at + 4, -5)
    (tmp_path / "a.aedat4").write_bytes(raw)
    with pytest.raises(eio.FormatError, match=rf"byte {at}: bad packet size -5"):
        eio.read(tmp_path / "a.aedat4", chunk_bytes=chunk_bytes)


def test_aedat4_cut_inside_a_packet_header_keeps_the_packets_before(tmp_path: Path) -> None:
    src = RECORDINGS / "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
    offsets = _aedat4_packet_offsets(src)
    at = offsets[len(offsets) // 2]
    (tmp_path / "a.aedat4").write_bytes(src.read_bytes()[:at + 5])
    with pytest.warns(eio.PartialReadWarning, match=rf"byte {at}: the file ends inside a packet header"):
        cut = eio.read(tmp_path / "a.aedat4", chunk_bytes=777)
    full = eio.read(src)
    assert 0 < len(cut) < len(full) and np.array_equal(cut, full[:len(cut)])


def test_corrupt_aedat4_payload_is_an_error_at_the_packet() -> None:
    with pytest.raises(eio.FormatError, match=r"byte \d+: damaged events packet"):
        eio.read(BAD / "aedat4-corrupt-payload-bytes.aedat4")


def test_aedat4_packets_that_step_back_or_leave_the_sensor_are_mended(tmp_path: Path) -> None:
    """Packets are checked one by one in the decoding threads: a packet sorted on its own but starting
    before the previous one's last time gets its times held, a pixel outside the sensor is dropped."""
    from evstream.events import EVENT_DTYPE
    from evstream.io.aedat4 import PACKET_EVENTS, Aedat4Writer

    events = np.zeros(3 * PACKET_EVENTS, EVENT_DTYPE)
    events["t"] = np.arange(len(events)) * 10
    events["t"][PACKET_EVENTS:2 * PACKET_EVENTS] -= 20_000  # packet 2 steps back 20 ms
    events["x"] = np.arange(len(events)) % 128
    events["y"] = 5
    events["x"][2 * PACKET_EVENTS + 7] = 200  # packet 3: one pixel outside 128x128
    writer = Aedat4Writer(tmp_path / "a.aedat4", 128, 128)
    writer._write(events)  # past the writer's own checks, which refuse such events
    writer._close()
    with pytest.warns(eio.PartialReadWarning, match="dropped 1 events outside the 128x128 sensor"):
        got = eio.read(tmp_path / "a.aedat4")
    expected = events[events["x"] < 128]
    expected["t"] = np.maximum.accumulate(expected["t"])
    assert np.array_equal(got, expected)


def test_evt3_odd_byte_dropped_with_warning() -> None:
    with pytest.warns(eio.PartialReadWarning, match="ends inside a 2-byte word"):
        events = eio.read(BAD / "evt3-truncated-odd-byte.raw")
    assert len(events) == 110061  # faery's count for the same bytes
    full = eio.read(RECORDINGS / "evt3/gen41-expelliarmus-evt3_sample.raw")
    assert np.array_equal(events, full[:len(events)])


def test_evt2_short_file_decodes_only_data_after_header() -> None:
    """The 200-byte file holds the whole header then 10 words: 1 TIME_HIGH and 8 CD events."""
    events = eio.read(BAD / "evt2-header-only.raw")
    full = eio.read(RECORDINGS / "evt2/gen3-expelliarmus-evt2_sample.raw")
    assert np.array_equal(events, full[:8])
    assert eio.open(BAD / "evt2-header-only.raw").metadata["data_offset"] == 164


@pytest.mark.parametrize("name, message", [
    ("empty-file.aedat4", "empty file"),
    ("random-bytes.raw", "not a recognised event-camera recording"),
    ("text-file-named.dat", "not a recognised event-camera recording"),
])
def test_foreign_files_are_format_errors(name: str, message: str) -> None:
    with pytest.raises(eio.FormatError, match=message):
        eio.read(BAD / name)


def test_aedat2_header_cut_gives_no_events() -> None:
    rec = eio.open(BAD / "aedat2-header-only-cut-in-header.aedat")
    assert len(rec.read()) == 0 and (rec.width, rec.height) == (346, 260)


def test_aedat2_text_garbage_strict_decode(manifest: dict) -> None:
    entry = next(f for f in manifest["files"] if f["path"] == "bad/aedat2-dvs128-header-then-text-garbage.aedat")
    with pytest.warns(eio.PartialReadWarning, match="6 bytes left over"):
        events = eio.read(BAD / "aedat2-dvs128-header-then-text-garbage.aedat")
    assert facts(events) == {k: entry["oracle"][k] for k in facts(events)}


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(eio.FormatError, match="no such file"):
        eio.open(tmp_path / "nope.raw")
    with pytest.raises(eio.FormatError, match="directory"):
        eio.open(tmp_path)


def _truncations(name: str, stride: int, tmp: Path, first: int = 0) -> None:
    rel, size = FUZZ_SOURCES[name]
    data = (RECORDINGS / rel).read_bytes()[:size]
    full, _ = _decode(RECORDINGS / rel)
    path = tmp / Path(rel).name
    for cut in range(first, len(data) + 1, stride):
        path.write_bytes(data[:cut])
        events, _ = _decode(path)
        if events is not None and full is not None:
            # a cut never invents events: the result is a prefix of the full decode
            assert np.array_equal(events, full[:len(events)])


@pytest.mark.parametrize("name", sorted(FUZZ_SOURCES))
def test_truncation_sampled_offsets(name: str, tmp_path: Path) -> None:
    _truncations(name, max(1, FUZZ_SOURCES[name][1] // 300), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FUZZ_SOURCES))
def test_truncation_every_offset(name: str, tmp_path: Path) -> None:
    """Every offset; for the DAVIS file (175 kB of header lines) every offset of its last 4 kB."""
    _truncations(name, 1, tmp_path, FUZZ_SOURCES[name][1] - 4000 if name == "aedat2-davis" else 0)


def _flip_test(name: str, flips: list[tuple[int, int]], tmp: Path) -> None:
    rel, size = FUZZ_SOURCES[name]
    data = bytearray((RECORDINGS / rel).read_bytes()[:size])
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp / Path(rel).name
    path.write_bytes(bytes(data))
    _decode(path)


FLIPS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(FUZZ_SOURCES)), flips=FLIPS)
def test_random_byte_flips(tmp_path: Path, name: str, flips: list[tuple[int, int]]) -> None:
    _flip_test(name, flips, tmp_path)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(FUZZ_SOURCES)), flips=FLIPS)
def test_random_byte_flips_campaign(tmp_path: Path, name: str, flips: list[tuple[int, int]]) -> None:
    _flip_test(name, flips, tmp_path)
