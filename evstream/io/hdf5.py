"""HDF5 event files: evstream's layout (read and write) and Prophesee's (read, needs the ECF plugin).

evstream layout (version 1), readable by any HDF5 tool without plugins:

* group ``/events`` with four 1-D datasets of equal length: ``t`` int64 (µs),
  ``x`` uint16, ``y`` uint16 (pixels, origin top-left), ``p`` uint8 (1 = ON);
  chunked (``CHUNK_EVENTS`` events), gzip level 1 with the shuffle filter,
  resizable (maximum shape unlimited) so writers can append;
* attributes on ``/events``: ``width``, ``height`` (pixels), ``layout`` =
  ``"evstream-events"`` (a fixed-length ASCII string), ``version`` = 1.

Prophesee's Metavision layout stores a compound dataset ``/CD/events`` (fields
x, y, p, t) compressed with the ECF codec; h5py reads it only when the ECF
filter plugin is on ``HDF5_PLUGIN_PATH`` (prophesee-ai/hdf5_ecf).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from evstream.errors import require
from evstream.io.arrays import check_block, to_event_block
from evstream.io.decoder import CHUNK_BYTES, Decoder
from evstream.io.errors import FormatError
from evstream.io.writer import EventWriter

__all__ = ["CHUNK_EVENTS", "LAYOUT", "MAGIC", "Hdf5Decoder", "Hdf5Writer"]

MAGIC = b"\x89HDF\r\n\x1a\n"
LAYOUT = "evstream-events"
CHUNK_EVENTS = 1 << 16
FIELDS = (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1"))
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError)
"""What h5py raises on a damaged file (broken links, bad attributes, failing filters)."""


def open_h5(path: Path, mode: str = "r"):  # noqa: ANN201 - returns an h5py.File
    h5py = require("h5py", "h5py", "hdf5", "HDF5 event files")
    return h5py.File(path, mode)


def _fixed_attr(attrs: Any, name: str, default: str) -> str:
    """A string attribute stored with a fixed length, else ``default``. Variable-length strings live in
    the file's global heap, which libhdf5 can loop on for minutes when it is damaged (found by fuzzing),
    so they are not read; evstream writes ``layout`` with a fixed length."""
    if name not in attrs or attrs.get_id(name).dtype.kind != "S":
        return default
    return bytes(attrs[name]).decode("latin-1")


class Hdf5Decoder(Decoder):
    """HDF5 events: evstream's ``/events`` group or Prophesee's ``/CD/events``."""

    name = "hdf5"
    description = "HDF5 (evstream layout; Prophesee CD/events with the ECF plugin)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        try:
            self.h5 = open_h5(path)
        except OSError as exc:
            raise self.error(f"not a readable HDF5 file ({exc})", 0) from None
        try:
            self._parse(width, height)
        except FormatError:
            self.h5.close()
            raise
        except H5_ERRORS as exc:
            self.h5.close()
            raise self.error(f"damaged HDF5 file ({type(exc).__name__}: {exc})") from None

    def _parse(self, width: int | None, height: int | None) -> None:
        """Find the events (evstream or Prophesee layout) and the geometry; h5py errors propagate."""
        if "events" in self.h5 and all(k in self.h5["events"] for k, _ in FIELDS):
            group = self.h5["events"]
            self.columns = {k: group[k] for k, _ in FIELDS}
            attrs = group.attrs
            self.metadata = {"layout": _fixed_attr(attrs, "layout", ""), "version": int(attrs.get("version", 0))}
            self.prophesee = False
        elif "CD" in self.h5 and "events" in self.h5["CD"]:
            self.columns = {}
            self.cd = self.h5["CD"]["events"]
            attrs = self.h5.attrs
            self.metadata = {"layout": "prophesee"}
            self.prophesee = True
        else:
            raise self.error(f"no /events group with t, x, y, p datasets nor /CD/events (found {sorted(self.h5)})")
        if width is None and height is None:
            geometry = attrs.get("geometry", "")
            geometry = geometry.decode("latin-1") if isinstance(geometry, bytes) else str(geometry)
            if "width" in attrs and "height" in attrs:
                self.width, self.height = int(attrs["width"]), int(attrs["height"])
            elif "x" in geometry:
                self.width, self.height = (int(v) for v in geometry.split("x"))
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) > 1:
            raise self.error(f"datasets t, x, y, p differ in length ({sorted(lengths)})")

    def __len__(self) -> int:
        return len(self.cd) if self.prophesee else len(self.columns["t"])

    def blocks(self) -> Iterator[np.ndarray]:
        step = max(1, self.chunk_bytes // 16)
        last_t = np.iinfo(np.int64).min
        for i in range(0, len(self), step):
            if self.prophesee:
                try:
                    part = self.cd[i:i + step]
                except OSError as exc:
                    raise self.error(f"cannot read /CD/events ({exc}); Prophesee HDF5 needs the ECF filter "
                                     "plugin on HDF5_PLUGIN_PATH (github.com/prophesee-ai/hdf5_ecf)") from None
                cols = {k: part[k] for k in ("t", "x", "y", "p")}
                cols["p"] = (cols["p"] > 0).astype(np.uint8)
            else:
                try:
                    cols = {k: c[i:i + step] for k, c in self.columns.items()}
                except H5_ERRORS as exc:
                    raise self.error(f"cannot read events {i}..{i + step} ({type(exc).__name__}: {exc})") from None
            block = to_event_block(self, cols, None)
            last_t = check_block(self, block, last_t, None, i)
            yield block

    def close(self) -> None:
        self.h5.close()


class Hdf5Writer(EventWriter):
    """HDF5 file in evstream's layout (module docstring), appended chunk by chunk."""

    format = "hdf5"

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        super().__init__(path, width, height)
        self.h5 = open_h5(self.path, "w")
        group = self.h5.create_group("events")
        group.attrs.update({"width": self.width, "height": self.height, "layout": np.bytes_(LAYOUT), "version": 1})
        self.datasets = {name: group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                                    chunks=(CHUNK_EVENTS,), compression="gzip",
                                                    compression_opts=1, shuffle=True)
                         for name, dtype in FIELDS}

    def _write(self, events: np.ndarray) -> None:
        n0 = self.count
        for name, ds in self.datasets.items():
            ds.resize((n0 + len(events),))
            ds[n0:] = events[name]

    def _close(self) -> None:
        self.h5.close()
