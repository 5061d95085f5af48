"""The gesture app on the project's gesture recording: printed labels against its label CSV,
latency report, backends, the pieces (arrival log, smoother, segment scoring), user errors."""

from __future__ import annotations

import csv
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from apps.gesture import DEFAULT_MODEL, DEFAULT_RECORDING
from apps.gesture.app import GestureOptions, build_graph, run_app
from apps.gesture.latency import ArrivalLog
from apps.gesture.recognizer import GestureNet, HorizonVote
from apps.gesture.terminal import score_segments
from evstream.cameras.gestures import GESTURES
from evstream.cli.main import main
from evstream.errors import UserError

REPO = Path(__file__).resolve().parents[2]
LABELS_CSV = DEFAULT_RECORDING.with_name("gestures_labels.csv")
LINE = re.compile(r"^\s*(\d+\.\d+) s\s+(\S+)\s+(\d\.\d\d)$")


def _segments_from_csv(path: Path) -> list[tuple[int, int, int]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r["class"]) - 1, int(r["startTime_usec"]), int(r["endTime_usec"])) for r in rows]


def _printed_timeline(text: str) -> list[tuple[int, int]]:
    """``(t µs, class)`` of every printed label change."""
    changes = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            changes.append((round(float(m.group(1)) * 1e6), GESTURES.index(m.group(2))))
    return changes


def _shown_longest(changes: list[tuple[int, int]], start: int, end: int) -> int:
    """The class the printed labels show for the longest time inside ``[start, end)`` (-1: none)."""
    shown: dict[int, int] = {}
    for i, (t, label) in enumerate(changes):
        t_next = changes[i + 1][0] if i + 1 < len(changes) else end
        overlap = min(end, t_next) - max(start, t)
        if overlap > 0:
            shown[label] = shown.get(label, 0) + overlap
    return max(shown, key=shown.get) if shown else -1


@pytest.fixture(scope="module")
def demo_run() -> tuple[dict, str]:
    """The app on the shipped recording, unpaced, headless: (report, printed text)."""
    out = io.StringIO()
    report = run_app(GestureOptions(source=str(DEFAULT_RECORDING), speed=0.0, out=out))
    return report, out.getvalue()


def test_printed_gestures_match_the_label_file(demo_run: tuple[dict, str]) -> None:
    report, text = demo_run
    changes = _printed_timeline(text)
    assert changes, f"no label lines printed:\n{text}"
    segments = _segments_from_csv(LABELS_CSV)
    assert len(segments) == 11
    hits = [_shown_longest(changes, start, end) == truth for truth, start, end in segments]
    assert sum(hits) / len(hits) >= 0.9, f"{sum(hits)}/{len(hits)} segments recognised:\n{text}"
    # the app's own score (from every frame, not only the printed changes) agrees
    assert report["segments"]["total"] == 11
    assert report["segments"]["recognised"] >= 10


def test_report_counts_every_event_and_frame(demo_run: tuple[dict, str]) -> None:
    from evstream.io import read

    report, _ = demo_run
    data = read(DEFAULT_RECORDING)
    events = getattr(data, "events", data)
    assert report["events"] == len(events)
    assert report["dropped_packets"] == {}
    lat = report["latency_us"]
    assert report["frames"] - 1 <= report["latency_samples"] <= report["frames"]  # the flushed last frame may have none
    assert 0 < lat["p50_us"] <= lat["p99_us"] <= lat["max_us"]


def test_paced_run_reports_latency_for_every_label() -> None:
    out = io.StringIO()
    report = run_app(GestureOptions(source=str(DEFAULT_RECORDING), speed=1.0, seconds=3.0, out=out))
    assert report["stopped"] == "time limit"
    assert report["frames"] > 0 and report["frames"] - 1 <= report["latency_samples"] <= report["frames"]
    assert report["latency_us"]["p99_us"] >= report["latency_us"]["p50_us"] > 0


def test_numba_and_torch_backends_agree() -> None:
    from evstream.binning import to_frames
    from evstream.io import read

    data = read(DEFAULT_RECORDING)
    events = getattr(data, "events", data)
    events = events[events["t"] < 3_000_000]
    numba_net, torch_net = GestureNet(str(DEFAULT_MODEL), "numba"), GestureNet(str(DEFAULT_MODEL), "torch")
    window = numba_net.ckpt.binning["window_us"]
    frames = to_frames(events, width=128, height=128, window_us=window, origin_us=0)
    d = numba_net.ckpt.binning["downsample"]
    frames = frames.reshape(len(frames), 2, 32, d, 32, d).sum(axis=(3, 5)).astype(np.float32)
    # The trained model's temporal circuit multiplies many membranes by nearly 2 per step (1 + beta,
    # beta -> 1): with the soft reset that is the doubling map, so float32 rounding differences of the
    # two backends (~1e-7) double every step and the spikes part after about 20 steps (2^-23 precision).
    # Both are exact up to there; after it they still track the same gestures.
    a, b, same_spikes = [], [], []
    for frame in frames:
        a.append(numba_net.step(frame))
        b.append(torch_net.step(frame))
        same_spikes.append(np.array_equal(numba_net.spikes(), torch_net.spikes()))
    a, b = np.array(a), np.array(b)
    np.testing.assert_allclose(a[:10], b[:10], rtol=1e-3, atol=1e-3)
    assert all(same_spikes[:15])
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.8


def test_arrival_log_gives_the_first_packet_that_reached_a_time() -> None:
    log = ArrivalLog()
    for t_end, wall in ((1000, 10), (2000, 20), (3000, 30)):
        log.stamp(t_end, wall)
    assert log.arrival_of(500) == 10
    assert log.arrival_of(2000) == 20
    assert log.arrival_of(2001) == 30
    assert log.arrival_of(3001) is None
    log.stamp(100, 40)  # time went back (a new loop): the log starts over
    assert log.arrival_of(50) == 40 and log.arrival_of(1000) is None


def test_horizon_vote_matches_fresh_networks_replayed_from_each_reset() -> None:
    from evstream.binning import to_frames
    from evstream.io import read

    data = read(DEFAULT_RECORDING)
    events = getattr(data, "events", data)
    frames = to_frames(events[events["t"] < 2_000_000], width=128, height=128, window_us=50_000, origin_us=0)
    frames = frames.reshape(len(frames), 2, 32, 4, 32, 4).sum(axis=(3, 5)).astype(np.float32)
    horizon = 6
    vote = HorizonVote([GestureNet(str(DEFAULT_MODEL), "numba") for _ in range(2)], horizon)
    reference = GestureNet(str(DEFAULT_MODEL), "torch")
    for k, frame in enumerate(frames):
        label, conf = vote.add(frame)
        # copy 0 resets at 0, H, 2H...; copy 1 at H/2, H/2 + H...; the older one decides
        since = [k - k % horizon, k - (k - horizon // 2) % horizon if k >= horizon // 2 else 0]
        start = min(since)
        reference.reset()
        mean = np.mean([reference.step(f) for f in frames[start: k + 1]], axis=0)
        p = np.exp(mean - mean.max())
        p /= p.sum()
        assert label == int(np.argmax(p))
        assert conf == pytest.approx(float(p.max()), rel=1e-3)


def test_segment_score_takes_the_label_shown_longest() -> None:
    t_end = np.arange(1, 21) * 100
    shown = np.array([0] * 5 + [3] * 3 + [-1] * 2 + [2] * 4 + [-1] * 6)
    results = score_segments(t_end, shown, [(0, 0, 1000), (2, 1000, 1500), (5, 1500, 2000)])
    assert [r.shown for r in results] == [0, 2, -1]
    assert [r.ok for r in results] == [True, True, False]


def test_user_errors_are_one_line() -> None:
    with pytest.raises(UserError, match="no such recording"):
        build_graph(GestureOptions(source="/nonexistent/x.aedat4"))
    with pytest.raises(UserError, match="no such checkpoint"):
        build_graph(GestureOptions(model="/nonexistent/model.pt"))
    with pytest.raises(UserError, match="--layer 5"):
        build_graph(GestureOptions(layer=5))


def test_cli_headless_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["gesture", str(DEFAULT_RECORDING), "--headless", "--speed", "0", "--seconds", "30", "--json"])
    assert rc == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["segments"]["total"] == 11 and report["frames"] > 300
    assert main(["gesture", "/nonexistent.aedat4", "--headless"]) == 2
    assert "no such recording" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_prints_stats() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "evstream", "gesture", "--headless", "--loop"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(25)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped: SIGINT" in out and "latency event in -> label out" in out


def test_display_without_qt_runs_headless_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import evstream.viz
    from apps.gesture.app import want_viewer

    monkeypatch.setattr(evstream.viz, "qt_missing", lambda: "PySide6")
    monkeypatch.setenv("DISPLAY", ":0")
    hint = io.StringIO()
    assert want_viewer("auto", hint) is False
    assert hint.getvalue().count("\n") == 1 and "evstream[viz]" in hint.getvalue()
    with pytest.raises(UserError, match="PySide6"):
        want_viewer("on")
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    if sys.platform.startswith("linux"):
        assert want_viewer("auto", hint) is False and hint.getvalue().count("\n") == 1  # no display: no hint


def test_horizon_comes_from_the_model_then_its_training_sequence(tmp_path: Path) -> None:
    from evstream.nn import checkpoint

    ckpt = checkpoint.load(DEFAULT_MODEL)
    opts = dict(source=str(DEFAULT_RECORDING), out=io.StringIO())
    without_horizon = {k: v for k, v in ckpt.binning.items() if k != "horizon"}
    for binning, expected in (({**ckpt.binning, "horizon": 6}, 6), ({**without_horizon, "steps": 14}, 14)):
        path = tmp_path / f"h{expected}.pt"
        checkpoint.save(path, ckpt.net, binning=binning, class_names=list(ckpt.class_names))
        assert build_graph(GestureOptions(model=str(path), **opts)).classify.vote.horizon == expected
        assert build_graph(GestureOptions(model=str(path), horizon=8, **opts)).classify.vote.horizon == 8
