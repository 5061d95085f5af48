"""Byte layouts of a DV (dv-processing) TCP event stream: IOHeader and EVTS packets.

A DV server sends each new client (spec ``formats.md`` sections 4 and 5):

1. a uint32 LE size, then the IOHeader flatbuffer (identifier ``IOHE``) with
   fields 0 ``compression`` (int32), 1 ``dataTablePosition`` (int64, -1) and
   2 ``infoNode`` (XML describing the one stream: type, sizeX, sizeY, source);
2. packets: int32 LE stream id, int32 LE size, then ``size`` bytes: one
   size-prefixed ``EventPacket`` flatbuffer (identifier ``EVTS``), compressed
   as the header says (LZ4 frame or zstd frame).

An EVTS event is 16 bytes (t int64 µs, x int16, y int16, on bool, 3 padding
bytes): the memory layout of :data:`evstream.events.EVENT_DTYPE`, so events
are decoded and encoded without touching individual fields. Flatbuffer
tables are read through their vtables, so any conforming builder's output
parses; the writer emits the same layout as dv-processing.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from evstream.events import EVENT_DTYPE

__all__ = [
    "COMPRESSION",
    "MAX_HEADER_BYTES",
    "MAX_PACKET_BYTES",
    "DvFormatError",
    "StreamInfo",
    "compress",
    "decode_events",
    "decode_header",
    "decompress",
    "encode_events",
    "encode_header",
]

COMPRESSION: dict[str, int] = {"none": 0, "lz4": 1, "lz4_high": 2, "zstd": 3, "zstd_high": 4}
"""IOHeader compression codes by name."""

MAX_HEADER_BYTES = 1 << 20
"""Largest accepted IOHeader (bytes)."""

MAX_PACKET_BYTES = 1 << 28
"""Largest accepted packet, compressed or not (bytes)."""

PACKET_HEADER = struct.Struct("<ii")
"""Stream id and payload size in front of every packet."""


class DvFormatError(ValueError):
    """Bytes from a DV peer that do not follow the IOHeader / EVTS layout."""


@dataclass(frozen=True)
class StreamInfo:
    """What a DV server's IOHeader announces about its stream."""

    stream_id: int
    type_identifier: str
    width: int
    height: int
    source: str
    compression: int


# -- flatbuffer reading -------------------------------------------------------------
def _u32(buf: memoryview, pos: int) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise DvFormatError(f"flatbuffer offset {pos} outside the {len(buf)}-byte buffer")
    return int.from_bytes(buf[pos:pos + 4], "little")


def _table(buf: memoryview, identifier: bytes) -> tuple[int, list[int]]:
    """Root table position and its field offsets (0 = absent) of a size-prefixed buffer."""
    if len(buf) < 12 or bytes(buf[8:12]) != identifier:
        raise DvFormatError(f"expected a {identifier.decode()} flatbuffer, got {bytes(buf[8:12])!r}")
    root = 4 + _u32(buf, 4)
    vt = root - int.from_bytes(buf[root:root + 4], "little", signed=True) if root + 4 <= len(buf) else -1
    if vt < 4 or vt + 4 > len(buf):
        raise DvFormatError(f"{identifier.decode()} flatbuffer has a bad vtable position {vt}")
    vt_size = int.from_bytes(buf[vt:vt + 2], "little")
    if vt_size < 4 or vt + vt_size > len(buf):
        raise DvFormatError(f"{identifier.decode()} flatbuffer vtable of {vt_size} bytes overruns the buffer")
    fields = [int.from_bytes(buf[p:p + 2], "little") for p in range(vt + 4, vt + vt_size - 1, 2)]
    return root, fields


def _field(fields: list[int], index: int) -> int:
    return fields[index] if index < len(fields) else 0


def decode_header(data: bytes) -> StreamInfo:
    """Parse the IOHeader bytes that follow the uint32 size (without it).

    Raises :class:`DvFormatError` when the flatbuffer or its XML is malformed,
    or when the XML describes no stream.
    """
    buf = memoryview(struct.pack("<I", len(data)) + data)
    root, fields = _table(buf, b"IOHE")
    comp_off, info_off = _field(fields, 0), _field(fields, 2)
    compression = _u32(buf, root + comp_off) if comp_off else 0
    if not info_off:
        raise DvFormatError("IOHeader has no infoNode XML")
    pos = root + info_off
    start = pos + _u32(buf, pos)
    length = _u32(buf, start)
    if start + 4 + length > len(buf):
        raise DvFormatError("IOHeader infoNode string overruns the header")
    return _parse_info(bytes(buf[start + 4:start + 4 + length]), compression)


def _attrs(node: ET.Element) -> dict[str, str]:
    return {a.get("key", ""): (a.text or "") for a in node.findall("attr")}


def _parse_info(xml: bytes, compression: int) -> StreamInfo:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DvFormatError(f"IOHeader infoNode is not XML ({exc})") from None
    out = root.find("node[@name='outInfo']")
    streams = [] if out is None else out.findall("node")
    if not streams:
        raise DvFormatError("IOHeader XML describes no stream (no outInfo child)")
    node = streams[0]
    attrs = _attrs(node)
    info = node.find("node[@name='info']")
    geom = _attrs(info) if info is not None else {}
    try:
        return StreamInfo(int(node.get("name", "")), attrs.get("typeIdentifier", ""),
                          int(geom.get("sizeX", "0")), int(geom.get("sizeY", "0")),
                          geom.get("source", ""), compression)
    except ValueError as exc:
        raise DvFormatError(f"IOHeader XML has a non-integer stream id or size ({exc})") from None


def decode_events(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """Events of one decompressed EVTS packet, a view of ``payload`` (no copy).

    Returns an :data:`EVENT_DTYPE` array (empty when the packet has no elements).
    Raises :class:`DvFormatError` when the buffer does not hold an EVTS packet.
    """
    buf = memoryview(payload).cast("B")
    root, fields = _table(buf, b"EVTS")
    off = _field(fields, 0)
    if not off:
        return np.empty(0, dtype=EVENT_DTYPE)
    vec = root + off + _u32(buf, root + off)
    n = _u32(buf, vec)
    if vec + 4 + 16 * n > len(buf):
        raise DvFormatError(f"EVTS packet claims {n} events but holds {max(0, len(buf) - vec - 4) // 16}")
    return np.frombuffer(buf, dtype=EVENT_DTYPE, count=n, offset=vec + 4)


# -- writing ---------------------------------------------------------------------------
def encode_events(events: np.ndarray) -> bytes:
    """One size-prefixed EVTS flatbuffer (the layout of spec 4.6) holding ``events``."""
    n = len(events)
    head = struct.pack("<II4s2xHHHiII", 28 + 16 * n, 16, b"EVTS", 6, 8, 4, 6, 4, n)
    return head + np.ascontiguousarray(events, dtype=EVENT_DTYPE).tobytes()


def _info_xml(info: StreamInfo) -> bytes:
    code = {v: k for k, v in COMPRESSION.items()}[info.compression].upper()
    return (f'<dv version="2.0">\n    <node name="outInfo" path="/outInfo/">\n'
            f'        <node name="{info.stream_id}" path="/outInfo/{info.stream_id}/">\n'
            f'            <attr key="compression" type="string">{code}</attr>\n'
            f'            <attr key="originalModuleName" type="string">evstream</attr>\n'
            f'            <attr key="originalOutputName" type="string">events</attr>\n'
            f'            <attr key="typeIdentifier" type="string">{info.type_identifier}</attr>\n'
            f'            <node name="info" path="/outInfo/{info.stream_id}/info/">\n'
            f'                <attr key="sizeX" type="int">{info.width}</attr>\n'
            f'                <attr key="sizeY" type="int">{info.height}</attr>\n'
            f'                <attr key="source" type="string">{_escape(info.source)}</attr>\n'
            f'            </node>\n        </node>\n    </node>\n</dv>\n').encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def encode_header(info: StreamInfo) -> bytes:
    """The size-prefixed IOHeader a DV server sends first (same layout as dv-processing's)."""
    xml = _info_xml(info)
    body = struct.pack("<I4s6xHHHHHiiIqI", 24, b"IOHE", 10, 20, 4, 12, 8, 10,
                       info.compression, 12, -1, len(xml)) + xml + b"\0"
    body += b"\0" * (-(len(body) + 4) % 8)
    return struct.pack("<I", len(body)) + body


# -- compression -----------------------------------------------------------------------
def compress(data: bytes, compression: int) -> bytes:
    """Compress one packet as the IOHeader's ``compression`` code says."""
    if compression == 0:
        return data
    if compression in (1, 2):
        import lz4.frame

        return lz4.frame.compress(data, compression_level=9 if compression == 2 else 0)
    if compression in (3, 4):
        import zstandard

        return zstandard.ZstdCompressor(level=9 if compression == 4 else 3).compress(data)
    raise DvFormatError(f"unknown DV compression code {compression}")


def decompress(data: bytes | bytearray, compression: int) -> bytes | bytearray:
    """Undo :func:`compress`, refusing output beyond :data:`MAX_PACKET_BYTES`."""
    if compression == 0:
        return data
    if compression in (1, 2):
        import lz4.frame

        dec = lz4.frame.LZ4FrameDecompressor()
        try:
            out = dec.decompress(data, max_length=MAX_PACKET_BYTES)
        except RuntimeError as exc:
            raise DvFormatError(f"cannot decompress LZ4 packet ({exc})") from None
    elif compression in (3, 4):
        import io

        import zstandard

        try:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                out = reader.read(MAX_PACKET_BYTES + 1)
        except zstandard.ZstdError as exc:
            raise DvFormatError(f"cannot decompress zstd packet ({exc})") from None
    else:
        raise DvFormatError(f"unknown DV compression code {compression}")
    if len(out) > MAX_PACKET_BYTES or (compression in (1, 2) and not dec.eof):
        raise DvFormatError(f"packet is truncated or inflates beyond {MAX_PACKET_BYTES} bytes")
    return out
