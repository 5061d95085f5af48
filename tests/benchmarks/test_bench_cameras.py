"""Smoke test of `evstream bench cameras` on small data: rows are produced and sane (no speed assertion)."""

from __future__ import annotations

import argparse

from evstream.bench import cameras


def test_bench_cameras_rows(recordings_dir, manifest) -> None:
    name = "aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4"
    oracle = next(r for r in manifest["files"] if r["path"] == name)["oracle"]
    parser = argparse.ArgumentParser()
    cameras.add_arguments(parser)
    args = parser.parse_args(["--seconds", "0.3", "--frames", "20", "--size", "64x48", "--pace-s", "0.3",
                              "--repeat", "1", "--file", str(recordings_dir / name)])
    rows = cameras.run(args)
    by_case = {(r["case"], r["tool"]): r for r in rows}
    assert {c for c, _ in by_case} == {"synthetic-gestures", "video-to-events", "emulator-recut", "emulator-pace"}
    for (case, tool), row in by_case.items():
        if tool == "peer":
            assert "skipped" in row
        else:
            assert row["events"] > 0 and row["wall_s"] > 0
    assert by_case[("synthetic-gestures", "evstream")]["realtime_x"] > 0
    assert by_case[("emulator-recut", "evstream")]["events"] == oracle["event_count"]  # the whole recording
    assert abs(by_case[("emulator-pace", "evstream")]["wall_s"] - 0.3) < 0.2
