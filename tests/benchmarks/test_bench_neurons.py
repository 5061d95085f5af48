"""Smoke test of `evstream bench neurons` on a small network (rows produced and sane, no speed assertion)."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from evstream.bench import neurons

DVS128 = "aedat4/dvs128-redpob-2024_06_20_16_13_00.aedat4"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    neurons.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_bench_neurons_rows(recordings_dir):
    pytest.importorskip("aedat")
    args = parse("--recording", str(recordings_dir / DVS128), "--steps", "2", "--batch", "1", "2",
                 "--channels", "16", "--device", "cpu", "--no-compile")
    rows = neurons.run(args)
    tools = {(r["case"], r["tool"]) for r in rows}
    assert ("cpu b1", "evstream numba STC-LIF") in tools
    assert ("cpu b1", "evstream numba STC-LIF, rates of trained gesture32") in tools
    assert ("cpu b2", "evstream torch STC-LIF") in tools
    assert ("cpu b1", "evstream numba LIF") in tools
    measured = [r for r in rows if "skipped" not in r]
    assert len(measured) >= 5
    for row in measured:
        assert row["ms_step"] > 0 and math.isfinite(row["ms_step"])
        if "ratio" in row:  # a peer against evstream, or an evstream row against SpikingJelly
            assert row["ratio"] > 0
            assert row["vs"].startswith("evstream") != row["tool"].startswith("evstream")
    for row in (r for r in rows if r["tool"].startswith("evstream numba")):
        assert all(0.0 <= rate <= 1.0 for rate in row["spike_rates"])
        assert len(row["dense"]) == 1 and set(row["dense"][0].split("+")) <= {"conv", "circuits", "-"}
    calibrated = next(r for r in rows if "target_rates" in r)
    assert len(calibrated["target_rates"]) == 2  # the shipped model's two layers


def test_calibrate_matches_target_rates(recordings_dir):
    pytest.importorskip("aedat")
    import torch

    from evstream.nn.zoo import build

    frames = neurons.load_frames(recordings_dir / DVS128, 50e3)[:12]
    torch.manual_seed(0)
    net = build("dvsgesture", neuron="stc-lif", channels=[16, 16]).eval()
    for targets in ([0.03, 0.05], [0.3]):  # below and above the random-init rates; one target for both
        rates = neurons.calibrate(net, frames, np.array(targets))
        expected = np.array([targets[0], targets[-1]])
        assert np.all(np.abs(rates - expected) <= 0.2 * expected), (rates, targets)


def test_bench_neurons_rejects_bad_arguments(recordings_dir):
    from evstream.errors import UserError

    with pytest.raises(UserError, match="multiple of 16"):
        neurons.run(parse("--channels", "24"))
    with pytest.raises(UserError, match="--window-ms 0: must be > 0"):
        neurons.load_frames(recordings_dir / DVS128, 0)
    with pytest.raises(UserError, match="only 1 frames"):
        neurons.run(parse("--recording", str(recordings_dir / DVS128), "--window-ms", "10000"))
