"""Prophesee files: readers for RAW (EVT 2.0, EVT 2.1, EVT 3.0) and DAT, a writer for RAW EVT 2.0 / 3.0.

Times are absolute sensor time in µs as stored (no time shifting, unlike
OpenEB's ``EventsIterator``), plus the ``evstream_t_offset_us`` header value
when the file was written by evstream from a recording whose clock exceeds the
format's range. Events before the first TIME_HIGH word have no time base and
are skipped, as OpenEB does. Byte layouts: ``shared/spec/formats.md`` sections 6-10.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from evstream.io import prophesee_kernels as pk
from evstream.io import time32_kernels as tk
from evstream.io.decoder import CHUNK_BYTES, Decoder, decode_chunks, read_text_header
from evstream.io.errors import WriteError
from evstream.io.writer import EventWriter

__all__ = ["DatDecoder", "RawDecoder", "RawWriter", "parse_raw_header", "raw_encoding"]

OFFSET_KEY = "evstream_t_offset_us"
"""Header key written by evstream's RAW writer: µs to add to every decoded time."""
MAX_OFFSET_US = 1 << 62
"""Largest accepted time offset (µs): decoded times plus it stay inside int64."""

SENSOR_GEOMETRY = (
    (re.compile(r"gen3|atis", re.I), (640, 480)),
    (re.compile(r"gen4|imx636|evk4|evk3_hd|imx490", re.I), (1280, 720)),
    (re.compile(r"imx8|genx320|320x320", re.I), (320, 320)),
)
"""Sensor size by plugin / generation name, for headers without a geometry (as OpenEB maps them)."""

ENCODINGS = {"EVT2": "evt2", "EVT2.0": "evt2", "2.0": "evt2", "EVT21": "evt21", "EVT2.1": "evt21",
             "2.1": "evt21", "EVT3": "evt3", "EVT3.0": "evt3", "3.0": "evt3"}


def parse_raw_header(lines: list[str]) -> dict[str, str]:
    """``% key value`` lines (prefix already stripped) as a dict; later keys win."""
    header: dict[str, str] = {}
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if key and key != "end":
            header[key] = value.strip()
    return header


def raw_encoding(header: dict[str, str]) -> str | None:
    """``"evt2"``, ``"evt21"`` or ``"evt3"`` from the ``format`` (or legacy ``evt``) key."""
    fmt = header.get("format", "").split(";")[0].strip().upper()
    if fmt:
        return ENCODINGS.get(fmt)
    return ENCODINGS.get(header.get("evt", "").strip())


def _format_options(header: dict[str, str]) -> dict[str, str]:
    parts = header.get("format", "").split(";")[1:]
    return dict(p.strip().split("=", 1) for p in parts if "=" in p)


def _raw_geometry(header: dict[str, str]) -> tuple[int, int] | None:
    opts = _format_options(header)
    try:
        if "width" in opts and "height" in opts:
            return int(opts["width"]), int(opts["height"])
        m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", header.get("geometry", ""))
        if m:
            return int(m.group(1)), int(m.group(2))
    except ValueError:
        return None
    names = " ".join(header.get(k, "") for k in ("plugin_name", "sensor_generation", "sensor_name"))
    for pattern, size in SENSOR_GEOMETRY:
        if pattern.search(names):
            return size
    return None


class RawDecoder(Decoder):
    """Prophesee RAW file: ``% key value`` header then EVT 2.0 / 2.1 / 3.0 words.

    ``encoding`` (``"evt2"``, ``"evt21"``, ``"evt3"``) is used when the header does not name one
    (headerless dumps of a camera's USB stream).
    """

    name = "raw"
    description = "Prophesee RAW (EVT 2.0, EVT 2.1, EVT 3.0)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES, encoding: str | None = None) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        lines, self.data_offset, cut = read_text_header(fh, b"% ", b"% end")
        self.header = parse_raw_header(lines)
        encoding = raw_encoding(self.header) or encoding
        if encoding is None:
            found = self.header.get("format") or self.header.get("evt") or "none"
            raise self.error(f"unsupported or missing RAW encoding (format/evt header key: {found!r}); "
                             "evstream reads EVT 2.0, EVT 2.1 and EVT 3.0", 0)
        self.encoding = encoding
        self.name = encoding
        self.header_cut = cut
        geometry = _raw_geometry(self.header)
        if geometry is not None and width is None and height is None:
            self.width, self.height = geometry
        try:
            self.t_offset = int(self.header.get(OFFSET_KEY, "0"))
        except ValueError:
            raise self.error(f"header key {OFFSET_KEY} is not an integer", 0) from None
        if not 0 <= self.t_offset < MAX_OFFSET_US:
            raise self.error(f"header key {OFFSET_KEY} {self.t_offset} µs is outside 0..2^62", 0)
        self.metadata = {"header": self.header, "encoding": encoding, "data_offset": self.data_offset}

    def blocks(self) -> Iterator[np.ndarray]:
        if self.header_cut:
            self.warn_partial("the file ends inside the '%' header: no event data", self.data_offset)
            return
        w, h = self.limits
        if self.encoding == "evt2":
            state = np.zeros(pk.EVT2_STATE, np.int64)
            it = decode_chunks(self, self.data_offset, "<u4", 1, pk.decode_evt2, (state, w, h, False), 1.0)
        elif self.encoding == "evt21":
            state = np.zeros(pk.EVT2_STATE, np.int64)
            legacy = _format_options(self.header).get("endianness", "").lower() == "legacy"
            it = decode_chunks(self, self.data_offset, "<u8", 1, pk.decode_evt2, (state, w, h, legacy), 4.0)
        else:
            state = np.zeros(pk.EVT3_STATE, np.int64)
            it = decode_chunks(self, self.data_offset, "<u2", 1, pk.decode_evt3, (state, w, h), 1.0,
                               split=(pk.EVT3_STATE - 1, _evt3_sync))
        for block in it:
            if self.t_offset:
                block["t"] += self.t_offset
            yield block
        self.dropped = int(state[-1])  # every RAW decoder state ends with its dropped-event count


EVT3_SYNC_SCAN = 1 << 20
"""Words :func:`_evt3_sync` looks back for a TIME_HIGH word, at most."""


def _evt3_sync(words: np.ndarray, unit: int) -> int:
    """The last EVT 3.0 TIME_HIGH word at or before ``unit`` (within :data:`EVT3_SYNC_SCAN` words), or -1.

    Looks back 4096 words, then 4 times as far each time (TIME_HIGH comes every 4096 µs)."""
    reach, hi = 1 << 12, unit + 1
    while hi > 0 and unit + 1 - hi < EVT3_SYNC_SCAN:
        lo = max(0, hi - reach)
        found = np.flatnonzero((words[lo:hi] >> 12) == 0x8)
        if len(found):
            return lo + int(found[-1])
        hi, reach = lo, reach * 4
    return -1


class DatDecoder(Decoder):
    """Prophesee DAT file: ``% key value`` header, 2 bytes (event type, size), 8-byte CD records."""

    name = "dat"
    description = "Prophesee DAT (CD events)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        lines, offset, cut = read_text_header(fh, b"% ")
        if not lines:
            raise self.error("no '% ' header: not a Prophesee DAT file", 0)
        self.header = parse_raw_header(lines)
        self.version = 1 if self.header.get("Version", "2").strip() == "1" else 2
        type_size = fh.read(2) if not cut else b""
        self.data_offset = offset + len(type_size)
        self.truncated = len(type_size) < 2
        if not self.truncated:
            ev_type, ev_size = type_size[0], type_size[1]
            if ev_type == 14:
                raise self.error("holds external-trigger events (type 14), not CD events", offset)
            if ev_type not in (0, 12) or ev_size != 8:
                raise self.error(f"unsupported DAT event type {ev_type} of {ev_size} bytes "
                                 "(evstream reads CD events: type 0 or 12, 8 bytes)", offset)
        try:
            if width is None and height is None and "Width" in self.header and "Height" in self.header:
                self.width, self.height = int(self.header["Width"]), int(self.header["Height"])
        except ValueError:
            raise self.error("the Width/Height header lines are not integers", 0) from None
        self.metadata = {"header": self.header, "version": self.version, "data_offset": self.data_offset}

    def blocks(self) -> Iterator[np.ndarray]:
        if self.truncated:
            self.warn_partial("the file ends before the event type and size bytes", self.data_offset)
            return
        w, h = self.limits
        state = np.zeros(tk.TIME32_STATE, np.int64)
        layout = tk.DAT_V1 if self.version == 1 else tk.DAT_V2
        yield from decode_chunks(self, self.data_offset, "<u8", 1, tk.decode_time32, (state, layout, w, h),
                                 1.0, "record")
        self.dropped = int(state[3])


RAW_LOOP_BITS = {"evt2": 34, "evt3": 24}
"""Bits of sensor time each encoding carries before its counter wraps."""


class RawWriter(EventWriter):
    """Prophesee RAW file in EVT 2.0 or EVT 3.0, with OpenEB's header keys.

    Args:
        encoding: ``"evt3"`` (default; IMX636 sensors) or ``"evt2"``.

    EVT 3 words: TIME_HIGH for every 4096 µs step crossed (so every reader sees
    each 2^24 µs wrap), TIME_LOW when the low 12 bits change, ADDR_Y when y
    changes, one ADDR_X per event. EVT 2: a TIME_HIGH per 64 µs step, one CD word
    per event. When the first time does not fit the format's counter (2^24 µs for
    EVT 3, 2^34 µs for EVT 2: e.g. AEDAT 4 epoch times), a multiple of that span is
    subtracted and recorded as ``% evstream_t_offset_us``, which evstream adds back
    (other readers see the times shifted by it).
    """

    format = "raw"
    max_size = 2048

    def __init__(self, path: str | Path, width: int, height: int, encoding: str = "evt3") -> None:
        if encoding not in RAW_LOOP_BITS:
            raise WriteError(f"{path}: RAW encoding must be 'evt2' or 'evt3' (got {encoding!r})")
        self.format = encoding
        super().__init__(path, width, height)
        self.encoding = encoding
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in _close
        self.offset: int | None = None
        self.state = np.full(3 if encoding == "evt3" else 1, -1, np.int64)

    def _header(self, offset: int) -> bytes:
        name = "EVT3" if self.encoding == "evt3" else "EVT2"
        lines = [f"date {time.strftime('%Y-%m-%d %H:%M:%S')}",
                 f"evt {'3.0' if self.encoding == 'evt3' else '2.0'}",
                 f"format {name};height={self.height};width={self.width}",
                 f"geometry {self.width}x{self.height}",
                 "integrator_name evstream"]
        if offset:
            lines.append(f"{OFFSET_KEY} {offset}")
        return "".join(f"% {line}\n" for line in lines + ["end"]).encode()

    def _write(self, events: np.ndarray) -> None:
        if self.offset is None:
            bits = RAW_LOOP_BITS[self.encoding]
            self.offset = (int(events["t"][0]) >> bits) << bits
            self.fh.write(self._header(self.offset))
        if self.offset:
            events = events.copy()
            events["t"] -= self.offset
        raw = events.view(np.int64).reshape(-1, 2)
        if self.encoding == "evt3":
            kernel, out = pk.encode_evt3, np.empty(4 * len(events) + 4096, np.uint16)
        else:
            kernel, out = pk.encode_evt2, np.empty(2 * len(events) + 4096, np.uint32)
        i = 0
        while i < len(events):
            k, i = kernel(raw, i, out, self.state)
            self.fh.write(out[:k].tobytes())

    def _close(self) -> None:
        if self.offset is None:
            self.fh.write(self._header(0))
        self.fh.close()
