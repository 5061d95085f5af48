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
from xml.sax.saxutils import escape

import numpy as np

from evstream.events import EVENT_DTYPE
from evstream.io import flatbuffers as fb
from evstream.io.aedat4 import parse_event_packet, parse_streams

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


def decode_header(data: bytes) -> StreamInfo:
    """Parse the IOHeader bytes that follow the uint32 size (without it).

    Raises :class:`DvFormatError` when the flatbuffer or its XML is malformed,
    or when the XML describes no stream.
    """
    if len(data) < 8 or data[4:8] != b"IOHE":
        raise DvFormatError(f"expected an IOHE flatbuffer, got {bytes(data[4:8])!r}")
    try:
        table = fb.root_table(data)
        comp_field, info_field = fb.table_field(data, table, 0), fb.table_field(data, table, 2)
        compression = fb.read_u32(data, comp_field) if comp_field is not None else 0
        if info_field is None:
            raise DvFormatError("IOHeader has no infoNode XML")
        streams = parse_streams(fb.read_string(data, info_field).decode())
    except (BufferError, UnicodeDecodeError, ET.ParseError, KeyError) as exc:
        raise DvFormatError(f"malformed IOHeader ({exc})") from None
    if not streams:
        raise DvFormatError("IOHeader XML describes no stream")
    first = streams[0]
    return StreamInfo(first["id"], first["type"], first["width"] or 0, first["height"] or 0,
                      first["source"], compression)


def decode_events(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """Events of one decompressed EVTS packet, a view of ``payload`` (no copy).

    Returns an :data:`EVENT_DTYPE` array (empty when the packet has no elements).
    Raises :class:`DvFormatError` when the buffer does not hold an EVTS packet.
    """
    try:
        return parse_event_packet(payload)
    except BufferError as exc:
        raise DvFormatError(str(exc)) from None


def encode_events(events: np.ndarray) -> bytes:
    """One size-prefixed EVTS flatbuffer (the layout of spec 4.6) holding ``events``."""
    return fb.event_packet_prefix(len(events)) + np.ascontiguousarray(events, dtype=EVENT_DTYPE).tobytes()


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
            f'                <attr key="source" type="string">{escape(info.source)}</attr>\n'
            f'            </node>\n        </node>\n    </node>\n</dv>\n').encode()


def encode_header(info: StreamInfo) -> bytes:
    """The size-prefixed IOHeader a DV server sends first (no data table: position -1)."""
    return fb.io_header(info.compression, -1, _info_xml(info))


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
