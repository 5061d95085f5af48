"""``evstream.io.open``: a recording as an iterable of :class:`~evstream.events.EventPacket`\\ s.

A :class:`Recording` parses the header on construction (format, geometry,
metadata) and decodes lazily: every iteration re-opens the file and streams it
chunk by chunk in constant memory, so a recording can be replayed (looped) any
number of times.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evstream.events import EventPacket, concat_events
from evstream.io.decoder import CHUNK_BYTES, NO_LIMIT, Decoder
from evstream.io.errors import FormatError, GeometryWarning, PartialReadWarning, user_stacklevel
from evstream.io.formats import DECODERS, HEAD_BYTES, detect, open_writer
from evstream.io.metavision import MetavisionDecoder, check_backend
from evstream.io.packetize import packets_by_count, packets_by_window
from evstream.io.record_kernels import max_xy

__all__ = ["DEFAULT_PACKET_EVENTS", "Recording", "open", "read", "write"]

DEFAULT_PACKET_EVENTS = 1 << 16
SMALL_FILE_BYTES = 1 << 20
"""Files up to this size (bytes) that do not state their sensor size keep the events decoded to infer
it for the next pass, if the file has not changed since (``io.read`` of an N-MNIST sample decodes it
once, not twice)."""


@dataclass
class _KeptBlocks:
    """Blocks of a pass over a small file, for the next pass: the file's (size, mtime ns) then, the
    blocks and the partial-read warnings that pass raised."""

    stamp: tuple[int, int]
    blocks: list[np.ndarray]
    warnings: list[str]


class Recording:
    """An event recording opened for streaming; see :func:`open` for the arguments.

    Attributes:
        path: the file.
        format: detected (or given) format name, e.g. ``"evt3"``, ``"aedat4"``.
        width, height: sensor size in pixels (header, caller, or inferred with a
            :class:`~evstream.io.GeometryWarning`).
        metadata: header facts of the format (streams of an AEDAT 4 file, RAW header keys...).
    """

    def __init__(self, path: str | Path, *, format: str | None = None, width: int | None = None,
                 height: int | None = None, packet_events: int | None = None, window_us: int | None = None,
                 start_us: int | None = None, end_us: int | None = None, stream: int | str | None = None,
                 chunk_bytes: int = CHUNK_BYTES, backend: str = "evstream") -> None:
        self.path = Path(path)
        if (width is None) != (height is None):
            raise FormatError(self.path, "give both width and height (pixels) or neither")
        if packet_events is not None and window_us is not None:
            raise ValueError("packets are cut by packet_events or by window_us, not both")
        if packet_events is not None and packet_events <= 0:
            raise ValueError(f"packet_events must be positive (got {packet_events})")
        if window_us is not None and window_us <= 0:
            raise ValueError(f"window_us must be positive (got {window_us} µs)")
        if start_us is not None and end_us is not None and end_us < start_us:
            raise ValueError(f"end_us ({end_us}) is before start_us ({start_us})")
        self.packet_events = packet_events
        self.window_us = window_us
        self.start_us = start_us
        self.end_us = end_us
        self.chunk_bytes = chunk_bytes
        self._bytes_read = 0
        self._reading: Decoder | None = None
        self._kept: _KeptBlocks | None = None
        self._options: dict[str, Any] = {}
        try:
            with builtins.open(self.path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except FileNotFoundError:
            raise FormatError(self.path, "no such file") from None
        except IsADirectoryError:
            raise FormatError(self.path, "is a directory, not a recording") from None
        except OSError as exc:
            raise FormatError(self.path, f"cannot read ({exc.strerror})") from None
        if format is None:
            format = detect(self.path, head)
        elif format not in DECODERS:
            raise FormatError(self.path, f"unknown format {format!r} (known: {', '.join(DECODERS)})")
        self.format = format
        check_backend(backend, format, self.path)
        self._decoder_class = MetavisionDecoder if backend == "metavision" else DECODERS[format]
        if backend == "metavision":
            self._options["format"] = format
        elif format in ("evt2", "evt21", "evt3"):
            self._options["encoding"] = format
        if stream is not None:
            if format != "aedat4":
                raise FormatError(self.path, f"stream= applies to AEDAT 4 files, not {format}")
            self._options["stream"] = stream
        self.width, self.height = width, height
        with self._decoder() as dec:
            self.format = dec.name
            self.metadata = dict(dec.metadata)
            self.width, self.height = dec.width, dec.height
            for name, value in (("width", self.width), ("height", self.height)):
                if value is not None and not 0 < value <= NO_LIMIT:
                    source = "given" if width is not None else "stated by the file header"
                    raise FormatError(self.path, f"sensor {name} {value} pixels {source} is outside 1..{NO_LIMIT}; "
                                                 "pass width= and height= (--width/--height) to set the sensor size")
            if self.width is None or self.height is None:
                self._infer_geometry(dec)

    def _decoder(self) -> _OpenDecoder:
        return _OpenDecoder(self)

    def _infer_geometry(self, dec: Decoder) -> None:
        """Set the geometry from the largest pixel coordinates of a pass of ``dec`` (which has no sensor size)."""
        max_x = max_y = -1
        stamp = self._file_stamp()
        keep = stamp[0] <= SMALL_FILE_BYTES
        kept = []
        dec.held_warnings = []  # partial reads are told by the pass that hands out the events
        for block in dec.blocks():
            if len(block):
                bx, by = max_xy(block.view(np.int64).reshape(-1, 2))
                max_x, max_y = max(max_x, bx), max(max_y, by)
                if keep:
                    kept.append(block)
        if keep:  # every event lies inside the geometry found below: the next pass may reuse them
            self._kept = _KeptBlocks(stamp, kept, dec.held_warnings)
        fallback = getattr(DECODERS[self.format], "fallback_geometry", None)
        if fallback is not None and max_x < fallback[0] and max_y < fallback[1]:
            self.width, self.height = fallback
            return
        self.width, self.height = max(1, max_x + 1), max(1, max_y + 1)
        warnings.warn(f"{self.path}: the file does not state the sensor size; using {self.width}x{self.height} "
                      "from the events (pass width= and height= to set it)", GeometryWarning,
                      stacklevel=user_stacklevel())

    def _file_stamp(self) -> tuple[int, int]:
        st = self.path.stat()
        return st.st_size, st.st_mtime_ns

    # -- streaming ---------------------------------------------------------
    @property
    def bytes_read(self) -> int:
        """Bytes of the file consumed by the current (or last) pass, for progress bars."""
        if self._reading is not None and not self._reading.fh.closed:
            return self._reading.fh.tell()
        return self._bytes_read

    def blocks(self, clip: bool = True) -> Iterator[np.ndarray]:
        """Decoded event arrays in file order (chunk-sized), restricted to ``[start_us, end_us)`` when ``clip``."""
        kept, self._kept = self._kept, None
        if kept is not None and kept.stamp == self._file_stamp():
            for message in kept.warnings:
                warnings.warn(message, PartialReadWarning, stacklevel=user_stacklevel())
            self._bytes_read = kept.stamp[0]
            source: Iterator[np.ndarray] = iter(kept.blocks)
        else:
            source = self._decoded(clip)
        try:
            for block in source:
                if clip and self.start_us is not None and len(block) and block["t"][0] < self.start_us:
                    block = block[np.searchsorted(block["t"], self.start_us):]
                if clip and self.end_us is not None and len(block) and block["t"][-1] >= self.end_us:
                    yield block[:np.searchsorted(block["t"], self.end_us)]
                    break
                yield block
        finally:
            if isinstance(source, Generator):
                source.close()

    def _decoded(self, seek: bool) -> Generator[np.ndarray, None, None]:
        """The decoder's blocks, from :attr:`start_us` on when ``seek`` and the format can seek."""
        with self._decoder() as dec:
            if seek:
                dec.seek_us = self.start_us
            self._reading = dec
            yield from dec.blocks()
            self._bytes_read = dec.fh.tell()
            self._reading = None
            if dec.dropped:
                warnings.warn(f"{self.path}: dropped {dec.dropped} events outside the {self.width}x{self.height} "
                              "sensor", PartialReadWarning, stacklevel=user_stacklevel())

    def __iter__(self) -> Iterator[EventPacket]:
        if self.window_us is not None:
            return packets_by_window(self.blocks(), self.window_us, self.width, self.height,
                                     self.start_us, self.end_us)
        return packets_by_count(self.blocks(), self.packet_events or DEFAULT_PACKET_EVENTS, self.width, self.height)

    def first_time(self) -> int | None:
        """Timestamp (µs) of the first event of the file, ignoring ``start_us``; ``None`` when empty."""
        for block in self.blocks(clip=False):
            if len(block):
                return int(block["t"][0])
        return None

    @property
    def size_bytes(self) -> int:
        """Size of the file in bytes."""
        return self.path.stat().st_size

    def read(self) -> np.ndarray:
        """All events (within ``[start_us, end_us)``) as one array."""
        return concat_events(list(self.blocks()))

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: files are open only while iterating."""

    def __repr__(self) -> str:
        return f"Recording({str(self.path)!r}, format={self.format!r}, {self.width}x{self.height})"


class _OpenDecoder:
    """Context manager: the file opened and a decoder built on it; closes both."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec

    def __enter__(self) -> Decoder:
        rec = self.rec
        self.fh = builtins.open(rec.path, "rb")
        try:
            self.dec = rec._decoder_class(rec.path, self.fh, rec.width, rec.height, rec.chunk_bytes, **rec._options)
        except BaseException:
            self.fh.close()
            raise
        return self.dec

    def __exit__(self, *exc: object) -> None:
        try:
            self.dec.close()
        finally:
            self.fh.close()


def open(path: str | Path, *, format: str | None = None, width: int | None = None, height: int | None = None,
         packet_events: int | None = None, window_us: int | None = None, start_us: int | None = None,
         end_us: int | None = None, stream: int | str | None = None, chunk_bytes: int = CHUNK_BYTES,
         backend: str = "evstream") -> Recording:
    """Open an event recording for streaming; iterate it for :class:`~evstream.events.EventPacket`\\ s.

    Args:
        path: the file; its format is detected from the content (``format`` forces one:
            ``aedat2``, ``aedat3``, ``aedat4``, ``evt2``, ``evt21``, ``evt3``, ``dat``,
            ``nmnist``, ``npy``, ``npz``, ``csv``, ``hdf5``).
        width, height: sensor size in pixels, overriding the header; events outside are dropped.
        packet_events: cut packets of this many events (default 65536).
        window_us: cut packets covering consecutive windows of this many µs instead
            (empty windows are yielded too).
        start_us, end_us: keep only events in ``[start_us, end_us)`` µs.
        stream: AEDAT 4 only: the events stream to read (id or output name).
        chunk_bytes: bytes read from the file at a time (memory use is a few times this).
        backend: ``"evstream"`` (default, exact) or ``"metavision"``: Prophesee files decoded
            by the Metavision SDK when it is installed (see :mod:`evstream.io.metavision`).

    Raises:
        FormatError: the file is missing, empty, of an unknown format or damaged
            (damage after the first packets is raised while iterating).
    """
    return Recording(path, format=format, width=width, height=height, packet_events=packet_events,
                     window_us=window_us, start_us=start_us, end_us=end_us, stream=stream, chunk_bytes=chunk_bytes,
                     backend=backend)


def read(path: str | Path, **options: Any) -> np.ndarray:
    """All events of a recording as one :data:`~evstream.events.EVENT_DTYPE` array (options as :func:`open`)."""
    return open(path, **options).read()


def write(path: str | Path, events: np.ndarray | EventPacket, *, width: int, height: int,
          format: str | None = None, **options: Any) -> None:
    """Write ``events`` (sorted by time) to ``path``; the format comes from ``format`` or the extension
    (``.aedat4``, ``.raw`` = EVT 3.0, ``.evt2``, ``.h5``, ``.npy``, ``.npz``, ``.csv``).

    ``width``, ``height``: sensor size in pixels. ``options``: ``compression`` / ``source`` for AEDAT 4.
    """
    with open_writer(path, width, height, format, **options) as writer:
        writer.write(events)
