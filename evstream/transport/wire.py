"""The evstream ZeroMQ wire format: a versioned binary header plus raw buffers.

One packet is one multipart message::

    frame 0   head    stream name (UTF-8), b"\\0", then the binary header;
                      SUB sockets filter on the name and NUL (the topic)
    frame 1.. arrays  the raw bytes of each array of the packet's kind, in order

The header (schema version :data:`WIRE_VERSION`, little-endian, no padding)::

    fixed part        magic b"EVSW", u8 version, u8 kind, u8 array count,
                      u8 session length, u64 seq, u64 pseq, u64 clock_ns,
                      i64 t_start, i64 t_end, u32 width, u32 height
    session           that many bytes of UTF-8 (1 to 64)
    per array         u8 dtype token length, the token (ASCII), u8 ndim, u64 per dimension
    labels only       i16 name count (-1: no names), then per name u16 length and UTF-8

* ``kind``: index in ``("events", "frames", "tensor", "labels", "eos")``;
  ``eos`` (end of stream) has no arrays and ``seq`` = number of packets the
  session sent.
* ``session``: id of one sender run; ``seq``: the sender's own counter
  (0, 1, 2, ... per session) from which receivers count gaps exactly;
  ``pseq``: the packet's ``seq`` as its producer numbered it.
* ``clock_ns``: sender wall clock (``time.time_ns()``) when the message was built.
* ``t_start``, ``t_end`` (µs) and ``width``, ``height`` (pixels) describe an
  events packet; other kinds send zeros there.
* arrays: each kind has fixed arrays in a fixed order (:data:`ARRAYS`). The
  token ``ev16`` is :data:`evstream.events.EVENT_DTYPE`; other tokens are
  numpy type strings of booleans, integers or floats (``"<f4"``). Object,
  string and void dtypes do not exist on the wire: nothing is ever pickled.

Version 1 sent the header as JSON; such a message is rejected as ``version``.
Arrays are sent without a copy (``copy=False``) and decoded as read-only
``np.frombuffer`` views of the received frames. :func:`decode` checks every
field and raises :class:`WireError` with a ``reason`` of ``"malformed"``,
``"oversize"`` or ``"version"`` so receivers count rejects per reason.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket
from evstream.packets import ArrayPacket, FramePacket, LabelPacket, TensorPacket

__all__ = [
    "ARRAYS",
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

WIRE_VERSION = 2
"""Schema version written in every header; any other version is rejected."""

MAX_HEADER_BYTES = 16384
"""Largest accepted head frame (topic and header, bytes); larger is ``oversize``."""

DATA_KINDS: tuple[str, ...] = ("events", "frames", "tensor", "labels")
"""Kinds of data messages (``eos`` is the only other kind)."""

REJECT_REASONS: tuple[str, ...] = ("malformed", "oversize", "version")
"""Why :func:`decode` rejects a message (the receiver counts each)."""

_KINDS = (*DATA_KINDS, "eos")
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}
_MAGIC = b"EVSW"
_FIXED = struct.Struct("<4sBBBBQQQqqII")
"""magic, version, kind, array count, session length, seq, pseq, clock_ns, t_start, t_end, width, height."""
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_I16 = struct.Struct("<h")
_MAX_SESSION_BYTES = 64
_EVENTS_TOKEN = "ev16"
_NUMERIC_KINDS = frozenset("biuf")
_MAX_NDIM = 8
_MAX_DIM = 1 << 40
"""Largest product of an array's dimensions (zeros counted as 1) a message may declare."""
_T_FIELDS = (("t_start", "<i8"), ("t_end", "<i8"))
ARRAYS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "events": (("events", _EVENTS_TOKEN),),
    "frames": (("data", None), *_T_FIELDS),
    "tensor": (("data", None), *_T_FIELDS),
    "labels": (("label", "<i8"), ("confidence", "<f4"), *_T_FIELDS),
    "eos": (),
}
"""Per kind: the array names in wire order and their required dtype token (``None``: any numeric)."""


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
        session: sender run id.
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


# -- encoding -------------------------------------------------------------------
def _as_numpy(data: Any) -> np.ndarray:
    """``data`` as a C-contiguous numpy array (torch tensors are moved to the CPU)."""
    if not isinstance(data, np.ndarray) and hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    return np.ascontiguousarray(data)


def _arrays_of(packet: Any) -> tuple[list[np.ndarray], tuple[int, int, int, int], bytes]:
    """The arrays of ``packet`` in wire order, its ``(t_start, t_end, width, height)`` and names section."""
    kind = getattr(packet, "kind", None)
    if kind == "events":
        return [np.ascontiguousarray(packet.events)], (packet.t_start, packet.t_end, packet.width, packet.height), b""
    if kind in ("frames", "tensor"):
        return [_as_numpy(packet.data), packet.t_start, packet.t_end], (0, 0, 0, 0), b""
    if kind == "labels":
        return ([packet.label, packet.confidence, packet.t_start, packet.t_end], (0, 0, 0, 0),
                _names_section(packet.names))
    raise TypeError(f"cannot send {type(packet).__name__}: expected a packet of kind {', '.join(DATA_KINDS)}")


def _names_section(names: Sequence[str] | None) -> bytes:
    if names is None:
        return _I16.pack(-1)
    parts = [_I16.pack(len(names))]
    for name in names:
        raw = name.encode()
        parts += [_U16.pack(len(raw)), raw]
    return b"".join(parts)


def _array_meta(array: np.ndarray) -> bytes:
    token = (_EVENTS_TOKEN if array.dtype == EVENT_DTYPE else array.dtype.str).encode()
    return struct.pack(f"<B{len(token)}sB{array.ndim}Q", len(token), token, array.ndim, *array.shape)


def _head(stream: str, kind: str, session: str, seq: int, pseq: int, clock_ns: int,
          fields: tuple[int, int, int, int], arrays: list[np.ndarray], tail: bytes) -> bytes:
    raw_session = session.encode()
    if not 0 < len(raw_session) <= _MAX_SESSION_BYTES:
        raise ValueError(f"session id must be 1 to {_MAX_SESSION_BYTES} bytes of UTF-8 (got {session!r:.80})")
    fixed = _FIXED.pack(_MAGIC, WIRE_VERSION, _KIND_CODE[kind], len(arrays), len(raw_session),
                        seq, pseq, clock_ns, *fields)
    return b"".join([topic(stream), fixed, raw_session, *map(_array_meta, arrays), tail])


def encode(packet: Any, stream: str, session: str, seq: int, clock_ns: int) -> list[Any]:
    """Frames of one data message: topic and header, then the packet's arrays (not copied).

    ``packet`` is an :class:`EventPacket`, :class:`FramePacket`,
    :class:`TensorPacket` or :class:`LabelPacket` (numpy or torch data).
    Array frames are ``memoryview``s of the packet's memory, to be sent with
    ``copy=False``; the caller must not modify the packet until they are sent.
    """
    arrays, fields, tail = _arrays_of(packet)
    arrays = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in arrays]
    for (name, _), array in zip(ARRAYS[packet.kind], arrays):
        if array.dtype != EVENT_DTYPE and array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"cannot send array {name!r} of dtype {array.dtype}: only bool, int and float")
    head = _head(stream, packet.kind, session, seq, int(packet.seq), clock_ns, fields, arrays, tail)
    return [head, *(memoryview(a).cast("B") if a.size else b"" for a in arrays)]


def encode_eos(stream: str, session: str, sent: int, clock_ns: int) -> list[bytes]:
    """Frames of the end-of-stream message of a session that sent ``sent`` packets."""
    return [_head(stream, "eos", session, sent, 0, clock_ns, (0, 0, 0, 0), [], b"")]


# -- decoding -------------------------------------------------------------------
def _buffer(frame: Any) -> memoryview:
    """A byte view of a received frame (``zmq.Frame``, bytes or memoryview)."""
    buf = getattr(frame, "buffer", frame)
    return memoryview(buf).cast("B") if not isinstance(buf, memoryview) or buf.format != "B" else buf


class _Reader:
    """Reads the variable part of a header, raising ``malformed`` past its end."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def take(self, fmt: struct.Struct | str) -> tuple:
        layout = fmt if isinstance(fmt, struct.Struct) else struct.Struct(fmt)
        if self.offset + layout.size > len(self.data):
            raise WireError("malformed", "header ends early")
        values = layout.unpack_from(self.data, self.offset)
        self.offset += layout.size
        return values

    def text(self, size: int, what: str) -> str:
        raw = self.data[self.offset:self.offset + size]
        if len(raw) != size:
            raise WireError("malformed", "header ends early")
        self.offset += size
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise WireError("malformed", f"{what} is not UTF-8") from None


def _reject_other_version(header: bytes) -> None:
    """Raise ``version`` for a header of another schema (version 1 was JSON), else ``malformed``."""
    if header[:len(_MAGIC)] == _MAGIC and len(header) > len(_MAGIC):
        version: Any = header[len(_MAGIC)]
    elif header[:1] == b"{":
        try:
            head = json.loads(header)
        except (UnicodeDecodeError, ValueError):
            head = None
        if not isinstance(head, dict):
            raise WireError("malformed", "header is neither an evstream header nor a JSON object")
        version = head.get("v")
    else:
        raise WireError("malformed", f"header does not start with {_MAGIC!r} and a version")
    raise WireError("version", f"schema version {version!r}, this evstream reads {WIRE_VERSION}")


def _dtype(token: str, required: str | None, name: str) -> np.dtype:
    if required is not None and token != required:
        raise WireError("malformed", f"array {name!r} must have dtype {required} (got {token!r})")
    if token == _EVENTS_TOKEN:
        return EVENT_DTYPE
    try:  # numpy parses some strings (e.g. ",f4") as field lists and raises SyntaxError on others
        dtype = np.dtype(token) if len(token) <= 8 else None
    except (TypeError, ValueError, SyntaxError):
        dtype = None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise WireError("malformed", f"array {name!r} has unsupported dtype {token!r}")
    return dtype


def _arrays(kind: str, count: int, reader: _Reader, bufs: list[memoryview]) -> dict[str, np.ndarray]:
    expected = ARRAYS[kind]
    if count != len(expected) or len(bufs) != len(expected):
        raise WireError("malformed", f"{kind} needs arrays {[n for n, _ in expected]} "
                                     f"(header lists {count}, {len(bufs)} buffer frame(s))")
    out = {}
    for (name, required), buf in zip(expected, bufs):
        dtype = _dtype(reader.text(reader.take(_U8)[0], "dtype token"), required, name)
        ndim = reader.take(_U8)[0]
        if not 1 <= ndim <= _MAX_NDIM:
            raise WireError("malformed", f"array {name!r} has {ndim} dimensions (1 to {_MAX_NDIM})")
        shape = reader.take(f"<{ndim}Q")
        if math.prod(shape) * dtype.itemsize != buf.nbytes:
            raise WireError("malformed", f"array {name!r} of shape {shape} {dtype} needs "
                                         f"{math.prod(shape) * dtype.itemsize} bytes, frame has {buf.nbytes}")
        if math.prod(max(n, 1) for n in shape) > _MAX_DIM:  # e.g. (0, 2**63): the byte count matches, no array has it
            raise WireError("malformed", f"array {name!r} of shape {shape} spans more than {_MAX_DIM} items")
        array = np.frombuffer(buf, dtype=dtype)
        if ndim > 1:
            array = array.reshape(shape)
        array.flags.writeable = False
        out[name] = array
    return out


def _names(reader: _Reader) -> tuple[str, ...] | None:
    count = reader.take(_I16)[0]
    if count < -1:
        raise WireError("malformed", f"labels: name count {count}")
    if count == -1:
        return None
    return tuple(reader.text(reader.take(_U16)[0], "class name") for _ in range(count))


def _build(kind: str, fields: tuple[int, int, int, int], arrays: dict[str, np.ndarray], pseq: int,
           names: tuple[str, ...] | None) -> Any:
    if kind == "events":
        t_start, t_end, width, height = fields
        if not (1 <= width <= 65536 and 1 <= height <= 65536) or t_end < t_start:
            raise WireError("malformed", f"events need a geometry in 1..65536 pixels and t_start <= t_end "
                                         f"(got {width}x{height}, t {t_start}..{t_end})")
        return EventPacket(arrays["events"], width, height, t_start, t_end, pseq)
    n = len(arrays["t_start"])
    if any(a.shape != (n,) for k, a in arrays.items() if k != "data") or (
            kind != "labels" and arrays["data"].shape[0] != n):
        raise WireError("malformed", f"{kind}: item arrays disagree on the item count {n}")
    if kind == "labels":
        return LabelPacket(arrays["label"], arrays["confidence"], arrays["t_start"], arrays["t_end"], pseq, names)
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
    if not frames:
        raise WireError("malformed", "empty message, need at least a head frame")
    bufs = [_buffer(f) for f in frames]
    nbytes = sum(b.nbytes for b in bufs)
    if nbytes > max_bytes:
        raise WireError("oversize", f"{nbytes} bytes exceed the cap of {max_bytes} bytes")
    if bufs[0].nbytes > MAX_HEADER_BYTES:
        raise WireError("oversize", f"head frame larger than {MAX_HEADER_BYTES} bytes")
    name, nul, header = bytes(bufs[0]).partition(b"\0")
    if not nul:
        raise WireError("malformed", "head frame has no NUL after the stream name")
    try:
        stream = name.decode()
    except UnicodeDecodeError:
        raise WireError("malformed", "stream name is not UTF-8") from None
    if header[:len(_MAGIC)] != _MAGIC or len(header) == len(_MAGIC) or header[len(_MAGIC)] != WIRE_VERSION:
        _reject_other_version(header)
    if len(header) < _FIXED.size:
        raise WireError("malformed", "header ends early")
    _, _, code, count, session_size, seq, pseq, clock, *fields = _FIXED.unpack_from(header)
    if code >= len(_KINDS):
        raise WireError("malformed", f"unknown kind code {code}")
    kind = _KINDS[code]
    if not 0 < session_size <= _MAX_SESSION_BYTES:
        raise WireError("malformed", f"session id of {session_size} bytes (1 to {_MAX_SESSION_BYTES})")
    reader = _Reader(header, _FIXED.size)
    session = reader.text(session_size, "session id")
    arrays = _arrays(kind, count, reader, bufs[1:])
    names = _names(reader) if kind == "labels" else None
    if reader.offset != len(header):
        raise WireError("malformed", f"{len(header) - reader.offset} stray bytes after the header")
    packet = None if kind == "eos" else _build(kind, tuple(fields), arrays, pseq, names)
    return Message(stream, kind, session, seq, clock, nbytes, packet)
