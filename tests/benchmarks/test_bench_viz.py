"""Smoke test of the viewer bench: rows for both tools, sane figures (no speed assertion)."""

from __future__ import annotations

import argparse

from evstream.bench import viz


def test_bench_viz_rows() -> None:
    parser = argparse.ArgumentParser()
    viz.add_arguments(parser)
    rows = viz.run(parser.parse_args(["--events", "200000", "--repeat", "1"]))
    assert [(r["case"], r["tool"]) for r in rows] == [
        ("fold events", "evstream"), ("fold events", "numpy indexing"), ("view snapshot", "evstream")]
    assert rows[0]["events"] == rows[1]["events"] == 200_000
    assert rows[0]["mev_s"] > 0 and rows[1]["mev_s"] > 0 and rows[0]["ratio"] > 0
    assert rows[2]["pixels"] == 128 * 128 and rows[2]["ms"] > 0
