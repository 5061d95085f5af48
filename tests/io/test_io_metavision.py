"""The optional Metavision backend (``backend="metavision"``), against a stand-in ``metavision_core``.

metavision-sdk-python is not on PyPI, so these tests install a small fake
``metavision_core.event_io`` with Metavision's interface (``EventsIterator``
yielding ``x, y, p, t`` structured arrays, ``get_size() -> (height, width)``)
that serves known events; they check evstream's adapter: field mapping,
geometry order, clipping to a given size, errors, and the CLI flag.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from evstream.cli.main import main
from evstream.errors import UserError
from evstream.events import make_events

METAVISION_CD = np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
WIDTH, HEIGHT = 64, 48


def _known_events(n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(7)
    return make_events(np.sort(rng.integers(0, 2_000_000, n)), rng.integers(0, WIDTH, n),
                       rng.integers(0, HEIGHT, n), rng.integers(0, 2, n))


class _FakeEventsIterator:
    """Metavision's EventsIterator over events registered per path, in blocks of ``n_events``."""

    served: dict[str, np.ndarray] = {}

    def __init__(self, input_path: str, mode: str = "delta_t", n_events: int = 10000, **_: object) -> None:
        if input_path not in self.served:
            raise RuntimeError(f"unable to open {input_path}")
        assert mode == "n_events"
        self.events, self.n = self.served[input_path], min(n_events, 997)  # odd block size on purpose

    def get_size(self) -> tuple[int, int]:
        return HEIGHT, WIDTH

    def __iter__(self) -> Iterator[np.ndarray]:
        yield np.empty(0, METAVISION_CD)  # Metavision yields empty slices between windows
        for i in range(0, len(self.events), self.n):
            ev = self.events[i:i + self.n]
            out = np.empty(len(ev), METAVISION_CD)
            for name in "xytp":
                out[name] = ev[name]
            yield out


@pytest.fixture()
def metavision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A RAW file whose events the fake Metavision serves."""
    events = _known_events()
    path = tmp_path / "rec.raw"
    eio.write(path, events, width=WIDTH, height=HEIGHT)
    _FakeEventsIterator.served = {str(path): events}
    package = types.ModuleType("metavision_core")
    event_io = types.ModuleType("metavision_core.event_io")
    event_io.EventsIterator = _FakeEventsIterator
    package.event_io = event_io
    monkeypatch.setitem(sys.modules, "metavision_core", package)
    monkeypatch.setitem(sys.modules, "metavision_core.event_io", event_io)
    return path, events


def test_metavision_backend_reads_the_events_metavision_yields(metavision: tuple[Path, np.ndarray]) -> None:
    path, events = metavision
    rec = eio.open(path, backend="metavision", packet_events=4093)
    assert (rec.width, rec.height) == (WIDTH, HEIGHT)
    assert rec.metadata["backend"] == "metavision" and rec.format == "evt3"
    got = np.concatenate([p.events for p in rec])
    for name in "txyp":
        np.testing.assert_array_equal(got[name], events[name])


def test_metavision_backend_clips_to_a_given_size(metavision: tuple[Path, np.ndarray]) -> None:
    path, events = metavision
    with pytest.warns(eio.PartialReadWarning, match="dropped"):
        got = eio.read(path, backend="metavision", width=32, height=HEIGHT)
    keep = events["x"] < 32
    np.testing.assert_array_equal(got["t"], events["t"][keep])


def test_metavision_backend_error_from_the_sdk_names_the_file(metavision: tuple[Path, np.ndarray],
                                                             tmp_path: Path) -> None:
    other = tmp_path / "other.raw"
    eio.write(other, _known_events(10), width=WIDTH, height=HEIGHT)
    with pytest.raises(eio.FormatError, match="other.raw.*Metavision cannot read it"):
        eio.open(other, backend="metavision")


def test_metavision_backend_missing_sdk_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "metavision_core", None)  # makes the import fail
    path = tmp_path / "rec.raw"
    eio.write(path, _known_events(10), width=WIDTH, height=HEIGHT)
    with pytest.raises(UserError, match="needs metavision_core.*backend='evstream'"):
        eio.open(path, backend="metavision")


def test_metavision_backend_refuses_non_prophesee_files_and_unknown_backends(tmp_path: Path) -> None:
    path = tmp_path / "rec.npy"
    eio.write(path, _known_events(10), width=WIDTH, height=HEIGHT)
    with pytest.raises(UserError, match="reads Prophesee files.*not npy"):
        eio.open(path, backend="metavision")
    with pytest.raises(UserError, match="unknown backend 'sdk'"):
        eio.open(path, backend="sdk")


def test_info_cli_backend_flag(metavision: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture) -> None:
    path, events = metavision
    assert main(["info", str(path), "--backend", "metavision", "--json", "--no-progress"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["events"], facts["t_first"], facts["t_last"]) == (len(events), events["t"][0], events["t"][-1])
    assert facts["sum_x"] == int(events["x"].sum())
