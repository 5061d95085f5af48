"""AEDAT 4 LZ4 batch decoding (aedat4_kernels.lz4_events) against the per-packet Python path."""

from __future__ import annotations

from pathlib import Path

import lz4.frame
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evstream.io as eio
from evstream.events import EVENT_DTYPE
from evstream.io import aedat4_kernels as ak
from evstream.io import flatbuffers as fb
from evstream.io.aedat4 import parse_event_packet
from tests.conftest import RECORDINGS

DECODE = ak.lz4_block_decoder()
DV_FILE = RECORDINGS / "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
pytestmark = pytest.mark.skipif(DECODE is None, reason="python-lz4 does not export liblz4's block decoder")


def _file_packets(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk holding every events packet of an AEDAT 4 file: ``(chunk, starts, sizes)``."""
    rec = eio.open(path)
    with rec._decoder() as dec:
        parts = [(bytes(chunk), starts + 0, sizes + 0) for _, chunk, starts, sizes in
                 dec._packets(dec.events_stream["id"])]
    offsets = np.cumsum([0] + [len(c) for c, _, _ in parts])
    chunk = np.frombuffer(b"".join(c for c, _, _ in parts), np.uint8)
    return (chunk, np.concatenate([s + o for (_, s, _), o in zip(parts, offsets)]),
            np.concatenate([z for _, _, z in parts]))


def _python(chunk: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The per-packet path: python-lz4's frame decoder, then the flatbuffer parser."""
    blocks = [parse_event_packet(lz4.frame.decompress(chunk[s:s + n].tobytes())) for s, n in zip(starts, sizes)]
    return np.concatenate(blocks) if blocks else np.empty(0, EVENT_DTYPE)


def _kernel(chunk: np.ndarray, starts: np.ndarray, sizes: np.ndarray, width: int = 1 << 15,
            height: int = 1 << 15) -> tuple[int, np.ndarray, int, int]:
    bound = ak.lz4_bound(chunk, starts, sizes)
    if bound < 0:
        return ak.LZ4_FALLBACK, np.empty(0, EVENT_DTYPE), 0, 0
    out = np.full(-(-bound // 16) * 16, 0xAB, np.uint8)
    status, n, first, last = ak.lz4_events(DECODE, chunk, starts, sizes, out, width, height)
    return status, out[:16 * n].view(EVENT_DTYPE), first, last


def _packets(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.array([len(p) for p in payloads], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(payloads), np.uint8), starts, sizes


def _events(n: int, seed: int, width: int = 640, height: int = 480) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.cumsum(rng.integers(0, 40, n)) + 10**9
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def _packet(events: np.ndarray, **lz4_options) -> bytes:
    return lz4.frame.compress(fb.event_packet_prefix(len(events)) + events.tobytes(), **lz4_options)


@pytest.mark.parametrize("path", [DV_FILE, RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4"])
def test_dv_written_files_decode_in_one_batch_as_packet_by_packet(path: Path) -> None:
    """DV's frames: linked 64 KiB blocks, no content size."""
    chunk, starts, sizes = _file_packets(path)
    status, events, first, last = _kernel(chunk, starts, sizes)
    expected = _python(chunk, starts, sizes)
    assert status == ak.LZ4_OK and np.array_equal(events, expected)
    assert (first, last) == (expected["t"][0], expected["t"][-1])


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 9000), min_size=1, max_size=6), seed=st.integers(0, 10**6),
       linked=st.booleans(), content_size=st.booleans(), block=st.sampled_from([lz4.frame.BLOCKSIZE_MAX64KB,
                                                                               lz4.frame.BLOCKSIZE_MAX256KB]))
def test_frames_of_any_layout_match_the_packet_path(counts: list[int], seed: int, linked: bool, content_size: bool,
                                                    block: int) -> None:
    ev = _events(sum(counts), seed)
    cuts = np.cumsum([0] + counts)
    payloads = [_packet(ev[a:b], block_linked=linked, store_size=content_size, block_size=block)
                for a, b in zip(cuts[:-1], cuts[1:])]
    status, events, first, last = _kernel(*_packets(payloads))
    assert status == ak.LZ4_OK and np.array_equal(events, ev)
    if len(ev):
        assert (first, last) == (ev["t"][0], ev["t"][-1])


def test_stored_blocks() -> None:
    """A frame whose blocks are stored uncompressed (the encoder does so for incompressible data)."""
    ev = _events(5000, 1)
    data = fb.event_packet_prefix(len(ev)) + ev.tobytes()
    header = lz4.frame.compress(b"", block_linked=False, store_size=False)[:7]  # magic, FLG, BD, checksum
    blocks = b"".join((len(part) | 1 << 31).to_bytes(4, "little") + part
                      for part in (data[i:i + 65536] for i in range(0, len(data), 65536)))
    payload = header + blocks + b"\0\0\0\0"
    assert lz4.frame.decompress(payload) == data
    later = _events(10, 7)
    later["t"] += 10**10
    status, events, _, _ = _kernel(*_packets([payload, _packet(later)]))
    assert status == ak.LZ4_OK and np.array_equal(events, np.concatenate([ev, later]))


@pytest.mark.parametrize("bad", ["time", "x", "y", "polarity", "across packets"])
def test_invalid_events_are_flagged_not_dropped(bad: str) -> None:
    ev = _events(3000, 3, 128, 128)
    if bad == "time":
        ev["t"][100] = ev["t"][99] - 1
    elif bad == "x":
        ev["x"][7] = 128
    elif bad == "y":
        ev["y"][2999] = 500
    elif bad == "polarity":
        ev["p"][0] = 2
    payloads = ([_packet(ev)] if bad != "across packets"
                else [_packet(ev[1500:]), _packet(ev[:1500])])
    status, events, _, _ = _kernel(*_packets(payloads), 128, 128)
    assert status == ak.LZ4_INVALID and len(events) == len(ev)
    clean = _events(3000, 3, 128, 128)
    assert _kernel(*_packets([_packet(clean)]), 128, 128)[0] == ak.LZ4_OK


@pytest.mark.parametrize("variant", ["content checksum", "block checksum", "header checksum", "magic", "corrupt block",
                                     "trailing bytes", "cut", "no events identifier"])
def test_frames_the_fast_path_leaves_to_python(variant: str) -> None:
    ev = _events(6000, 4)
    options = {"content_checksum": variant == "content checksum", "block_checksum": variant == "block checksum"}
    payload = bytearray(_packet(ev, **options))
    if variant == "header checksum":
        payload[14] ^= 0x01  # FLG BD, 8-byte content size, then the checksum byte at 14
    elif variant == "magic":
        payload[0] ^= 0x10
    elif variant == "corrupt block":
        payload[40:60] = b"\xff" * 20
    elif variant == "trailing bytes":
        payload += b"\0\0\0\0"
    elif variant == "cut":
        del payload[-9:]
    elif variant == "no events identifier":
        payload = bytearray(lz4.frame.compress(b"\0" * 8 + b"FRME" + ev.tobytes()))
    good = _packet(_events(100, 5))
    assert _kernel(*_packets([good, bytes(payload)]))[0] == ak.LZ4_FALLBACK
    assert _kernel(*_packets([good]))[0] == ak.LZ4_OK


def test_header_checksum_matches_liblz4_for_both_descriptor_lengths() -> None:
    """python-lz4 checks the descriptor's XXH32 byte; the kernel accepts exactly the same frames."""
    for content_size in (False, True):
        payload = _packet(_events(10, 6), store_size=content_size)
        chunk = np.frombuffer(payload, np.uint8)
        assert ak._frame_header(chunk, 0, len(payload))[0] == (15 if content_size else 7)
        at = 14 if content_size else 6
        for wrong in range(1, 256, 37):
            bent = bytearray(payload)
            bent[at] ^= wrong
            with pytest.raises(RuntimeError):
                lz4.frame.decompress(bytes(bent))
            assert ak._frame_header(np.frombuffer(bytes(bent), np.uint8), 0, len(bent))[0] == -1


def test_reader_falls_back_per_packet_and_names_the_damaged_packet(tmp_path: Path) -> None:
    raw = bytearray(DV_FILE.read_bytes())
    chunk, starts, sizes = _file_packets(DV_FILE)
    at = raw.find(bytes(chunk[starts[10]:starts[10] + sizes[10]]))  # the 11th events packet's payload
    assert at > 0
    raw[at + 30:at + 50] = b"\xff" * 20
    (tmp_path / "a.aedat4").write_bytes(raw)
    with pytest.raises(eio.FormatError, match=rf"byte {at - 8}: damaged events packet"):
        eio.read(tmp_path / "a.aedat4")
