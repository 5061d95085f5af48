"""Errors and warnings raised while reading or writing recordings."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from evstream.errors import UserError

__all__ = ["FormatError", "GeometryWarning", "PartialReadWarning", "WriteError", "user_stacklevel",
           "warnings_to_stderr"]


class FormatError(UserError, ValueError):
    """A file is not a valid recording of the format it claims to be.

    The one-line message names the file, the byte offset where decoding
    stopped and what is wrong, e.g.
    ``rec.aedat4: byte 150512: packet of 9000 bytes runs past the end of the file``.

    Attributes:
        path: the file.
        offset: byte offset of the problem (``None`` when it is not about one place).
        what: the problem, without file and offset.
    """

    def __init__(self, path: str | Path, what: str, offset: int | None = None) -> None:
        what = " ".join(what.splitlines())  # text quoted from other libraries may span lines
        where = f"{path}: " if offset is None else f"{path}: byte {offset}: "
        super().__init__(where + what)
        self.path = str(path)
        self.offset = offset
        self.what = what


class PartialReadWarning(UserWarning):
    """The end of a file was cut (a partial record or packet was dropped); the events before it are exact."""


class GeometryWarning(UserWarning):
    """The file does not state the sensor size; it was inferred from the events (max x/y + 1)."""


class WriteError(UserError, ValueError):
    """Events handed to a writer do not fit the file (unsorted times, pixels outside the geometry)."""


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first caller outside :mod:`evstream.io`."""
    here = Path(__file__).parent
    level = 1
    frame = sys._getframe(1)
    while frame is not None and Path(frame.f_code.co_filename).parent == here:
        frame = frame.f_back
        level += 1
    return level


@contextlib.contextmanager
def warnings_to_stderr(command: str) -> Iterator[None]:
    """Print io warnings as ``evstream COMMAND: warning: ...`` lines on stderr (for the CLI)."""
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        print(f"evstream {command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", PartialReadWarning)
        warnings.simplefilter("always", GeometryWarning)
        warnings.showwarning = show
        yield
