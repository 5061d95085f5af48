"""AEDAT 4 (iniVation DV, dv-processing): reader and streaming writer.

File layout (``shared/spec/formats.md`` section 4): the line ``#!AER-DAT4.0\\r\\n``,
a uint32 length and an ``IOHeader`` flatbuffer (compression, data-table position,
XML stream description), then packets ``(int32 stream id, int32 size, payload)``.
Each payload is an LZ4 frame, a zstd frame or raw bytes holding one size-prefixed
flatbuffer; ``EVTS`` packets hold 16-byte events laid out exactly like
:data:`evstream.events.EVENT_DTYPE`. LZ4 packets are decoded a batch at a time by
one Numba call that leaves the GIL (:func:`evstream.io.aedat4_kernels.lz4_events`:
liblz4 decompresses each packet into one array and the events are packed
there); other packets, and any batch that call cannot take, are decoded one by
one and handed out without a copy.

The reader picks the first ``EVTS`` stream (or the one named by ``stream``) and
skips the packets of every other stream (frames, IMU, triggers) without
decompressing them; :attr:`Aedat4Decoder.streams` lists them all. With a start
time, the file's data table (when present) lets it jump to the first packet that
reaches that time instead of decoding everything before.
"""

from __future__ import annotations

import itertools
import struct
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from xml.sax.saxutils import escape
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from evstream.allocator import keep_freed_buffers
from evstream.events import EVENT_DTYPE
from evstream.io import flatbuffers as fb
from evstream.io.aedat4_kernels import (LZ4_FALLBACK, LZ4_OK, SPANS_BAD_SIZE, SPANS_PAST_END, lz4_block_decoder,
                                       lz4_bound, lz4_events, packet_spans)
from evstream.io.decoder import CHUNK_BYTES, Decoder
from evstream.io.errors import FormatError, WriteError
from evstream.io.record_kernels import first_invalid, sanitize
from evstream.io.writer import EventWriter, zeroed_padding

__all__ = ["COMPRESSIONS", "MAGIC", "Aedat4Decoder", "Aedat4Writer"]

MAGIC = b"#!AER-DAT4.0\r\n"
COMPRESSIONS = {0: "none", 1: "lz4", 2: "lz4-high", 3: "zstd", 4: "zstd-high"}
MAX_HEADER_BYTES = 1 << 26
MAX_PACKET_BYTES = 1 << 30
_PACKET_HEADER = struct.Struct("<ii")
DECODE_THREADS = 2
"""Threads that decompress packets (the machines evstream targets have 2+ cores)."""
BATCH_PACKETS = 32
"""Packets decompressed per thread task (128 k events, 2 MiB with evstream's 4096-event packets): fewer
hand-offs between threads; 8 was 10-15 % slower on the bench file (``evstream bench io``)."""


def _decompressor(compression: int):  # noqa: ANN202 - returns a callable bytes -> bytes
    if compression in (1, 2):
        import lz4.frame

        return lz4.frame.decompress
    if compression in (3, 4):
        import zstandard

        def unzstd(data: bytes) -> bytes:
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)

        return unzstd
    return bytes


def parse_streams(xml: str) -> list[dict[str, Any]]:
    """The streams of an AEDAT 4 infoNode: ``id``, ``type`` (``EVTS``...), ``name``, ``width``, ``height``, ``source``."""
    root = ET.fromstring(xml)
    streams = []
    for node in root.iter("node"):
        attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        if "typeIdentifier" not in attrs or not (node.get("name") or "").isdigit():
            continue
        info = next((n for n in node.findall("node") if n.get("name") == "info"), None)
        iattrs = {a.get("key"): (a.text or "") for a in info.findall("attr")} if info is not None else {}
        streams.append({
            "id": int(node.get("name")),
            "type": attrs["typeIdentifier"].strip(),
            "name": attrs.get("originalOutputName", ""),
            "width": int(iattrs["sizeX"]) if iattrs.get("sizeX", "").strip().isdigit() else None,
            "height": int(iattrs["sizeY"]) if iattrs.get("sizeY", "").strip().isdigit() else None,
            "source": iattrs.get("source", ""),
        })
    return streams


def _lz4_block(decode: Callable[..., int], chunk: memoryview, starts: np.ndarray, sizes: np.ndarray,
               width: int, height: int) -> tuple[np.ndarray, int | None, int] | None:
    """The events of a batch of LZ4 ``EVTS`` packets as one block, with its first and last time when
    every packet is valid and in order (else ``None, 0``: the caller mends the block); ``None`` when a
    packet needs the per-packet path (:func:`~evstream.io.aedat4_kernels.lz4_events`)."""
    buf = np.frombuffer(chunk, np.uint8)
    bound = lz4_bound(buf, starts, sizes)
    if bound < 0:
        return None
    out = np.empty(-(-bound // 16) * 16, np.uint8)
    status, n, first_t, last_t = lz4_events(decode, buf, starts, sizes, out, width, height)
    if status == LZ4_FALLBACK:
        return None
    events = out[:16 * n].view(EVENT_DTYPE)
    if 32 * n < len(out):  # mostly unused (small packets): do not hold the rest while the block lives
        events = events.copy()
    return events, (first_t if status == LZ4_OK and n else None), last_t


def parse_event_packet(buf: bytes) -> np.ndarray:
    """Zero-copy events of a decompressed size-prefixed ``EVTS`` flatbuffer (raises BufferError)."""
    if len(buf) < 12 or buf[8:12] != b"EVTS":
        raise BufferError(f"not an EVTS packet (type identifier {bytes(buf[8:12])!r})")
    table = fb.root_table(buf, 4)
    field = fb.table_field(buf, table, 0)
    if field is None:
        return np.empty(0, EVENT_DTYPE)
    vec = field + fb.read_u32(buf, field)
    n = fb.read_u32(buf, vec)
    if vec + 4 + 16 * n > len(buf):
        raise BufferError(f"{n} events run past the {len(buf)}-byte packet")
    return np.frombuffer(buf, EVENT_DTYPE, count=n, offset=vec + 4)


class Aedat4Decoder(Decoder):
    """AEDAT 4 file; ``stream`` picks an events stream by id or output name (default: the first)."""

    name = "aedat4"
    description = "iniVation AEDAT 4 (DV, dv-processing)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES, stream: int | str | None = None) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        fh.seek(0)
        head = fh.read(len(MAGIC) + 4)
        if len(head) < len(MAGIC) + 4 or head[:len(MAGIC)] != MAGIC:
            raise self.error("not an AEDAT 4 file (no #!AER-DAT4.0 line and header length)", 0)
        (size,) = struct.unpack_from("<I", head, len(MAGIC))
        if size > MAX_HEADER_BYTES:
            raise self.error(f"IOHeader length {size} bytes is implausible", len(MAGIC))
        header = fh.read(size)
        if len(header) < size:
            raise self.error(f"the file ends inside the {size}-byte IOHeader", len(head))
        try:
            table = fb.root_table(header)
            pos = fb.table_field(header, table, 0)
            self.compression = struct.unpack_from("<i", header, pos)[0] if pos is not None else 0
            pos = fb.table_field(header, table, 1)
            self.table_position = struct.unpack_from("<q", header, pos)[0] if pos is not None else -1
            pos = fb.table_field(header, table, 2)
            xml = fb.read_string(header, pos).decode("utf-8", "replace") if pos is not None else ""
            self.streams = parse_streams(xml) if xml else []
        except (BufferError, struct.error, ET.ParseError, ValueError) as exc:
            raise self.error(f"damaged IOHeader ({exc})", len(head)) from None
        if self.compression not in COMPRESSIONS:
            raise self.error(f"unknown compression {self.compression} in the IOHeader", len(head))
        self.data_offset = len(head) + size
        self.packets_read = 0
        self.events_stream = self._pick(stream)
        if width is None and height is None and self.events_stream["width"] and self.events_stream["height"]:
            self.width, self.height = self.events_stream["width"], self.events_stream["height"]
        self.metadata = {"compression": COMPRESSIONS[self.compression], "streams": self.streams,
                         "events_stream": self.events_stream["id"], "data_table_position": self.table_position}

    def _pick(self, stream: int | str | None) -> dict[str, Any]:
        events = [s for s in self.streams if s["type"] == "EVTS"]
        if stream is not None:
            events = [s for s in events if stream in (s["id"], s["name"], str(s["id"]))]
        if not events:
            listed = ", ".join(f"{s['id']}:{s['name']}({s['type']})" for s in self.streams) or "none"
            want = f" named {stream!r}" if stream is not None else ""
            raise self.error(f"no events (EVTS) stream{want} (streams: {listed})")
        return events[0]

    def blocks(self) -> Iterator[np.ndarray]:
        """Events of the chosen stream. :data:`DECODE_THREADS` threads decompress packets a few
        batches ahead and check them (LZ4, zstd and the Numba kernels release the GIL; an LZ4
        batch is one block from one kernel call, other packets are a block each);
        this thread only reads the file, lists each chunk's packets in one Numba call
        (:func:`~evstream.io.aedat4_kernels.packet_spans`), checks that each packet starts at or
        after the previous one's last time, and hands the packets out in file order.

        The decompressed packets are freed soon after they are handed out, by whichever thread
        holds them last; :func:`~evstream.allocator.keep_freed_buffers` keeps that memory for the
        next ones (without it, 6x more page faults and 30 % longer reads on the bench file)."""
        keep_freed_buffers()
        decompress = _decompressor(self.compression)
        w, h = self.limits
        state = np.zeros(2, np.int64)
        state[0] = np.iinfo(np.int64).min

        lz4_decode = lz4_block_decoder() if self.compression in (1, 2) else None

        def unpack(pos: int, chunk: memoryview, starts: np.ndarray,
                   sizes: np.ndarray) -> list[tuple[np.ndarray, int | None, int]]:
            block = None if lz4_decode is None else _lz4_block(lz4_decode, chunk, starts, sizes, w, h)
            if block is not None:
                return [block]
            return [self._unpack(decompress, pos + at - 8, chunk[at:at + size], w, h)
                    for at, size in zip(starts.tolist(), sizes.tolist())]

        with ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="evstream-aedat4") as pool:
            pending: deque[Future] = deque()
            for part in itertools.chain(self._batches(self.events_stream["id"]), [None]):
                if part is not None:
                    pending.append(pool.submit(unpack, *part))
                while pending and (part is None or len(pending) > 2 * DECODE_THREADS):
                    for events, first_t, last_t in pending.popleft().result():
                        if first_t is not None and first_t >= state[0]:
                            state[0] = last_t
                            yield events
                        elif len(events):
                            block = self._sanitized(events, state, w, h)
                            if len(block):
                                yield block
        self.dropped = int(state[1])

    def _unpack(self, decompress: Callable[[Any], bytes], offset: int, payload: memoryview,
                width: int, height: int) -> tuple[np.ndarray, int | None, int]:
        """The events of one packet payload (a zero-copy view of the decompressed flatbuffer), with
        their first and last time when the packet alone is valid (sorted, inside ``width x height``,
        polarity 0/1), else with ``None, 0``."""
        try:
            events = parse_event_packet(decompress(payload))
        except (BufferError, RuntimeError, ValueError, MemoryError, OverflowError, struct.error) as exc:
            raise FormatError(self.path, f"damaged events packet ({type(exc).__name__}: {exc})", offset) from None
        except Exception as exc:  # zstandard.ZstdError has no common base with the others
            if type(exc).__module__.split(".")[0] not in ("zstandard", "lz4", "_lz4"):
                raise
            raise FormatError(self.path, f"damaged events packet ({exc})", offset) from None
        raw = events.view(np.int64).reshape(-1, 2)
        if not len(raw) or first_invalid(raw, np.iinfo(np.int64).min, width, height) >= 0:
            return events, None, 0
        return events, int(raw[0, 0]), int(raw[-1, 0])

    @staticmethod
    def _sanitized(events: np.ndarray, state: np.ndarray, w: int, h: int) -> np.ndarray:
        """A copy of ``events`` with invalid events dropped or mended (see :func:`sanitize`;
        ``state``: [last t, dropped events])."""
        out = np.empty(len(events), EVENT_DTYPE)
        n = sanitize(events.view(np.int64).reshape(-1, 2), out.view(np.int64).reshape(-1, 2), state, w, h)
        return out[:n]

    def data_table(self) -> list[tuple[int, int, int, int]] | None:
        """The FileDataTable as ``(packet offset, stream id, first t, last t)`` rows, or ``None``
        when the file has none or it is damaged (then readers scan the packets)."""
        if self.table_position < self.data_offset:
            return None
        fh = self.fh
        fh.seek(self.table_position)
        try:
            buf = _decompressor(self.compression)(fh.read())
            if buf[8:12] != b"FTAB":
                return None
            field = fb.table_field(buf, fb.root_table(buf, 4), 0)
            vec = field + fb.read_u32(buf, field)
            rows = []
            for k in range(fb.read_u32(buf, vec)):
                item = vec + 4 + 4 * k
                entry = item + fb.read_u32(buf, item)
                pos = [fb.table_field(buf, entry, i) for i in (0, 1, 3, 4)]
                if None in pos:
                    return None
                rows.append((struct.unpack_from("<q", buf, pos[0])[0] - 8, struct.unpack_from("<i", buf, pos[1])[0],
                             struct.unpack_from("<q", buf, pos[2])[0], struct.unpack_from("<q", buf, pos[3])[0]))
            return rows
        except Exception:  # noqa: BLE001 - any damage in an optional index means "no index"
            return None

    def _batches(self, want: int) -> Iterator[tuple[int, memoryview, np.ndarray, np.ndarray]]:
        """:meth:`_packets` cut into tasks of at most :data:`BATCH_PACKETS` packets."""
        for pos, chunk, starts, sizes in self._packets(want):
            for i in range(0, len(starts), BATCH_PACKETS):
                yield pos, chunk, starts[i:i + BATCH_PACKETS], sizes[i:i + BATCH_PACKETS]

    def _first_packet(self, want: int) -> int:
        """File offset to start reading at: the first packet of ``want`` that may hold events at or
        after :attr:`seek_us` (from the data table), else the first packet."""
        if self.seek_us is None:
            return self.data_offset
        table = self.data_table()
        if not table:
            return self.data_offset
        for offset, stream_id, _, t_last in table:
            if stream_id == want and t_last >= self.seek_us and offset >= self.data_offset:
                return offset
        return self.table_position

    def _packets(self, want: int) -> Iterator[tuple[int, memoryview, np.ndarray, np.ndarray]]:
        """The packets of stream ``want``, a chunk at a time: ``(file offset of the chunk, chunk, payload
        offsets in the chunk, payload sizes)``. The file is read ``chunk_bytes`` at a time, each chunk
        into a new buffer (immutable, so other threads may read it); a packet cut by a chunk's end
        starts the next chunk."""
        fh = self.fh
        end = fh.seek(0, 2)
        if self.table_position >= self.data_offset:
            end = min(end, self.table_position)
        pos = self._first_packet(want)  # file offset of the next packet header
        need = 8  # bytes the next chunk must hold: a header, or a whole packet larger than a chunk
        while pos < end:
            fh.seek(pos)
            asked = min(max(self.chunk_bytes, need), end - pos)
            buf = fh.read(asked)
            if len(buf) < asked:  # the file shrank while it was read
                end = pos + len(buf)
            if len(buf) < 8:
                self.warn_partial("the file ends inside a packet header", pos)
                return
            starts = np.empty(len(buf) // 8 + 1, np.int64)
            sizes = np.empty_like(starts)
            n, at, status, size = packet_spans(np.frombuffer(buf, np.uint8), pos, end, want, MAX_PACKET_BYTES,
                                               starts, sizes)
            if n:
                self.packets_read += n
                yield pos, memoryview(buf), starts[:n], sizes[:n]
            if status == SPANS_BAD_SIZE:
                raise self.error(f"bad packet size {size}", pos + at)
            if status == SPANS_PAST_END:
                self.warn_partial(f"packet of {size} bytes runs past the end of the file", pos + at)
                return
            need = 8 + size if at == 0 else 8
            pos += at


PACKET_EVENTS = 4096
"""Events per written packet (faery's encoder uses the same cap)."""
COMPRESSION_IDS = {"none": 0, "lz4": 1, "zstd": 3}
INFO_XML = """<dv version="2.0">
    <node name="outInfo" path="/mainloop/Recorder/outInfo/">
        <node name="0" path="/mainloop/Recorder/outInfo/0/">
            <attr key="compression" type="string">{compression}</attr>
            <attr key="originalModuleName" type="string">evstream</attr>
            <attr key="originalOutputName" type="string">events</attr>
            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>
            <attr key="typeIdentifier" type="string">EVTS</attr>
            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                <attr key="sizeX" type="int">{width}</attr>
                <attr key="sizeY" type="int">{height}</attr>
                <attr key="source" type="string">{source}</attr>
            </node>
        </node>
    </node>
</dv>
"""


class Aedat4Writer(EventWriter):
    """AEDAT 4 file with one events stream (id 0), readable by dv-processing, faery and aedat.

    Args:
        compression: ``"lz4"`` (DV's default), ``"zstd"`` or ``"none"``.
        source: camera name stored in the stream description.

    Packets hold up to :data:`PACKET_EVENTS` events; the IOHeader's data-table
    position is -1 (no table: readers scan the packets, as for a file whose
    recorder stopped without finishing).
    """

    format = "aedat4"
    max_size = 32767

    def __init__(self, path: str | Path, width: int, height: int, compression: str = "lz4",
                 source: str = "evstream") -> None:
        super().__init__(path, width, height)
        if compression not in COMPRESSION_IDS:
            raise WriteError(f"{self.path}: AEDAT 4 compression must be one of {', '.join(COMPRESSION_IDS)} "
                             f"(got {compression!r})")
        self.compression = compression
        if compression == "lz4":
            import lz4.frame

            self._compress = lz4.frame.compress
        elif compression == "zstd":
            import zstandard

            self._compress = zstandard.ZstdCompressor().compress
        else:
            self._compress = bytes
        info = INFO_XML.format(compression=compression.upper(), width=self.width, height=self.height,
                               source=escape(source)).encode()
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in _close
        self.fh.write(MAGIC + fb.io_header(COMPRESSION_IDS[compression], -1, info))

    def _write(self, events: np.ndarray) -> None:
        events = zeroed_padding(events)
        for i in range(0, len(events), PACKET_EVENTS):
            part = events[i:i + PACKET_EVENTS]
            payload = self._compress(fb.event_packet_prefix(len(part)) + part.tobytes())
            self.fh.write(_PACKET_HEADER.pack(0, len(payload)))
            self.fh.write(payload)

    def _close(self) -> None:
        self.fh.close()
