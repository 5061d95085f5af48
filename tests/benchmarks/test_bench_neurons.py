"""Smoke test of `evstream bench neurons` on a small network (rows produced and sane, no speed assertion)."""

from __future__ import annotations

import argparse
import math

import pytest

from evstream.bench import neurons


def test_bench_neurons_rows(recordings_dir):
    pytest.importorskip("aedat")
    parser = argparse.ArgumentParser()
    neurons.add_arguments(parser)
    args = parser.parse_args(["--recording", str(recordings_dir / "aedat4" / "dvs128-redpob-2024_06_20_16_13_00.aedat4"),
                              "--steps", "2", "--batch", "1", "2", "--channels", "16", "--device", "cpu"])
    rows = neurons.run(args)
    tools = {(r["case"], r["tool"]) for r in rows}
    assert ("cpu b1", "evstream numba STC-LIF") in tools
    assert ("cpu b2", "evstream torch STC-LIF") in tools
    assert ("cpu b1", "evstream numba LIF") in tools
    measured = [r for r in rows if "skipped" not in r]
    assert len(measured) >= 4
    for row in measured:
        assert row["ms_step"] > 0 and math.isfinite(row["ms_step"])
        if "ratio" in row:  # a peer against evstream, or evstream's LIF row against SpikingJelly
            assert row["ratio"] > 0
            assert row["vs"].startswith("evstream") != row["tool"].startswith("evstream")
    numba_row = next(r for r in rows if r["tool"] == "evstream numba STC-LIF")
    assert all(0.0 <= rate <= 1.0 for rate in numba_row["spike_rates"])


def test_bench_neurons_rejects_bad_channels(recordings_dir):
    from evstream.errors import UserError

    parser = argparse.ArgumentParser()
    neurons.add_arguments(parser)
    with pytest.raises(UserError, match="multiple of 16"):
        neurons.run(parser.parse_args(["--channels", "24"]))
