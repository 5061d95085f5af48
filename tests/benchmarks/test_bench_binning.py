"""Smoke test of `evstream bench binning`: every case gives an evstream row and a peer row (no speed assertion)."""

from __future__ import annotations

import json

from evstream.cli.main import main


def test_bench_binning_rows(capsys, recordings_dir):
    path = recordings_dir / "aedat4" / "dvs128-redpob-2024_06_13_16_16_25.aedat4"
    assert main(["bench", "binning", "--json", "--file", str(path), "--events", "3000", "--peer-events", "500",
                 "--repeat", "1", "--window-us", "20000", "--live-s", "0.3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    live = rows.pop()
    assert live["case"].startswith("live") and live["frames"] in (15, 16)  # 0.3 s of 20 ms windows, edges absolute
    assert 0 <= live["frame_lag_p50_us"] <= live["frame_lag_p99_us"] <= live["frame_lag_max_us"]
    cases = {r["case"] for r in rows}
    assert len(cases) >= 12 and len(rows) == 2 * len(cases)
    for case in cases:
        ours, peer = [r for r in rows if r["case"] == case]
        assert ours["tool"] == "evstream" and peer["tool"] in ("tonic", "dv-processing")
        assert ours["mev_s"] > 0 and ours["ratio"] > 0, case
        assert peer["mev_s"] > 0 and peer["events"] == ours["events"], case
        assert abs(ours["ratio"] - ours["mev_s"] / peer["mev_s"]) < 1e-6 * ours["ratio"]
    assert {r["tool"] for r in rows} == {"evstream", "tonic", "dv-processing"}


def test_bench_binning_missing_file_is_a_user_error(capsys, tmp_path):
    assert main(["bench", "binning", "--file", str(tmp_path / "nope.aedat4")]) == 2
    assert "nope.aedat4" in capsys.readouterr().err
