"""Format registry: which decoder reads which file, detected from the content first.

Detection (``shared/spec/formats.md`` section 16): AEDAT files start with their
``#!AER-DATx.y`` version line; Prophesee RAW and DAT files with ``% `` header
lines (RAW names its encoding in a ``format`` or ``evt`` key; DAT has
``Version``/``Data file containing`` lines and no ``% end``); NumPy, zip (npz)
and HDF5 files with their magic numbers; CSV is text whose first line is a
header or four integers. Only N-MNIST ``.bin``/``.bs2`` files, which have no
header at all, are recognised by their extension.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from evstream.io.aedat import Aedat2Decoder, Aedat3Decoder
from evstream.io.aedat4 import MAGIC as AEDAT4_MAGIC
from evstream.io.aedat4 import Aedat4Decoder, Aedat4Writer
from evstream.io.arrays import CsvDecoder, CsvWriter, NpyDecoder, NpyWriter, NpzDecoder, NpzWriter
from evstream.io.decoder import Decoder
from evstream.io.errors import FormatError, WriteError
from evstream.io.hdf5 import MAGIC as HDF5_MAGIC
from evstream.io.hdf5 import Hdf5Decoder, Hdf5Writer
from evstream.io.nmnist import NmnistDecoder
from evstream.io.prophesee import DatDecoder, RawDecoder, RawWriter, parse_raw_header, raw_encoding
from evstream.io.writer import EventWriter

__all__ = ["DECODERS", "FORMATS", "WRITERS", "detect", "open_writer", "writer_format"]

DECODERS: dict[str, type[Decoder]] = {
    "aedat2": Aedat2Decoder,
    "aedat3": Aedat3Decoder,
    "aedat4": Aedat4Decoder,
    "evt2": RawDecoder,
    "evt21": RawDecoder,
    "evt3": RawDecoder,
    "dat": DatDecoder,
    "nmnist": NmnistDecoder,
    "npy": NpyDecoder,
    "npz": NpzDecoder,
    "csv": CsvDecoder,
    "hdf5": Hdf5Decoder,
}
"""Format name -> decoder class (the RAW encodings share one decoder)."""

FORMATS: tuple[str, ...] = tuple(DECODERS)

WRITERS: dict[str, tuple[type[EventWriter], dict[str, Any]]] = {
    "aedat4": (Aedat4Writer, {}),
    "evt2": (RawWriter, {"encoding": "evt2"}),
    "evt3": (RawWriter, {"encoding": "evt3"}),
    "hdf5": (Hdf5Writer, {}),
    "npy": (NpyWriter, {}),
    "npz": (NpzWriter, {}),
    "csv": (CsvWriter, {}),
}
"""Writable format -> (writer class, fixed options)."""

WRITE_EXTENSIONS = {".aedat4": "aedat4", ".raw": "evt3", ".evt3": "evt3", ".evt2": "evt2", ".h5": "hdf5",
                    ".hdf5": "hdf5", ".hdf": "hdf5", ".npy": "npy", ".npz": "npz", ".csv": "csv"}
"""Output extension -> format (``.raw`` defaults to EVT 3.0)."""


def writer_format(path: Path, format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` when given, else from the extension."""
    if format is not None:
        if format not in WRITERS:
            raise WriteError(f"{path}: cannot write format {format!r} (writable: {', '.join(WRITERS)})")
        return format
    try:
        return WRITE_EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise WriteError(f"{path}: cannot tell the output format from the extension {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(WRITE_EXTENSIONS)} or give format=") from None


def open_writer(path: str | Path, width: int, height: int, format: str | None = None, **options: Any) -> EventWriter:
    """A streaming writer for ``path`` (format from ``format`` or the extension).

    ``options`` go to the writer: ``compression`` and ``source`` for AEDAT 4.
    Use it as a context manager, or call ``close()``.
    """
    path = Path(path)
    cls, fixed = WRITERS[writer_format(path, format)]
    try:
        return cls(path, width, height, **fixed, **options)
    except TypeError as exc:
        raise WriteError(f"{path}: {exc}") from None
    except OSError as exc:
        raise WriteError(f"{path}: cannot create the file ({exc.strerror})") from None
NMNIST_EXTENSIONS = (".bin", ".bs2")
HEAD_BYTES = 1 << 16
_CSV_FIRST_LINE = re.compile(rb"^\s*(-?\d+\s*,\s*){3}-?\d+\s*$|^\s*[a-zA-Z@0-9_]+(\s*,\s*[a-zA-Z@0-9_]+){3}\s*$")


def detect(path: Path, head: bytes) -> str:
    """Format name of the file whose first bytes are ``head``; raises :class:`FormatError`."""
    if not head:
        raise FormatError(path, "empty file (0 bytes)")
    if head.startswith(AEDAT4_MAGIC[:12]):
        return "aedat4"
    if head.startswith(b"#!AER-DAT3"):
        return "aedat3"
    if head.startswith(b"#!AER-DAT2"):
        return "aedat2"
    if head.startswith(b"#"):
        version = head.split(b"\n", 1)[0].strip().decode("latin-1")
        raise FormatError(path, f"AEDAT version {version[:24]!r} is not supported "
                          "(evstream reads AEDAT 2.0, 3.1 and 4)", 0)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(b"% "):
        return _percent_format(path, head)
    first_line = head.split(b"\n", 1)[0]
    if b"," in first_line and _CSV_FIRST_LINE.match(first_line):
        return "csv"
    if path.suffix.lower() in NMNIST_EXTENSIONS:
        return "nmnist"
    raise FormatError(path, f"not a recognised event-camera recording (no known header; extension "
                      f"{path.suffix or 'none'!r}); give the format (format=... or --format) for headerless data", 0)


def _percent_format(path: Path, head: bytes) -> str:
    lines = []
    for raw in head.split(b"\n")[:-1]:
        if not raw.startswith(b"% "):
            break
        lines.append(raw[2:].rstrip(b"\r").decode("latin-1"))
        if raw.strip() == b"% end":
            break
    header = parse_raw_header(lines)
    encoding = raw_encoding(header)
    if encoding is not None:
        return encoding
    if "format" in header or "evt" in header:
        found = header.get("format") or header.get("evt")
        raise FormatError(path, f"Prophesee RAW encoding {found!r} is not supported (EVT 2.0, 2.1, 3.0 are)", 0)
    if {"Version", "Width", "Height", "Data", "Date"} & set(header) and "end" not in (ln.strip() for ln in lines):
        return "dat"
    if path.suffix.lower() == ".dat":
        return "dat"
    raise FormatError(path, "'%' header without a format/evt key: pass format='evt2'/'evt3' for a RAW file", 0)
