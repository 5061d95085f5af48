"""Readers for iniVation / jAER AEDAT 2.0 and AEDAT 3.1 files (AEDAT 4 is in :mod:`evstream.io.aedat4`).

AEDAT 2.0 coordinates follow jAER, the software that wrote the files, with the
origin moved to the top-left like every other format: DVS128 ``x = 127 - field``,
``y = 127 - field``, raw polarity 0 = ON; DAVIS ``y = H - 1 - field``, bit 11 = ON;
APS, IMU and external records are skipped. Layouts: ``shared/spec/formats.md``
sections 2-3 and ``shared/recordings/README.md``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from evstream.events import EVENT_DTYPE
from evstream.io import aedat_kernels as ak
from evstream.io import time32_kernels as tk
from evstream.io.decoder import CHUNK_BYTES, Decoder, decode_chunks, read_text_header

__all__ = ["Aedat2Decoder", "Aedat3Decoder", "chip_geometry"]

CHIPS = (
    (re.compile(r"dvs128", re.I), tk.AEDAT2_DVS128, (128, 128)),
    (re.compile(r"davis240", re.I), tk.AEDAT2_DAVIS, (240, 180)),
    (re.compile(r"davis346", re.I), tk.AEDAT2_DAVIS, (346, 260)),
    (re.compile(r"davis640", re.I), tk.AEDAT2_DAVIS, (640, 480)),
)
"""Chip class / device name -> (AEDAT 2 address layout, sensor size in pixels)."""


def chip_geometry(name: str) -> tuple[int, tuple[int, int]] | None:
    """``(layout, (width, height))`` for a jAER chip class or cAER device name, or ``None``."""
    for pattern, layout, size in CHIPS:
        if pattern.search(name):
            return layout, size
    return None


class Aedat2Decoder(Decoder):
    """jAER AEDAT 2.0: ``#`` header lines, then big-endian (address, timestamp) uint32 pairs."""

    name = "aedat2"
    description = "jAER AEDAT 2.0 (DVS128, DAVIS240/346/640)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        lines, self.data_offset, _ = read_text_header(fh, b"#")
        if not lines or not lines[0].startswith("!AER-DAT2"):
            version = lines[0] if lines and lines[0].startswith("!AER-DAT") else "no version line"
            raise self.error(f"not an AEDAT 2.0 file ({version}); evstream reads AEDAT 2.0, 3.1 and 4", 0)
        chip = next((ln.split(":", 1)[1].strip() for ln in lines if ln.strip().startswith("AEChip:")), "")
        found = chip_geometry(chip or "DVS128")
        if found is None:
            raise self.error(f"unknown AEChip {chip!r}: evstream knows DVS128, DAVIS240, DAVIS346 and Davis640; "
                             "convert the file with jAER or tell us the address layout", 0)
        self.layout, size = found
        if width is None and height is None:
            self.width, self.height = size
        self.metadata = {"chip": chip or "(none: DVS128 assumed)", "data_offset": self.data_offset,
                         "layout": "DVS128" if self.layout == tk.AEDAT2_DVS128 else "DAVIS"}

    def blocks(self) -> Iterator[np.ndarray]:
        state = np.zeros(tk.TIME32_STATE, np.int64)
        w, h = self.width or 128, self.height or 128
        yield from decode_chunks(self, self.data_offset, "<u8", 1, tk.decode_time32,
                                 (state, self.layout, w, h), 1.0, "record")
        self.dropped = int(state[3])


PACKET_HEADER = struct.Struct("<hhiiiiii")
POLARITY_EVENT = 1
MAX_PACKET_BYTES = 1 << 30


class Aedat3Decoder(Decoder):
    """cAER AEDAT 3.1: ``#`` header up to ``#!END-HEADER``, then typed event packets.

    Only polarity packets (type 1) are decoded; the others are skipped by size.
    """

    name = "aedat3"
    description = "cAER AEDAT 3.1 (polarity packets)"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        lines, self.data_offset, _ = read_text_header(fh, b"#", b"#!END-HEADER")
        if not lines or not lines[0].startswith("!AER-DAT3"):
            raise self.error("not an AEDAT 3.1 file (no #!AER-DAT3.1 line)", 0)
        if lines[-1].strip() != "!END-HEADER":
            raise self.error("the header has no #!END-HEADER line", self.data_offset)
        fmt = next((ln.partition(":")[2].strip() for ln in lines if ln.startswith("Format:")), "RAW")
        if fmt != "RAW":
            raise self.error(f"AEDAT 3.1 format {fmt!r} is not supported (only RAW)", 0)
        sources = [ln.partition(":")[2].strip() for ln in lines if ln.startswith("Source")]
        found = chip_geometry(" ".join(sources))
        if found is not None and width is None and height is None:
            self.width, self.height = found[1]
        self.metadata = {"sources": sources, "data_offset": self.data_offset}

    def blocks(self) -> Iterator[np.ndarray]:
        fh = self.fh
        fh.seek(self.data_offset)
        offset = self.data_offset
        state = np.zeros(tk.TIME32_STATE, np.int64)
        w, h = self.limits
        file_size = fh.seek(0, 2)
        fh.seek(self.data_offset)
        while True:
            head = fh.read(PACKET_HEADER.size)
            if not head:
                break
            if len(head) < PACKET_HEADER.size:
                self.warn_partial("the file ends inside a packet header", offset)
                break
            ev_type, _, ev_size, _, overflow, capacity, _, _ = PACKET_HEADER.unpack(head)
            size = ev_size * capacity
            if ev_size <= 0 or capacity < 0 or size > MAX_PACKET_BYTES or overflow < 0:
                raise self.error(f"bad packet header (event size {ev_size}, capacity {capacity})", offset)
            payload_at = offset + PACKET_HEADER.size
            if ev_type == POLARITY_EVENT:
                if ev_size != 8:
                    raise self.error(f"polarity packet with {ev_size}-byte events (expected 8)", offset)
                payload = fh.read(size)
                n_full = len(payload) // 8
                if n_full:
                    out = np.empty(n_full, EVENT_DTYPE)
                    n = ak.decode_aedat3_polarity(np.frombuffer(payload, "<u4", count=2 * n_full),
                                                  out.view(np.int64), state, overflow, w, h)
                    if n:
                        yield out[:n]
                if len(payload) < size:
                    self.warn_partial(f"the file ends inside a {size}-byte polarity packet", payload_at)
                    break
            else:
                fh.seek(size, 1)
                if payload_at + size > file_size:
                    self.warn_partial(f"the file ends inside a {size}-byte packet of type {ev_type}", payload_at)
                    break
            offset = payload_at + size
        self.dropped = int(state[3])
