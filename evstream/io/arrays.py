"""NumPy ``.npy`` / ``.npz`` and CSV event files: readers and writers.

* ``.npy``: one structured array with fields ``t, x, y`` and ``p`` (or ``on``),
  any integer/bool field types (evstream, tonic, faery layouts). Read through a
  memory map, so streaming it takes constant memory. Writing streams
  :data:`~evstream.events.EVENT_DTYPE` records and fixes the length in the
  header on close. ``.npy`` has no place for the sensor size: it is inferred on read.
* ``.npz``: an ``events`` structured array, or ``t``, ``x``, ``y``, ``p`` (or ``on``)
  arrays, plus optional ``width`` and ``height`` scalars.
* CSV: integer columns ``t`` (µs), ``x``, ``y``, ``p``. The header line names the
  columns in any order (``t``/``timestamp``, ``x``, ``y``, ``p``/``on``/``polarity``);
  faery's ``t,x@640,y@480,on`` carries the sensor size and is what the writer emits.
  Without a header the order is ``t,x,y,p``.

Array files must hold sorted times and pixels inside the stated geometry; a
file that does not raises :class:`~evstream.io.FormatError` (nothing is reordered).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from evstream.events import EVENT_DTYPE, concat_events
from evstream.io.csv_kernels import CSV_ERRORS, CSV_OK, parse_int_rows
from evstream.io.decoder import CHUNK_BYTES, MAX_BLOCK_EVENTS, Decoder
from evstream.io.record_kernels import first_invalid
from evstream.io.writer import EventWriter, zeroed_padding

__all__ = ["CsvDecoder", "CsvWriter", "NpyDecoder", "NpyWriter", "NpzDecoder", "NpzWriter", "check_block",
           "to_event_block"]

POLARITY_NAMES = ("p", "on", "polarity")
TIME_NAMES = ("t", "timestamp", "ts")


def to_event_block(decoder: Decoder, columns: dict[str, np.ndarray], offset: int | None) -> np.ndarray:
    """Build an event block from named columns, raising FormatError on values that do not fit."""
    n = len(columns["t"])
    out = np.empty(n, EVENT_DTYPE)
    for name, hi in (("x", 65535), ("y", 65535), ("p", 1)):
        col = columns[name]
        if n and (col.min() < 0 or col.max() > hi):
            raise decoder.error(f"column {name!r} has values outside 0..{hi} ({col.min()}..{col.max()})", offset)
    if columns["t"].dtype.kind not in "iub":
        raise decoder.error(f"times must be integer µs (found {columns['t'].dtype})", offset)
    out["t"] = columns["t"]
    out["x"] = columns["x"]
    out["y"] = columns["y"]
    out["p"] = columns["p"]
    return out


def check_block(decoder: Decoder, block: np.ndarray, last_t: int, offset: int | None, index: int) -> int:
    """Raise FormatError when ``block`` is unsorted or outside the geometry; return its last time."""
    if not len(block):
        return last_t
    w, h = decoder.limits
    bad = first_invalid(np.ascontiguousarray(block).view(np.int64).reshape(-1, 2), last_t, w, h)
    if bad >= 0:
        ev = block[bad]
        if int(ev["x"]) >= w or int(ev["y"]) >= h:
            what = f"pixel ({ev['x']}, {ev['y']}) lies outside the {w}x{h} sensor"
        else:
            what = f"time {ev['t']} µs is before the previous event's (events must be sorted by t)"
        raise decoder.error(f"event {index + bad}: {what}", offset)
    return int(block["t"][-1])


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, at most 200 characters (errors are one line)."""
    return (str(exc).splitlines() or [""])[0][:200]


def _columns(decoder: Decoder, array: np.ndarray) -> dict[str, np.ndarray]:
    names = array.dtype.names or ()
    pol = next((n for n in POLARITY_NAMES if n in names), None)
    if not {"t", "x", "y"} <= set(names) or pol is None:
        raise decoder.error(f"expected a structured array with fields t, x, y, p (or on); found {list(names) or array.dtype}")
    for name in ("t", "x", "y", pol):
        field = array.dtype[name]
        if field.kind not in "iub" or field.shape:  # e.g. a bytes field 'a2' or a sub-array '0u1'
            raise decoder.error(f"field {name!r} must be a single integer or bool per event (found {field.str})")
    return {"t": array["t"], "x": array["x"], "y": array["y"], "p": array[pol]}


class NpyDecoder(Decoder):
    """``.npy`` structured event array, memory-mapped."""

    name = "npy"
    description = "NumPy .npy structured event array"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many types (TokenError, SyntaxError...)
            raise self.error(f"not a readable .npy file ({type(exc).__name__}: {_first_line(exc)})", 0) from None
        if self.array.ndim != 1:
            raise self.error(f"expected a 1-D event array, found shape {self.array.shape}")
        _columns(self, self.array[:0])
        self.metadata = {"dtype": str(self.array.dtype)}

    def blocks(self) -> Iterator[np.ndarray]:
        step = max(1, self.chunk_bytes // max(1, self.array.dtype.itemsize))
        last_t = np.iinfo(np.int64).min
        for i in range(0, len(self.array), step):
            part = self.array[i:i + step]
            block = np.array(part) if part.dtype == EVENT_DTYPE else to_event_block(self, _columns(self, part), None)
            last_t = check_block(self, block, last_t, None, i)
            yield block


class NpzDecoder(Decoder):
    """``.npz`` with an ``events`` array or ``t, x, y, p`` columns, plus optional ``width``/``height``."""

    name = "npz"
    description = "NumPy .npz (events or t/x/y/p arrays, width, height)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy's header parser raise many types
            raise self.error(f"not a readable .npz file ({type(exc).__name__}: {_first_line(exc)})", 0) from None
        if "events" in data:
            self.columns = _columns(self, data["events"])
        else:
            pol = next((n for n in POLARITY_NAMES if n in data), None)
            if not {"t", "x", "y"} <= set(data) or pol is None:
                raise self.error(f"expected arrays 'events' or t, x, y, p; found {sorted(data)}")
            self.columns = {"t": data["t"], "x": data["x"], "y": data["y"], "p": data[pol]}
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) != 1:
            raise self.error(f"columns t, x, y, p differ in length ({sorted(lengths)})")
        if width is None and height is None and "width" in data and "height" in data:
            try:
                self.width, self.height = int(data["width"]), int(data["height"])
            except (TypeError, ValueError):
                raise self.error("the width/height arrays are not integer scalars (pixels)") from None

    def blocks(self) -> Iterator[np.ndarray]:
        block = to_event_block(self, self.columns, None)
        check_block(self, block, np.iinfo(np.int64).min, None, 0)
        yield block


_FAERY_COLUMN = re.compile(r"^([a-z]+)(?:@(\d+))?$")


class CsvDecoder(Decoder):
    """CSV of integer events; header optional (see the module docstring)."""

    name = "csv"
    description = "CSV (t,x,y,p; faery's t,x@W,y@H,on)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        fh.seek(0)
        first = fh.readline(4096).decode("latin-1").strip()
        self.order = ["t", "x", "y", "p"]
        self.data_offset = 0
        sizes: dict[str, int] = {}
        if re.search(r"[a-zA-Z]", first):
            names = []
            for cell in first.lower().split(","):
                m = _FAERY_COLUMN.match(cell.strip())
                if not m:
                    raise self.error(f"bad CSV header column {cell.strip()!r} (expected t, x, y, p)", 0)
                name = "t" if m.group(1) in TIME_NAMES else "p" if m.group(1) in POLARITY_NAMES else m.group(1)
                names.append(name)
                if m.group(2):
                    sizes[name] = int(m.group(2))
            if sorted(names) != ["p", "t", "x", "y"]:
                raise self.error(f"CSV header must name columns t, x, y, p (found {first!r})", 0)
            self.order = names
            self.data_offset = fh.tell()
        if width is None and height is None and "x" in sizes and "y" in sizes:
            self.width, self.height = sizes["x"], sizes["y"]
        self.metadata = {"columns": self.order}

    def blocks(self) -> Iterator[np.ndarray]:
        fh = self.fh
        fh.seek(self.data_offset)
        offset = self.data_offset  # file offset of buf[0]
        carry = b""
        last_t = np.iinfo(np.int64).min
        count = 0
        final = False
        while not final:
            chunk = fh.read(self.chunk_bytes)
            final = not chunk
            buf = carry + chunk if carry else chunk
            data = np.frombuffer(buf, np.uint8)
            pos = 0
            cap = min(MAX_BLOCK_EVENTS, len(buf) // 8 + 1)  # a row takes at least 8 bytes: "0,0,0,0\n"
            while True:
                table = np.empty((cap, 4), np.int64)
                first = offset + pos  # file offset of the block's first row
                rows, pos, status, where = parse_int_rows(data, pos, final, table)
                if status != CSV_OK:
                    raise self.error(f"bad CSV line: {CSV_ERRORS[status]}", offset + where)
                if rows:
                    block = to_event_block(self, {name: table[:rows, i] for i, name in enumerate(self.order)},
                                           first)
                    last_t = check_block(self, block, last_t, first, count)
                    count += rows
                    yield block
                if rows < cap:
                    break
            carry = buf[pos:]
            offset += pos


NPY_HEADER_BYTES = 256
"""Room reserved for the ``.npy`` header so the final length can be written in place."""


class NpyWriter(EventWriter):
    """``.npy`` of :data:`~evstream.events.EVENT_DTYPE` records, streamed; the length is fixed on close.

    ``.npy`` cannot store the sensor size: readers infer it (evstream warns).
    """

    format = "npy"

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        super().__init__(path, width, height)
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in _close
        self.fh.write(self._header(0))

    @staticmethod
    def _header(n: int) -> bytes:
        head = {"descr": np.lib.format.dtype_to_descr(EVENT_DTYPE), "fortran_order": False, "shape": (n,)}
        text = repr(head).encode("latin-1")
        pad = NPY_HEADER_BYTES - 10 - len(text) - 1
        return b"\x93NUMPY\x01\x00" + np.uint16(NPY_HEADER_BYTES - 10).tobytes() + text + b" " * pad + b"\n"

    def _write(self, events: np.ndarray) -> None:
        self.fh.write(zeroed_padding(events).tobytes())

    def _close(self) -> None:
        self.fh.seek(0)
        self.fh.write(self._header(self.count))
        self.fh.close()


class NpzWriter(EventWriter):
    """``.npz`` with an ``events`` array and ``width``/``height`` scalars; holds all events until close."""

    format = "npz"

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        super().__init__(path, width, height)
        self.parts: list[np.ndarray] = []

    def _write(self, events: np.ndarray) -> None:
        self.parts.append(events.copy())

    def _close(self) -> None:
        events = concat_events(self.parts)
        with open(self.path, "wb") as fh:
            np.savez(fh, events=events, width=np.int64(self.width), height=np.int64(self.height))
        self.parts = []


class CsvWriter(EventWriter):
    """CSV with faery's header ``t,x@W,y@H,on`` and one ``t,x,y,p`` line per event."""

    format = "csv"

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        super().__init__(path, width, height)
        self.fh = open(self.path, "w", newline="")  # noqa: SIM115 - closed in _close
        self.fh.write(f"t,x@{self.width},y@{self.height},on\n")

    def _write(self, events: np.ndarray) -> None:
        table = np.empty((len(events), 4), np.int64)
        for i, name in enumerate(("t", "x", "y", "p")):
            table[:, i] = events[name]
        np.savetxt(self.fh, table, fmt="%d", delimiter=",")

    def _close(self) -> None:
        self.fh.close()
