"""Optional decoding of Prophesee files through the Metavision SDK (or OpenEB's Python bindings).

evstream's own decoders read every Prophesee format exactly and need nothing
else; this backend exists for users who already rely on Metavision (its
plugins read formats and camera-specific files evstream does not, e.g. HDF5
written with the ECF codec). It is used only when asked for
(``evstream.io.open(path, backend="metavision")``, ``evstream info --backend
metavision``) and is never required: when ``metavision_core`` cannot be
imported, opening raises a one-line :class:`~evstream.errors.UserError`.

Metavision's ``EventsIterator`` yields structured arrays with fields ``x``,
``y``, ``p`` and ``t`` (µs, int64); they are copied into
:data:`~evstream.events.EVENT_DTYPE` blocks. Metavision applies its own
conventions (e.g. for EVT 3.0 time-high wraps); evstream does not correct them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from evstream.errors import UserError
from evstream.events import make_events
from evstream.io.decoder import CHUNK_BYTES, Decoder

__all__ = ["BACKENDS", "METAVISION_FORMATS", "MetavisionDecoder"]

BACKENDS: tuple[str, ...] = ("evstream", "metavision")
"""Decoding backends ``evstream.io.open(backend=...)`` accepts."""
METAVISION_FORMATS: tuple[str, ...] = ("evt2", "evt21", "evt3", "dat", "hdf5")
"""Detected formats that the Metavision backend may read."""
EVENTS_PER_BLOCK = 1 << 20
"""Events Metavision is asked for per iteration (``n_events`` mode)."""


def _event_io() -> Any:
    try:
        return importlib.import_module("metavision_core.event_io")
    except ImportError:
        raise UserError("backend='metavision' needs metavision_core (metavision-sdk-python is not on PyPI: install "
                        "the Metavision SDK or OpenEB with its Python bindings), or use backend='evstream'") from None


class MetavisionDecoder(Decoder):
    """A Prophesee file decoded by Metavision's ``EventsIterator`` (see the module docstring)."""

    name = "metavision"
    description = "Prophesee file through the Metavision SDK"

    def __init__(self, path: Path, fh: BinaryIO, width: int | None, height: int | None,
                 chunk_bytes: int = CHUNK_BYTES, format: str = "") -> None:
        super().__init__(path, fh, width, height, chunk_bytes)
        event_io = _event_io()
        try:
            self._iterator = event_io.EventsIterator(input_path=str(path), mode="n_events",
                                                     n_events=EVENTS_PER_BLOCK)
            sensor_h, sensor_w = (int(v) for v in self._iterator.get_size())
        except (RuntimeError, OSError, ValueError) as exc:  # Metavision reports bad files as RuntimeError
            raise self.error(f"Metavision cannot read it: {exc}") from None
        if width is None and height is None:
            self.width, self.height = sensor_w, sensor_h
        self.name = format or "metavision"
        self.metadata = {"backend": "metavision", "format": format}

    def blocks(self) -> Iterator[np.ndarray]:
        w, h = self.limits
        try:
            for evs in self._iterator:
                if not len(evs):
                    continue
                inside = (evs["x"] < w) & (evs["y"] < h)
                kept = int(inside.sum())
                self.dropped += len(evs) - kept
                if kept < len(evs):
                    evs = evs[inside]
                yield make_events(evs["t"], evs["x"], evs["y"], evs["p"])
        except RuntimeError as exc:
            raise self.error(f"Metavision stopped reading: {exc}") from None

    def close(self) -> None:
        self._iterator = None


def check_backend(backend: str, format: str, path: Path) -> None:
    """Raise :class:`UserError` when ``backend`` is unknown or cannot read ``format``."""
    if backend not in BACKENDS:
        raise UserError(f"{path}: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if backend == "metavision" and format not in METAVISION_FORMATS:
        raise UserError(f"{path}: backend 'metavision' reads Prophesee files ({', '.join(METAVISION_FORMATS)}), "
                        f"not {format}; use backend='evstream'")
