"""The decoder protocol shared by every format, and the chunked byte reading they use.

A :class:`Decoder` parses a file's header in its constructor (so geometry and
metadata are known before any event) and then yields decoded event blocks from
:meth:`Decoder.blocks`, reading the file in chunks of ``chunk_bytes`` so memory
stays constant whatever the file size. Stateful formats keep their decoder
state across chunks, so block boundaries never change the events.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from evstream.allocator import keep_freed_buffers
from evstream.events import EVENT_DTYPE
from evstream.io.errors import FormatError, PartialReadWarning, user_stacklevel

__all__ = ["CHUNK_BYTES", "Decoder", "FileWindows", "NO_LIMIT", "SMALL_READ_BYTES", "decode_chunks", "read_text_header"]

CHUNK_BYTES = 1 << 23
"""Default bytes mapped or read at a time (8 MiB): mapping windows this large keeps the map / unmap
cost small; memory stays bounded by it (decoded blocks are capped by :data:`MAX_BLOCK_EVENTS`)."""
SMALL_READ_BYTES = 1 << 16
"""Regular files with at most this many bytes left are read, not mapped (a map and unmap cost more)."""
NO_LIMIT = 1 << 16
"""Pixel limit passed to kernels when the geometry is unknown (nothing is dropped)."""
MAX_HEADER_LINE = 1 << 20
MAX_BLOCK_EVENTS = 1 << 16
"""Largest decoded block (65536 events, 1 MiB): a block freed by the consumer is reused from the heap
while still in cache, which decodes 1.3-1.6x faster than 16 MiB blocks (``evstream bench io``)."""


class Decoder:
    """Base class of a format decoder (one per format, see :mod:`evstream.io.formats`).

    Subclasses set ``name`` and ``description``, parse the header in ``__init__``
    (raise :class:`FormatError` on a bad header) and implement :meth:`blocks`.

    Attributes:
        path: the file.
        width, height: sensor size in pixels from the header or the caller, ``None`` if unknown.
        metadata: header facts (dict of str -> JSON-able values).
        dropped: events dropped so far because they fell outside ``width x height``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self.fh = fh
        self.width = width
        self.height = height
        self.chunk_bytes = chunk_bytes
        self.metadata: dict[str, Any] = {}
        self.dropped = 0
        self.seek_us: int | None = None
        """Events before this time (µs) are not wanted: decoders with an index may skip them."""
        self.held_warnings: list[str] | None = None
        """When a list, :meth:`warn_partial` appends its messages here instead of warning."""

    @property
    def limits(self) -> tuple[int, int]:
        """``(width, height)`` for kernels: the geometry, or no limit when unknown."""
        return (self.width or NO_LIMIT, self.height or NO_LIMIT)

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield event arrays (:data:`EVENT_DTYPE`, times non-decreasing across blocks)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources other than the file handle (which the caller owns)."""

    def error(self, what: str, offset: int | None = None) -> FormatError:
        return FormatError(self.path, what, offset)

    def warn_partial(self, what: str, offset: int) -> None:
        """Warn (:class:`PartialReadWarning`) that the events stop short of the file's end, or append
        the message to :attr:`held_warnings` when that is a list."""
        message = f"{self.path}: byte {offset}: {what}; the events before it were read"
        if self.held_warnings is not None:
            self.held_warnings.append(message)
        else:
            warnings.warn(message, PartialReadWarning, stacklevel=user_stacklevel())


def read_text_header(fh: BinaryIO, prefix: bytes, end_line: bytes | None = None) -> tuple[list[str], int, bool]:
    """Read the ASCII header lines that start with ``prefix`` from the start of ``fh``.

    The header ends at the first line that does not start with ``prefix`` or right
    after ``end_line`` (stripped of whitespace). Returns ``(lines without prefix and
    line end, data offset, cut)`` where ``cut`` is true when the file ends inside a
    header line. ``fh`` is left at the data offset.
    """
    fh.seek(0)
    lines: list[str] = []
    offset = 0
    while True:
        line = fh.readline(MAX_HEADER_LINE)
        if not line.startswith(prefix):
            break
        complete = line.endswith(b"\n")
        offset += len(line)
        lines.append(line[len(prefix):].rstrip(b"\r\n").decode("latin-1"))
        if not complete:
            return lines, offset, True
        if end_line is not None and line.strip() == end_line:
            break
    fh.seek(offset)
    return lines, offset, False


class FileWindows:
    """The file from byte ``offset`` on as consecutive buffers of whole ``itemsize``-byte units, each at
    most ``window`` bytes: views of a memory map of the page cache for regular files of more than
    :data:`SMALL_READ_BYTES` (no copy; the map follows a file that grows), chunks read into one reused
    buffer otherwise (pipes, devices, small files).

    A view is valid until the next one is requested. After the loop, ``pos`` is the byte offset after
    the last whole unit and ``leftover`` the bytes of a partial unit there.
    """

    def __init__(self, fh: BinaryIO, offset: int, itemsize: int, window: int) -> None:
        self.fh = fh
        self.pos = offset
        self.itemsize = itemsize
        self.window = max(itemsize, window // itemsize * itemsize)
        self.leftover = 0

    def __iter__(self) -> Iterator[memoryview]:
        left = self.window  # bytes to expect: unknown for pipes and devices
        try:
            fd = self.fh.fileno()
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                left = st.st_size - self.pos
        except (OSError, AttributeError, io.UnsupportedOperation):
            return self._read(left)
        return self._mapped(fd) if stat.S_ISREG(st.st_mode) and left > SMALL_READ_BYTES else self._read(left)

    def _mapped(self, fd: int) -> Iterator[memoryview]:
        while True:
            left = os.fstat(fd).st_size - self.pos
            length = min(left, self.window) // self.itemsize * self.itemsize
            if length <= 0:
                self.leftover = max(0, left)
                return
            base = self.pos - self.pos % mmap.ALLOCATIONGRANULARITY
            with mmap.mmap(fd, self.pos + length - base, access=mmap.ACCESS_READ, offset=base) as mapped:
                view = memoryview(mapped)[self.pos - base:]
                try:
                    yield view
                finally:
                    view.release()
            self.pos += length
            self.fh.seek(self.pos)  # the file position tells readers' progress (Recording.bytes_read)

    def _read(self, left: int) -> Iterator[memoryview]:
        """Chunks read into one buffer, sized for the ``left`` bytes expected (a small file) up to a window."""
        self.fh.seek(self.pos)
        room = min(self.window, max(0, left) + self.itemsize)
        buf = bytearray(room + self.itemsize)
        carry = 0
        while got := self.fh.readinto(memoryview(buf)[carry:carry + self.window]):
            total = carry + got
            length = total // self.itemsize * self.itemsize
            if length:
                view = memoryview(buf)[:length]
                try:
                    yield view
                finally:
                    view.release()
            carry = total - length
            buf[:carry] = buf[length:total]
            self.pos += length
        self.leftover = carry


SPLIT_UNITS = 1 << 20
"""Units per part when two threads decode a window (see :func:`decode_chunks`): windows of two parts
or more are decoded part pair by part pair, the second thread's output (about this many events,
16 MiB) held until the first part is handed out."""
SPLIT_SYNC_UNITS = 1 << 10
"""Units at least that the second thread decodes (and discards) before its half, from the sync
point its format names, so that its guessed decoder state has become the true one."""


def decode_chunks(decoder: Decoder, offset: int, word_dtype: str, words_per_unit: int,
                  kernel: Callable[..., tuple[int, int]], args: tuple, events_per_unit: float,
                  unit_name: str = "word", split: tuple[int, Callable[[np.ndarray, int], int]] | None = None,
                  ) -> Iterator[np.ndarray]:
    """Run a stateful decoding ``kernel`` over the file from byte ``offset`` to the end.

    The file is taken ``decoder.chunk_bytes`` at a time (mapped, or read for files that cannot
    be mapped); a unit is ``words_per_unit`` words of ``word_dtype`` (a record of a fixed-size
    format, or one word). A unit cut by a chunk end is decoded with the next chunk; a partial
    unit at the end of the file is dropped with a :class:`PartialReadWarning`.
    ``kernel(words, start_unit, out, *args) -> (n, next)`` writes into ``out`` (the flat int64
    view of an event array) and stops before it could overflow. ``events_per_unit`` sizes the
    output blocks, which are new arrays (never overwritten later) of at most
    :data:`MAX_BLOCK_EVENTS` events.

    ``split``: ``(tally, sync)`` for a kernel whose state (``args[0]``, an int64 array) is all it
    carries between units: ``tally`` is the index of the state's one additive field (a
    dropped-event count), ``sync(words, unit)`` the unit at or before ``unit`` from which the
    stream rewrites the state's registers (a time word), or -1. Large windows are then decoded
    by two threads: a second thread starts at the sync point before the window's second half
    from a guess of the state (the window's starting state), decodes up to the half, then
    decodes the second half, while this thread decodes the first half. The second half's events
    are kept only when the guessed state equals the true one at the half (every field but the
    tally), so the events are exactly those of one thread; else this thread decodes the second
    half again itself.
    """
    itemsize = np.dtype(word_dtype).itemsize * words_per_unit
    windows = FileWindows(decoder.fh, offset, itemsize, decoder.chunk_bytes)
    views = iter(windows)
    words = None
    pool = None
    try:
        for view in views:
            units = len(view) // itemsize
            words = np.frombuffer(view, word_dtype, count=units * words_per_unit)
            if split is not None and units >= 2 * SPLIT_UNITS:
                if pool is None:
                    keep_freed_buffers()  # the blocks held for the second thread would otherwise fault in anew
                    pool = ThreadPoolExecutor(1, thread_name_prefix="evstream-decode")
                yield from _split_blocks(pool, words, units, words_per_unit, kernel, args, events_per_unit,
                                         *split)
            else:
                yield from _blocks(words, 0, units, words_per_unit, kernel, args, events_per_unit)
            words = None
    finally:
        words = None  # release the view of the window before the window is unmapped
        views.close()
        if pool is not None:
            pool.shutdown()
    if windows.leftover:
        decoder.warn_partial(f"the file ends inside a {itemsize}-byte {unit_name} "
                             f"({windows.leftover} bytes left over)", windows.pos)


def _decoded(words: np.ndarray, start: int, stop: int, words_per_unit: int, kernel: Callable[..., tuple[int, int]],
             args: tuple, events_per_unit: float,
             block: Callable[[int, int], np.ndarray]) -> Iterator[tuple[np.ndarray, int]]:
    """``(output block, events written)`` per ``kernel`` call over units ``[start, stop)`` of ``words``
    (see :func:`decode_chunks`); ``block(i, cap)`` supplies call ``i``'s output, ``cap`` events or more."""
    words = words[:stop * words_per_unit]
    i = 0
    while start < stop:
        out = block(i, min(int((stop - start) * events_per_unit) + 64, MAX_BLOCK_EVENTS))
        n, start = kernel(words, start, out.view(np.int64), *args)
        yield out, n
        i += 1


def _trimmed(out: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` events of a block, copied when they fill less than half of it (a view holds all of it)."""
    return out[:n] if 2 * n >= len(out) else out[:n].copy()


def _blocks(words: np.ndarray, start: int, stop: int, words_per_unit: int, kernel: Callable[..., tuple[int, int]],
            args: tuple, events_per_unit: float) -> Iterator[np.ndarray]:
    """Event blocks of units ``[start, stop)`` of ``words``, decoded by ``kernel`` into new arrays
    (see :func:`decode_chunks`)."""
    for out, n in _decoded(words, start, stop, words_per_unit, kernel, args, events_per_unit,
                           lambda _, cap: np.empty(cap, EVENT_DTYPE)):
        if n:
            yield _trimmed(out, n)


def _split_blocks(pool: ThreadPoolExecutor, words: np.ndarray, units: int, words_per_unit: int,
                  kernel: Callable[..., tuple[int, int]], args: tuple, events_per_unit: float,
                  tally: int, sync: Callable[[np.ndarray, int], int]) -> Iterator[np.ndarray]:
    """One window's blocks in pairs of parts of about :data:`SPLIT_UNITS` units (at least that), each
    pair's second part decoded speculatively in ``pool`` (see :func:`decode_chunks`).

    This thread allocates the second thread's output blocks: blocks allocated there would come
    from its own malloc arena, never from the blocks the consumer frees, and every page of them
    would fault (decoding then runs at the speed of fresh memory).
    """
    state, rest = args[0], args[1:]
    view = words[:units * words_per_unit]

    def second(begin: int, end: int, guess: np.ndarray, blocks: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        first = sync(view, begin - SPLIT_SYNC_UNITS)
        if first < 0:
            return guess, []
        for _ in _blocks(view, first, begin, words_per_unit, kernel, (guess, *rest), events_per_unit):
            pass
        at_begin = guess.copy()

        def block(i: int, _cap: int) -> np.ndarray:
            if i == len(blocks):
                blocks.append(np.empty(MAX_BLOCK_EVENTS, EVENT_DTYPE))
            return blocks[i]

        counts = [n for _, n in _decoded(view, begin, end, words_per_unit, kernel, (guess, *rest), events_per_unit,
                                         block)]
        return at_begin, counts

    same = np.ones(len(state), bool)
    same[tally] = False
    pairs = units // (2 * SPLIT_UNITS)
    if not pairs:
        yield from _blocks(view, 0, units, words_per_unit, kernel, args, events_per_unit)
    for pair in range(pairs):
        start, end = units * pair // pairs, units * (pair + 1) // pairs
        half = (start + end) // 2
        guess = state.copy()
        blocks = [np.empty(MAX_BLOCK_EVENTS, EVENT_DTYPE)
                  for _ in range(int((end - half) * events_per_unit) // MAX_BLOCK_EVENTS + 1)]
        future = pool.submit(second, half, end, guess, blocks)
        try:
            yield from _blocks(view, start, half, words_per_unit, kernel, args, events_per_unit)
        finally:
            at_half, counts = future.result()  # the window's view must outlive the second thread
        if counts and np.array_equal(state[same], at_half[same]):
            guess[tally] += state[tally] - at_half[tally]
            state[:] = guess
            for block, n in zip(blocks, counts):
                if n:
                    yield _trimmed(block, n)
        else:
            del blocks
            yield from _blocks(view, half, end, words_per_unit, kernel, args, events_per_unit)
