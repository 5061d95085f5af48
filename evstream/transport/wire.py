"""The evstream ZeroMQ wire format: a versioned JSON header plus raw buffers.

One packet is one multipart message::

    frame 0   head    stream name (UTF-8), b"\\0", then a compact JSON header;
                      SUB sockets filter on the name and NUL (the topic)
    frame 1.. arrays  the raw bytes of each array named in the header, in order

The header (schema version :data:`WIRE_VERSION`)::

    {"v": 1, "kind": "events", "session": "9f3c...", "seq": 41, "pseq": 7,
     "clock_ns": 1732406400000000000, "t": [t_start, t_end], "geom": [width, height],
     "arrays": [["events", "ev16", [n]]]}

* ``kind``: ``events``, ``frames``, ``tensor``, ``labels`` or ``eos`` (end of
  stream: no arrays, ``seq`` = number of packets the session sent).
* ``session``: random id of one sender run; ``seq``: the sender's own counter
  (0, 1, 2, ... per session) from which receivers count gaps exactly;
  ``pseq``: the packet's ``seq`` as its producer numbered it.
* ``clock_ns``: sender wall clock (``time.time_ns()``) when the message was built.
* ``t`` and ``geom`` (µs, pixels) only for events; ``names`` (class names or
  ``null``) only for labels.
* ``arrays``: ``[name, dtype, shape]`` per buffer frame. ``ev16`` is
  :data:`evstream.events.EVENT_DTYPE`; other dtypes are numpy type strings of
  booleans, integers or floats (``"<f4"``). Object, string and void dtypes do
  not exist on the wire: nothing is ever pickled.

Arrays are sent without a copy (``copy=False``) and decoded as read-only
``np.frombuffer`` views of the received frames. :func:`decode` checks every
field and raises :class:`WireError` with a ``reason`` of ``"malformed"``,
``"oversize"`` or ``"version"`` so receivers count rejects per reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket
from evstream.packets import ArrayPacket, FramePacket, LabelPacket, TensorPacket

__all__ = [
    "DATA_KINDS",
    "MAX_HEADER_BYTES",
    "REJECT_REASONS",
    "WIRE_VERSION",
    "Message",
    "WireError",
    "decode",
    "encode",
    "encode_eos",
    "topic",
]

WIRE_VERSION = 1
"""Schema version written in every header; any other version is rejected."""

MAX_HEADER_BYTES = 16384
"""Largest accepted head frame (topic and JSON header, bytes); larger is ``oversize``."""

DATA_KINDS: tuple[str, ...] = ("events", "frames", "tensor", "labels")
"""Kinds of data messages (``eos`` is the only other kind)."""

REJECT_REASONS: tuple[str, ...] = ("malformed", "oversize", "version")
"""Why :func:`decode` rejects a message (the receiver counts each)."""

_EVENTS_TOKEN = "ev16"
_NUMERIC_KINDS = frozenset("biuf")
_MAX_NDIM = 8
_T_FIELDS = (("t_start", "<i8"), ("t_end", "<i8"))
_EXPECTED: dict[str, tuple[tuple[str, str | None], ...]] = {
    "events": (("events", _EVENTS_TOKEN),),
    "frames": (("data", None), *_T_FIELDS),
    "tensor": (("data", None), *_T_FIELDS),
    "labels": (("label", "<i8"), ("confidence", "<f4"), *_T_FIELDS),
    "eos": (),
}
"""Per kind: the array names in order and their required dtype (``None``: any numeric)."""


class WireError(ValueError):
    """A received message that :func:`decode` refuses; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason} message: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Message:
    """One decoded message.

    Attributes:
        stream: stream name from the topic frame.
        kind: one of :data:`DATA_KINDS` or ``"eos"``.
        session: sender run id (hex string).
        seq: sender counter; for ``eos`` the number of packets the session sent.
        clock_ns: sender wall clock when the message was built (ns since the epoch).
        nbytes: total size of all frames in bytes.
        packet: the decoded packet (``None`` for ``eos``).
    """

    stream: str
    kind: str
    session: str
    seq: int
    clock_ns: int
    nbytes: int
    packet: Any = None


def topic(stream: str) -> bytes:
    """The topic frame of ``stream``: its UTF-8 name and a NUL (exact-match SUB prefix)."""
    return stream.encode() + b"\0"


def _as_numpy(data: Any) -> np.ndarray:
    """``data`` as a C-contiguous numpy array (torch tensors are moved to the CPU)."""
    if not isinstance(data, np.ndarray) and hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    return np.ascontiguousarray(data)


def _dtype_token(array: np.ndarray) -> str:
    return _EVENTS_TOKEN if array.dtype == EVENT_DTYPE else array.dtype.str


def _arrays_of(packet: Any) -> tuple[list[tuple[str, np.ndarray]], dict[str, Any]]:
    """The named arrays of ``packet`` and the kind-specific header fields."""
    kind = getattr(packet, "kind", None)
    if kind == "events":
        return ([("events", np.ascontiguousarray(packet.events))],
                {"t": [packet.t_start, packet.t_end], "geom": [packet.width, packet.height]})
    if kind in ("frames", "tensor"):
        return [("data", _as_numpy(packet.data)), ("t_start", packet.t_start), ("t_end", packet.t_end)], {}
    if kind == "labels":
        return ([("label", packet.label), ("confidence", packet.confidence),
                 ("t_start", packet.t_start), ("t_end", packet.t_end)],
                {"names": list(packet.names) if packet.names is not None else None})
    raise TypeError(f"cannot send {type(packet).__name__}: expected a packet of kind {', '.join(DATA_KINDS)}")


def _header(kind: str, session: str, seq: int, pseq: int, clock_ns: int, **extra: Any) -> bytes:
    head = {"v": WIRE_VERSION, "kind": kind, "session": session, "seq": seq, "pseq": pseq,
            "clock_ns": clock_ns, **extra}
    return json.dumps(head, separators=(",", ":")).encode()


def encode(packet: Any, stream: str, session: str, seq: int, clock_ns: int) -> list[Any]:
    """Frames of one data message: topic and header, then the packet's arrays (not copied).

    ``packet`` is an :class:`EventPacket`, :class:`FramePacket`,
    :class:`TensorPacket` or :class:`LabelPacket` (numpy or torch data).
    Array frames are ``memoryview``s of the packet's memory, to be sent with
    ``copy=False``; the caller must not modify the packet until they are sent.
    """
    arrays, extra = _arrays_of(packet)
    for name, array in arrays:
        if array.dtype != EVENT_DTYPE and array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"cannot send array {name!r} of dtype {array.dtype}: only bool, int and float")
    meta = [[name, _dtype_token(a), list(a.shape)] for name, a in arrays]
    head = _header(packet.kind, session, seq, int(packet.seq), clock_ns, arrays=meta, **extra)
    return [topic(stream) + head, *(memoryview(a).cast("B") if a.size else b"" for _, a in arrays)]


def encode_eos(stream: str, session: str, sent: int, clock_ns: int) -> list[bytes]:
    """Frames of the end-of-stream message of a session that sent ``sent`` packets."""
    return [topic(stream) + _header("eos", session, sent, 0, clock_ns, arrays=[])]


# -- decoding -------------------------------------------------------------------
def _buffer(frame: Any) -> memoryview:
    """A byte view of a received frame (``zmq.Frame``, bytes or memoryview)."""
    buf = frame.buffer if hasattr(frame, "buffer") else frame
    return memoryview(buf).cast("B") if not isinstance(buf, memoryview) or buf.format != "B" else buf


def _int(head: dict, key: str, low: int = 0) -> int:
    value = head.get(key)
    if type(value) is not int or value < low:
        raise WireError("malformed", f"header field {key!r} must be an integer >= {low} (got {value!r})")
    return value


def _pair(head: dict, key: str, low: int, high: int) -> tuple[int, int]:
    value = head.get(key)
    if (not isinstance(value, list) or len(value) != 2
            or any(type(v) is not int or not low <= v <= high for v in value)):
        raise WireError("malformed", f"header field {key!r} must be two integers in {low}..{high} (got {value!r})")
    return value[0], value[1]


def _parse_header(frames: Sequence[Any], max_bytes: int) -> tuple[str, dict, list[memoryview], int]:
    if not frames:
        raise WireError("malformed", "empty message, need at least a head frame")
    bufs = [_buffer(f) for f in frames]
    total = sum(b.nbytes for b in bufs)
    if total > max_bytes:
        raise WireError("oversize", f"{total} bytes exceed the cap of {max_bytes} bytes")
    if bufs[0].nbytes > MAX_HEADER_BYTES:
        raise WireError("oversize", f"head frame larger than {MAX_HEADER_BYTES} bytes")
    name, nul, header = bytes(bufs[0]).partition(b"\0")
    if not nul:
        raise WireError("malformed", "head frame has no NUL after the stream name")
    try:
        stream = name.decode()
        head = json.loads(header)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError("malformed", f"topic or header is not UTF-8 JSON ({exc})") from None
    if not isinstance(head, dict):
        raise WireError("malformed", "header is not a JSON object")
    if head.get("v") != WIRE_VERSION:
        raise WireError("version", f"schema version {head.get('v')!r}, this evstream reads {WIRE_VERSION}")
    return stream, head, bufs[1:], total


def _dtype(token: Any, required: str | None, name: str) -> np.dtype:
    if required is not None and token != required:
        raise WireError("malformed", f"array {name!r} must have dtype {required} (got {token!r})")
    if token == _EVENTS_TOKEN:
        return EVENT_DTYPE
    try:
        dtype = np.dtype(token) if isinstance(token, str) and len(token) <= 8 else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise WireError("malformed", f"array {name!r} has unsupported dtype {token!r}")
    return dtype


def _arrays(kind: str, meta: Any, bufs: list[memoryview]) -> dict[str, np.ndarray]:
    expected = _EXPECTED[kind]
    if not isinstance(meta, list) or len(meta) != len(expected) or len(bufs) != len(expected):
        raise WireError("malformed", f"{kind} needs arrays {[n for n, _ in expected]} "
                                     f"(header lists {meta!r:.80}, {len(bufs)} buffer frame(s))")
    out = {}
    for (name, required), entry, buf in zip(expected, meta, bufs):
        if not isinstance(entry, list) or len(entry) != 3 or entry[0] != name:
            raise WireError("malformed", f"array entry {entry!r:.80} should describe {name!r}")
        dtype = _dtype(entry[1], required, name)
        shape = entry[2]
        if (not isinstance(shape, list) or not 1 <= len(shape) <= _MAX_NDIM
                or any(type(d) is not int or d < 0 for d in shape)):
            raise WireError("malformed", f"array {name!r} has a bad shape {shape!r:.80}")
        if math.prod(shape) * dtype.itemsize != buf.nbytes:
            raise WireError("malformed", f"array {name!r} of shape {shape} {dtype} needs "
                                         f"{math.prod(shape) * dtype.itemsize} bytes, frame has {buf.nbytes}")
        array = np.frombuffer(buf, dtype=dtype)
        if len(shape) > 1:
            array = array.reshape(shape)
        array.flags.writeable = False
        out[name] = array
    return out


def _build(kind: str, head: dict, arrays: dict[str, np.ndarray], pseq: int) -> Any:
    if kind == "events":
        t_start, t_end = _pair(head, "t", -(2**63), 2**63 - 1)
        width, height = _pair(head, "geom", 1, 65536)
        events = arrays["events"]
        if events.ndim != 1 or t_end < t_start:
            raise WireError("malformed", f"events must be 1-D with t_start <= t_end "
                                         f"(got shape {events.shape}, t {head['t']})")
        return EventPacket(events, width, height, t_start, t_end, pseq)
    n = len(arrays["t_start"])
    if any(a.shape != (n,) for k, a in arrays.items() if k != "data") or (
            kind != "labels" and arrays["data"].shape[0] != n):
        raise WireError("malformed", f"{kind}: item arrays disagree on the item count {n}")
    if kind == "labels":
        names = head.get("names")
        if names is not None and (not isinstance(names, list) or not all(isinstance(s, str) for s in names)):
            raise WireError("malformed", "labels: 'names' must be null or a list of strings")
        return LabelPacket(arrays["label"], arrays["confidence"], arrays["t_start"], arrays["t_end"], pseq,
                           tuple(names) if names is not None else None)
    if kind == "frames" and arrays["data"].ndim != 4:
        raise WireError("malformed", f"frames data must be (N, C, H, W), got shape {arrays['data'].shape}")
    cls: type[ArrayPacket] = FramePacket if kind == "frames" else TensorPacket
    return cls(arrays["data"], arrays["t_start"], arrays["t_end"], pseq)


def decode(frames: Sequence[Any], max_bytes: int) -> Message:
    """Decode one multipart message (``zmq.Frame``s, bytes or memoryviews).

    Arrays in the returned packet are read-only views of the frames (no copy).
    Raises :class:`WireError` (reason ``oversize`` when all frames together
    exceed ``max_bytes`` bytes, ``version`` for another schema version,
    ``malformed`` for anything else that does not follow the format).
    """
    stream, head, bufs, nbytes = _parse_header(frames, max_bytes)
    kind = head.get("kind")
    if kind not in _EXPECTED:
        raise WireError("malformed", f"unknown kind {kind!r}")
    session = head.get("session")
    if not isinstance(session, str) or not 0 < len(session) <= 64:
        raise WireError("malformed", f"header field 'session' must be a short string (got {session!r:.80})")
    seq, pseq, clock = _int(head, "seq"), _int(head, "pseq"), _int(head, "clock_ns")
    arrays = _arrays(kind, head.get("arrays"), bufs)
    packet = None if kind == "eos" else _build(kind, head, arrays, pseq)
    return Message(stream, kind, session, seq, clock, nbytes, packet)
