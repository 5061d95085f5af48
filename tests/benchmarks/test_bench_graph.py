"""Smoke test of `evstream bench graph`: rows for both tools, sane figures (no speed assertion)."""

from __future__ import annotations

import json

from evstream.cli.main import main


def test_bench_graph_reports_overhead_and_throughput(capsys):
    assert main(["bench", "graph", "--json", "--packets", "200", "--sizes", "1000", "--repeat", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["tool"] for r in rows] == ["evstream", "queue.Queue"]
    ours = rows[0]
    assert ours["mev_s"] > 0 and ours["ratio"] > 0
    assert isinstance(ours["us_per_packet_node"], float)
