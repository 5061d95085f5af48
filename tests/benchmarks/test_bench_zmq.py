"""Smoke test of ``evstream bench zmq``: small runs produce sane rows for both tools."""

from __future__ import annotations

import argparse

from evstream.bench import zmq as bench


def test_bench_zmq_rows_are_produced():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--packets", "4", "--packet-events", "20000", "--latency-packets", "20",
                              "--latency-packet-events", "500", "--transports", "ipc", "--repeat", "2"])
    rows = bench.run(args)
    assert [(r["case"].split()[0], r["tool"]) for r in rows] == [
        (case, tool) for case in ("throughput", "latency") for tool in ("evstream", "pyzmq")]
    for row in rows:
        if row["case"].startswith("throughput"):
            assert 0 < row["mev_s_min"] <= row["mev_s"] <= row["mev_s_max"]
            assert row["cpu_us"] > 0
        else:
            assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
            assert row["p99_ms_min"] <= row["p99_ms"] <= row["p99_ms_max"]
    assert all(rows[i]["ratio"] > 0 for i in range(0, len(rows), 2))
