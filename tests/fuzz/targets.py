"""Fuzz targets: every recording reader and the ZeroMQ message decoder, each as ``check(data, workdir)``.

A target turns one fuzzed input (bytes) into a call of the code under test and
asserts the contract of issue #4 / #11: a reader either returns events that obey
the packet contract (sorted times, pixels inside the sensor, polarity 0/1) or
raises :class:`evstream.io.FormatError` with one line naming the file; the wire
decoder either returns a message or raises :class:`evstream.transport.wire.WireError`.
Anything else (another exception, a crash, a hang) is a finding.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import evstream.io as eio
from tests.io.facts import assert_valid

WIRE_MAX_BYTES = 1 << 24
"""``max_bytes`` the wire target passes to ``decode`` (16 MiB)."""


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``check(data, workdir)`` runs one input. Its seeds live in ``corpus/<name>/``,
    or come from ``seeds()`` when the format is evstream's own and still changing (the wire messages)."""

    name: str
    check: Callable[[bytes, Path], None]
    seeds: Callable[[], list[bytes]] | None = None


def _reader(suffix: str) -> Callable[[bytes, Path], None]:
    """A check that writes the input to ``workdir/input<suffix>`` and reads it with evstream.io."""

    def check(data: bytes, workdir: Path) -> None:
        path = workdir / f"input{suffix}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rec = eio.open(path)
                events = rec.read()
            except eio.FormatError as exc:
                message = str(exc)
                assert message.startswith(str(path)) and "\n" not in message, f"bad FormatError text: {message!r}"
                return
        assert_valid(events, rec.width, rec.height)

    return check


def split_frames(data: bytes) -> list[bytes]:
    """Frames of a wire corpus input: ``uint32 count`` then ``(uint32 length, bytes)`` per frame,
    read leniently (lengths are clamped to what is left, so every input gives some frames)."""
    if len(data) < 4:
        return [data]
    (count,) = struct.unpack_from("<I", data)
    frames, pos = [], 4
    for _ in range(min(count, 16)):
        if pos + 4 > len(data):
            break
        (size,) = struct.unpack_from("<I", data, pos)
        frames.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return frames


def join_frames(frames: list[bytes]) -> bytes:
    """The corpus form of a multipart message (inverse of :func:`split_frames`)."""
    return struct.pack("<I", len(frames)) + b"".join(struct.pack("<I", len(f)) + f for f in frames)


def wire_messages() -> list[bytes]:
    """One message of each kind from the current :func:`evstream.transport.wire.encode`, in corpus form."""
    from evstream.events import EventPacket, make_events
    from evstream.packets import FramePacket, LabelPacket, TensorPacket
    from evstream.transport.wire import encode, encode_eos

    events = make_events(np.arange(40) * 7, np.arange(40) % 32, np.arange(40) % 24, np.arange(40) % 2)
    t0, t1 = np.array([0, 10], np.int64), np.array([10, 20], np.int64)
    packets = [EventPacket(events, 320, 240, 0, 280, 3),
               FramePacket(np.ones((2, 2, 4, 4), np.float32), t0, t1, 4),
               TensorPacket(np.arange(6, dtype=np.int16).reshape(2, 3), t0, t1, 5),
               LabelPacket(np.array([1, 2]), np.array([0.5, 0.25], np.float32), t0, t1, 6, ("a", "b", "c"))]
    messages = [[bytes(f) for f in encode(p, "cam", "9f3c", 7, 123)] for p in packets]
    return [join_frames(m) for m in messages + [encode_eos("cam", "9f3c", 8, 124)]]


def _wire(data: bytes, workdir: Path) -> None:
    from evstream.events import EventPacket
    from evstream.transport.wire import WireError, decode

    try:
        message = decode(split_frames(data), WIRE_MAX_BYTES)
    except WireError:
        return
    assert message.kind == "eos" or message.packet is not None
    if isinstance(message.packet, EventPacket):
        assert message.packet.events.dtype.names == ("t", "x", "y", "p")


READER_SUFFIXES = {"aedat2": ".aedat", "aedat3": ".aedat", "aedat4": ".aedat4", "evt2": ".raw", "evt21": ".raw",
                   "evt3": ".raw", "dat": ".dat", "nmnist": ".bin", "bs2": ".bs2", "hdf5": ".h5", "npy": ".npy",
                   "npz": ".npz", "csv": ".csv"}
"""Reader target -> file name suffix of its inputs (the format itself is detected from the content)."""
TARGETS: dict[str, Target] = {**{name: Target(name, _reader(suffix)) for name, suffix in READER_SUFFIXES.items()},
                              "wire": Target("wire", _wire, wire_messages)}
"""Every fuzz target by name (the corpus folder of each)."""
