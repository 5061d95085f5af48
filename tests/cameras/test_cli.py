"""`evstream record` and `evstream simulate`: files that evstream and the peers read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from evstream.cameras.gestures import read_labels
from evstream.cameras.nodes import SyntheticSource
from evstream.cli.main import main
from evstream.events import concat_events

DVS128 = "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"


def _dv_read(path: Path) -> np.ndarray:
    dv = pytest.importorskip("dv_processing")
    reader = dv.io.MonoCameraRecording(str(path))
    parts = []
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        if batch is not None:
            parts.append(batch.numpy())
    return np.concatenate(parts)


def _same(peer: np.ndarray, events: np.ndarray, t: str, p: str) -> bool:
    return (np.array_equal(peer[t].astype(np.int64), events["t"]) and np.array_equal(peer["x"], events["x"])
            and np.array_equal(peer["y"], events["y"]) and np.array_equal(peer[p].astype(np.uint8), events["p"]))


def test_record_emulator_to_aedat4_reads_back_exactly(tmp_path: Path, recordings_dir: Path, capsys) -> None:
    source = recordings_dir / DVS128
    out = tmp_path / "copy.aedat4"
    assert main(["record", str(source), str(out), "--speed", "0", "--packet-us", "5000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = eio.read(source)
    assert report["events"] == len(expected) and report["buffer_dropped_events"] == 0
    back = eio.open(out)
    assert (back.width, back.height) == (128, 128)
    assert np.array_equal(back.read(), expected)
    assert _same(_dv_read(out), expected, "timestamp", "polarity")


def test_record_gestures_to_evt3_reads_back_exactly_with_labels(tmp_path: Path, capsys) -> None:
    faery = pytest.importorskip("faery")
    out = tmp_path / "g.raw"
    args = ["record", "gestures", str(out), "--gestures", "2", "--labels", "4,9", "--size", "64x64", "--seed", "3",
            "--speed", "0", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    node = SyntheticSource("s", gestures=2, labels=[4, 9], width=64, height=64, seed=3, speed=0.0)
    node.start()
    expected = concat_events([p.events for p in node.generate()])
    assert report["events"] == len(expected) > 1000
    assert np.array_equal(eio.read(out), expected)
    assert _same(np.concatenate(list(faery.events_stream_from_file(out))), expected, "t", "on")
    labels = read_labels(report["labels"])
    assert [(lab, s, e) for lab, s, e in labels] == [(s.label, s.start_us, s.end_us) for s in node.world.schedule]
    assert [lab for lab, _, _ in labels] == [4, 9]


def test_record_counts_link_drops_and_buffer(tmp_path: Path, recordings_dir: Path, capsys) -> None:
    out = tmp_path / "lossy.npz"
    assert main(["record", str(recordings_dir / DVS128), str(out), "--speed", "0", "--drop-probability", "0.2",
                 "--rate-limit", "5000", "--seed", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    total = len(eio.read(recordings_dir / DVS128))
    link = report["link"]
    assert link["dropped_packets"] > 0 and link["rate_limited_events"] > 0
    assert report["events"] + link["dropped_events"] + link["rate_limited_events"] == total
    assert len(eio.read(out)) == report["events"]


def test_record_text_summary_and_duration(tmp_path: Path, capsys) -> None:
    out = tmp_path / "shapes.aedat4"
    assert main(["record", "shapes", str(out), "--duration", "0.25", "--speed", "0", "--size", "32x32"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{out}: ") and "0.250 s of stream" in line and "dropped 0 packets" in line
    ev = eio.read(out)
    assert len(ev) > 0 and ev["t"].max() < 250_000


@pytest.mark.parametrize("args, match", [
    (["record", "nowhere.aedat4", "OUT.aedat4"], "no such recording"),
    (["record", "gestures", "OUT.txt", "--gestures", "1"], "output format"),
    (["record", "gestures", "x.npy", "--size", "big"], "--size must be WIDTHxHEIGHT"),
    (["record", "gestures", "x.npy", "--labels", "1,a"], "--labels"),
    (["record", "gestures", "x.npy", "--threshold", "0"], "--threshold"),
    (["record", "camera", "x.aedat4", "--backend", "neuromorphic-drivers"], "no device|no camera"),
    (["simulate", "missing.mp4", "x.aedat4"], "no such video"),
])
def test_user_errors_print_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys, args, match: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    import re

    assert re.search(match, err), err


def test_simulate_array_to_aedat4(tmp_path: Path, capsys) -> None:
    frames = np.full((8, 20, 30), 0.2, np.float32)
    for i in range(8):
        frames[i, 5:15, 3 + 3 * i: 6 + 3 * i] = 0.9
    np.save(tmp_path / "bar.npy", frames)
    out = tmp_path / "bar.aedat4"
    assert main(["simulate", str(tmp_path / "bar.npy"), str(out), "--fps", "100", "--noise-hz", "0", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ev = eio.read(out)
    assert summary["events"] == len(ev) > 0 and summary["frames"] == 8
    assert (summary["width"], summary["height"]) == (30, 20)
    assert ev["t"].max() < 70_000 and set(np.unique(ev["y"])) == set(range(5, 15))
    assert _same(_dv_read(out), ev, "timestamp", "polarity")


def test_record_timing_file_pairs_device_and_host_time(tmp_path: Path, capsys) -> None:
    import time

    timing = tmp_path / "timing.csv"
    before = time.time()
    assert main(["record", "shapes", str(tmp_path / "s.npz"), "--duration", "0.3", "--size", "16x16",
                 "--packet-us", "10000", "--timing", str(timing)]) == 0
    rows = [line.split(",") for line in timing.read_text().splitlines()]
    assert rows[0] == ["seq", "t_start_us", "t_end_us", "events", "host_s"]
    data = np.array(rows[1:], dtype=float)
    assert len(data) == 30 and np.array_equal(data[:, 2], np.arange(1, 31) * 10_000)
    host = data[:, 4] - before
    # Paced at real time: packets arrive in order and never ahead of their device time.
    assert np.all(np.diff(host) > 0) and host[-1] - host[0] >= 0.29 - 0.002
