"""Just enough FlatBuffers to read and write the AEDAT 4 tables evstream needs.

Reading follows the wire format (little-endian; a table starts with an int32
offset back to its vtable; the vtable lists uint16 field offsets) and checks
every offset against the buffer, raising :class:`BufferError` instead of
reading out of bounds. Writing builds the fixed layouts of the AEDAT 4
``IOHeader`` and ``EventPacket`` tables directly (``shared/spec/formats.md`` 4.2, 4.6).
"""

from __future__ import annotations

import struct

__all__ = ["event_packet_prefix", "io_header", "read_string", "read_u32", "root_table", "table_field"]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


def _read(fmt: struct.Struct, buf: bytes | memoryview, pos: int) -> int:
    if pos < 0 or pos + fmt.size > len(buf):
        raise BufferError(f"offset {pos} out of a {len(buf)}-byte flatbuffer")
    return fmt.unpack_from(buf, pos)[0]


def root_table(buf: bytes | memoryview, base: int = 0) -> int:
    """Absolute position of the root table of the flatbuffer starting at ``base``."""
    return base + _read(_U32, buf, base)


def table_field(buf: bytes | memoryview, table: int, index: int) -> int | None:
    """Absolute position of field ``index`` of the table at ``table``, or ``None`` when absent."""
    vtable = table - _read(_I32, buf, table)
    vt_size = _read(_U16, buf, vtable)
    if 4 + 2 * index + 2 > vt_size:
        return None
    off = _read(_U16, buf, vtable + 4 + 2 * index)
    return table + off if off else None


def read_u32(buf: bytes | memoryview, pos: int) -> int:
    return _read(_U32, buf, pos)


def read_string(buf: bytes | memoryview, field: int) -> bytes:
    """The string referenced by the uoffset at ``field``."""
    start = field + _read(_U32, buf, field)
    n = _read(_U32, buf, start)
    if start + 4 + n > len(buf):
        raise BufferError(f"string of {n} bytes runs past a {len(buf)}-byte flatbuffer")
    return bytes(buf[start + 4:start + 4 + n])


def io_header(compression: int, data_table_position: int, info: bytes) -> bytes:
    """A size-prefixed AEDAT 4 ``IOHeader`` with identifier ``IOHE`` and all three fields set.

    Layout (offsets from the size prefix): 0 size, 4 root offset, 8 ``IOHE``,
    12 vtable (5 x uint16), 24 table (soffset, compression int32, dataTablePosition
    int64 8-aligned, infoNode uoffset), 44 string (length, bytes, NUL, padding).
    """
    vtable = struct.pack("<5H", 10, 20, 4, 8, 16)
    table = struct.pack("<iiqI", 24 - 12, compression, data_table_position, 4)
    string = _U32.pack(len(info)) + info + b"\0"
    string += b"\0" * (-len(string) % 4)
    body = _U32.pack(20) + b"IOHE" + vtable + b"\0\0" + table + string
    return _U32.pack(len(body)) + body


def event_packet_prefix(n: int) -> bytes:
    """The 32 bytes that precede ``n`` 16-byte events in a size-prefixed ``EVTS`` EventPacket."""
    return struct.pack("<II4s2x3HiII", 28 + 16 * n, 16, b"EVTS", 6, 8, 4, 6, 4, n)
