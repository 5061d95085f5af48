"""Smoke test of `evstream bench learning`: rows are produced and S-TLLR holds less than BPTT."""

from __future__ import annotations

import argparse

from evstream.bench import learning


def test_bench_learning_rows_are_sane():
    parser = argparse.ArgumentParser()
    learning.add_arguments(parser)
    args = parser.parse_args(["--steps", "30", "--batch-size", "16", "--threads", "1"])
    rows = learning.run(args)
    assert [(r["case"], r["tool"]) for r in rows] == [("T=30", "evstream-stllr"), ("T=30", "evstream-bptt")]
    stllr, bptt = rows
    assert stllr["peak_mb"] >= 0 and bptt["peak_mb"] > 0 and stllr["ms_per_step"] > 0
    assert stllr["ratio"] > 1          # the whole point of S-TLLR: no graph kept across steps
