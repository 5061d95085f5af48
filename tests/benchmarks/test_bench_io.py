"""Smoke test of ``evstream bench io`` on small files: rows are produced and consistent (no speed assertions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from evstream.bench import io as bench_io
from evstream.cli.main import main
from tests.conftest import RECORDINGS


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_io.add_arguments(parser)
    args = parser.parse_args([])
    args.recordings = RECORDINGS
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_bench_io_rows_are_sane() -> None:
    rows = bench_io.run(_args(events=30_000, repeat=1, rss_events=50_000))
    ours = {r["case"]: r for r in rows if r["tool"] == "evstream" and r["case"] != "rss"}
    assert set(ours) == set(bench_io.SOURCES)
    for case, row in ours.items():
        assert row["events"] == 30_000 and row["mev_s"] > 0 and row["goal_mev_s"] == bench_io.GOALS_MEV_S.get(case)
    measured = [r for r in rows if r["tool"] != "evstream" and "skipped" not in r]
    assert measured, "no peer could be measured"
    for row in measured:
        assert row["ratio"] > 0 and row["mev_s"] > 0
        if row["tool"] != "expelliarmus" or row["case"] != "evt3":
            assert row["events"] == ours[row["case"]]["events"], row
    rss = next(r for r in rows if r["case"] == "rss")
    assert rss["events"] == 50_000 and rss["peak_rss_mib"] > 0


def test_bench_io_cli_json_and_plot(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["bench", "io", "--json", "--events", "5000", "--repeat", "1", "--formats", "evt3,nmnist",
                 "--recordings", str(RECORDINGS), "--plot", str(tmp_path / "io.png")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["case"] == "evt3" and rows[0]["tool"] == "evstream" and rows[0]["events"] == 5000
    assert (tmp_path / "io.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_io_unknown_case(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "io", "--formats", "mp4"]) == 2
    assert "unknown bench case" in capsys.readouterr().err
