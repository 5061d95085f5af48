"""The wire format: round trips of every packet kind, zero copy, and rejection of bad messages."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.events import EVENT_DTYPE, EventPacket
from evstream.packets import FramePacket, LabelPacket, TensorPacket
from evstream.transport.wire import WIRE_VERSION, WireError, decode, encode, encode_eos, topic

CAP = 1 << 24


def _frames(packet, stream="cam", seq=3):
    """Encoded frames as independent bytes objects (what arrives from a socket)."""
    return [bytes(f) for f in encode(packet, stream, "abcd", seq, 123)]


def test_events_round_trip_is_bit_exact(recording):
    _, events, width, height = recording
    chunk = events[1000:6000]
    packet = EventPacket(chunk, width, height, int(chunk["t"][0]) - 7, int(chunk["t"][-1]) + 9, seq=42)
    msg = decode(_frames(packet), CAP)
    assert (msg.stream, msg.kind, msg.session, msg.seq, msg.clock_ns) == ("cam", "events", "abcd", 3, 123)
    got = msg.packet
    assert got.events.dtype == EVENT_DTYPE
    assert got.events.tobytes() == chunk.tobytes()
    assert (got.width, got.height, got.t_start, got.t_end, got.seq) == (width, height, packet.t_start,
                                                                          packet.t_end, 42)


def test_empty_event_packet_keeps_its_time_range():
    packet = EventPacket(np.empty(0, EVENT_DTYPE), 34, 34, 1000, 2000, seq=1)
    got = decode(_frames(packet), CAP).packet
    assert len(got) == 0 and (got.t_start, got.t_end, got.width) == (1000, 2000, 34)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int16, np.bool_])
def test_frames_round_trip(dtype):
    rng = np.random.default_rng(0)
    data = (rng.random((3, 2, 5, 7)) * 10).astype(dtype)
    packet = FramePacket(data, np.array([0, 10, 20]), np.array([10, 20, 30]), seq=5)
    got = decode(_frames(packet), CAP).packet
    assert isinstance(got, FramePacket) and got.data.dtype == dtype
    np.testing.assert_array_equal(got.data, data)
    np.testing.assert_array_equal(got.t_end, [10, 20, 30])
    assert got.seq == 5


def test_torch_tensor_packet_arrives_as_numpy():
    data = torch.arange(12, dtype=torch.float32).reshape(2, 6) * 0.5
    packet = TensorPacket(data, np.array([0, 5]), np.array([5, 9]))
    got = decode(_frames(packet), CAP).packet
    assert isinstance(got, TensorPacket)
    np.testing.assert_array_equal(got.data, data.numpy())


def test_labels_round_trip_with_names():
    packet = LabelPacket(np.array([3, 1]), np.array([0.9, 0.25]), np.array([0, 100]), np.array([100, 200]),
                         seq=2, names=("a", "b", "c", "d"))
    got = decode(_frames(packet), CAP).packet
    np.testing.assert_array_equal(got.label, [3, 1])
    np.testing.assert_array_equal(got.confidence, np.float32([0.9, 0.25]))
    assert got.names == ("a", "b", "c", "d") and got.seq == 2


@pytest.mark.parametrize("names", [None, (), ("zéro", "一", "")])
def test_labels_names_round_trip(names):
    packet = LabelPacket(np.array([0]), np.array([0.5]), np.array([0]), np.array([1]), names=names)
    assert decode(_frames(packet), CAP).packet.names == names


def test_labels_with_a_bad_names_section_are_rejected():
    frames = _frames(LabelPacket(np.array([0]), np.array([0.5]), np.array([0]), np.array([1]), names=("ab",)))
    assert frames[0].endswith(struct.pack("<hH", 1, 2) + b"ab")
    for head in (frames[0][:-1], frames[0][:-6] + struct.pack("<h", -2), frames[0][:-2] + b"\xff\xff"):
        with pytest.raises(WireError, match="malformed"):
            decode([head, *frames[1:]], CAP)


def test_session_ids_must_be_short():
    with pytest.raises(ValueError, match="session"):
        encode_eos("cam", "x" * 65, 0, 0)


def test_decoded_events_are_read_only_views_of_the_frame():
    events = np.zeros(4, EVENT_DTYPE)
    events["t"] = [1, 2, 3, 4]
    frames = [bytearray(f) for f in _frames(EventPacket(events, 8, 8))]
    got = decode(frames, CAP).packet.events
    frames[1][0] = 99  # first byte of the first timestamp
    assert got["t"][0] == 99, "decode copied the buffer"
    assert not got.flags.writeable


def test_encode_does_not_copy_the_events():
    events = np.zeros(10_000, EVENT_DTYPE)
    frames = encode(EventPacket(events, 8, 8), "s", "x", 0, 0)
    assert np.shares_memory(np.frombuffer(frames[1], dtype=np.uint8), events.view(np.uint8))


def test_eos_message():
    msg = decode(encode_eos("cam", "s1", 17, 5), CAP)
    assert (msg.kind, msg.seq, msg.packet) == ("eos", 17, None)


def _head(header: bytes, name: bytes = b"cam") -> bytes:
    return name + b"\0" + header


def _header(version=WIRE_VERSION, kind=0, count=None, session=b"abcd", seq=3, pseq=0, clock=123, t=(0, 10),
            geom=(8, 8), arrays=(("ev16", (5,)),), tail=b"") -> bytes:
    """A version-2 header built field by field from the layout in the wire module's docstring."""
    count = len(arrays) if count is None else count
    out = b"EVSW" + struct.pack("<BBBBQQQqqII", version, kind, count, len(session), seq, pseq, clock, *t, *geom)
    out += session
    for token, shape in arrays:
        out += struct.pack("<B", len(token)) + token.encode() + struct.pack(f"<B{len(shape)}Q", len(shape), *shape)
    return out + tail


def _good():
    events = np.zeros(5, EVENT_DTYPE)
    return _frames(EventPacket(events, 8, 8, 0, 10))


def _with_header(frames, **changes):
    return [_head(_header(**changes)), *frames[1:]]


def test_header_layout_matches_the_documented_one():
    assert _good()[0] == _head(_header())


BAD = {
    "no frames": ("malformed", lambda f: []),
    "no NUL after the name": ("malformed", lambda f: [f[0].replace(b"\0", b""), *f[1:]]),
    "no magic": ("malformed", lambda f: [_head(b"\x80\x04not a header"), *f[1:]]),
    "stream name not UTF-8": ("malformed", lambda f: [b"\xff\xfe" + f[0], *f[1:]]),
    "header is a JSON list": ("malformed", lambda f: [_head(b"[1, 2]"), *f[1:]]),
    "header is broken JSON": ("malformed", lambda f: [_head(b"{not json"), *f[1:]]),
    "pickled header": ("malformed", lambda f: [_head(pickle.dumps({"v": 1})), *f[1:]]),
    "wrong version": ("version", lambda f: _with_header(f, version=WIRE_VERSION + 1)),
    "version 1 JSON header": ("version", lambda f: [_head(json.dumps({"v": 1, "kind": "events"}).encode()),
                                                    *f[1:]]),
    "JSON header without version": ("version", lambda f: [_head(b'{"kind": "events"}'), *f[1:]]),
    "header ends in the fixed part": ("malformed", lambda f: [f[0][:30], *f[1:]]),
    "header ends in the arrays": ("malformed", lambda f: [f[0][:-3], *f[1:]]),
    "stray bytes after the header": ("malformed", lambda f: [f[0] + b"x", *f[1:]]),
    "unknown kind": ("malformed", lambda f: _with_header(f, kind=9)),
    "empty session": ("malformed", lambda f: _with_header(f, session=b"")),
    "session not UTF-8": ("malformed", lambda f: _with_header(f, session=b"\xff")),
    "array count disagrees": ("malformed", lambda f: _with_header(f, count=2)),
    "object dtype": ("malformed", lambda f: _with_header(f, arrays=[("|O", (5,))])),
    "wrong events dtype": ("malformed", lambda f: _with_header(f, arrays=[("<f8", (10,))])),
    "shape/size mismatch": ("malformed", lambda f: _with_header(f, arrays=[("ev16", (6,))])),
    "no dimensions": ("malformed", lambda f: _with_header(f, arrays=[("ev16", ())])),
    "too many dimensions": ("malformed", lambda f: _with_header(f, arrays=[("ev16", (1,) * 8 + (5,))])),
    "missing buffer": ("malformed", lambda f: f[:1]),
    "extra buffer": ("malformed", lambda f: [*f, b"x"]),
    "bad geometry": ("malformed", lambda f: _with_header(f, geom=(0, 8))),
    "t_end before t_start": ("malformed", lambda f: _with_header(f, t=(10, 0))),
    "oversize header": ("oversize", lambda f: [f[0] + b" " * 20000, *f[1:]]),
    "oversize message": ("oversize", lambda f: [f[0], f[1] + b"\0" * CAP]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_messages_are_rejected_with_a_reason(case):
    reason, mutate = BAD[case]
    with pytest.raises(WireError) as info:
        decode(mutate(_good()), CAP)
    assert info.value.reason == reason


def test_oversize_cap_is_configurable():
    frames = _good()
    size = sum(len(f) for f in frames)
    assert decode(frames, size).kind == "events"
    with pytest.raises(WireError, match="oversize"):
        decode(frames, size - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=5), st.integers(0, 2), st.binary(max_size=32))
def test_random_corruption_only_ever_raises_wire_error(frames, position, garbage):
    good = _good()
    for candidate in (frames, [*good[:position], garbage, *good[position + 1:]]):
        try:
            decode(candidate, CAP)
        except WireError:
            pass


def test_topic_is_an_exact_prefix():
    assert topic("cam") == b"cam\0" and not topic("camera").startswith(topic("cam"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=12))
def test_any_packet_split_round_trips_to_the_same_stream(recording, cuts):
    """Random packet boundaries (empty packets included) change nothing after a round trip."""
    _, events, width, height = recording
    events = events[:3000]
    bounds = [0, *sorted(cuts), len(events)]
    t = [int(events["t"][0]), *(int(events["t"][min(c, len(events) - 1)]) for c in sorted(cuts)),
         int(events["t"][-1]) + 1]
    t = np.maximum.accumulate(t)
    got = []
    for seq, (a, b) in enumerate(zip(bounds, bounds[1:])):
        packet = EventPacket(events[a:b], width, height, int(t[seq]), int(t[seq + 1]), seq)
        msg = decode(_frames(packet, seq=seq), CAP)
        assert (msg.packet.t_start, msg.packet.t_end, msg.seq) == (packet.t_start, packet.t_end, seq)
        got.append(msg.packet)
    assert np.array_equal(EventPacket.concatenate(got).events, events)
