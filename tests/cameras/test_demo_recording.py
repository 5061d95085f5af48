"""The project-made demo recording in recordings/: readable, labelled, and reproducible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from evstream.cameras.gestures import GESTURES, read_labels

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "recordings" / "gestures.aedat4"
LABELS = REPO / "recordings" / "gestures_labels.csv"


def test_demo_recording_is_small_labelled_and_read_by_dv_processing() -> None:
    assert DEMO.stat().st_size < 2 * 1024 * 1024
    rec = eio.open(DEMO)
    assert rec.format == "aedat4" and (rec.width, rec.height) == (128, 128)
    ev = rec.read()
    labels = read_labels(LABELS)
    assert sorted(lab for lab, _, _ in labels) == list(range(len(GESTURES)))  # every class once
    inside = np.zeros(len(ev), bool)
    for _, start, end in labels:
        seg = (ev["t"] >= start) & (ev["t"] < end)
        assert seg.sum() / ((end - start) * 1e-6) > 5_000  # a gesture makes thousands of events per second
        inside |= seg
    assert inside.mean() > 0.9  # rests between gestures hold little but noise
    dv = pytest.importorskip("dv_processing")
    reader = dv.io.MonoCameraRecording(str(DEMO))
    n = 0
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        n += 0 if batch is None else len(batch)
    assert n == len(ev)


@pytest.mark.slow
def test_demo_recording_regenerates_identically(tmp_path: Path) -> None:
    """recordings/make_gestures.sh rebuilds the same events (run in a copy of the folder)."""
    (tmp_path / "recordings").mkdir()
    env = {**os.environ, "EVSTREAM": str(Path(sys.executable).with_name("evstream"))}
    subprocess.run(["sh", str(REPO / "recordings" / "make_gestures.sh")], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    assert np.array_equal(eio.read(tmp_path / "recordings" / "gestures.aedat4"), eio.read(DEMO))
    assert (tmp_path / "recordings" / "gestures_labels.csv").read_text() == LABELS.read_text()
