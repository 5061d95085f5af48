"""Exact, streaming readers and writers for event-camera recordings.

>>> import evstream.io as eio
>>> rec = eio.open("recording.raw", window_us=10_000)   # doctest: +SKIP
>>> for packet in rec: ...                             # EventPacket per 10 ms, constant memory
>>> events = eio.read("recording.aedat4")               # doctest: +SKIP
>>> eio.write("copy.h5", events, width=rec.width, height=rec.height)  # doctest: +SKIP

Formats (detected from the content): AEDAT 2.0, 3.1 and 4; Prophesee RAW EVT 2.0,
2.1 and 3.0 and DAT; N-MNIST ``.bin`` / SLAYER ``.bs2``; ``.npy``, ``.npz``, CSV and
HDF5. Writers: AEDAT 4, EVT 2.0, EVT 3.0, HDF5, ``.npy``, ``.npz``, CSV.
"""

from __future__ import annotations

from evstream.io.errors import FormatError, GeometryWarning, PartialReadWarning, WriteError
from evstream.io.formats import FORMATS, WRITERS, detect, open_writer
from evstream.io.recording import Recording, open, read, write
from evstream.io.writer import EventWriter

__all__ = [
    "EventWriter",
    "FORMATS",
    "WRITERS",
    "FormatError",
    "GeometryWarning",
    "PartialReadWarning",
    "Recording",
    "WriteError",
    "detect",
    "open",
    "open_writer",
    "read",
    "write",
]
