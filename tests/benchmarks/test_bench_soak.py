"""``evstream bench soak``: the 2-minute endurance run, and the accounting it rests on.

The 2-minute run takes about 2.5 minutes (one test). RSS growth after the
first minute is asserted below 10 %, not the 5 % goal of the 30-minute soak:
with 20 s per third (the growth compares medians of the first and last thirds
of the samples after the warm-up) a load spike that fills the drop-oldest edges
(64 packets of ~170 kB on the camera edge alone, ~11 MB, ~3 % of the sending
process) can move one median; a leak of the data itself (160 MB/s at 10 Mev/s)
is far above either bound.
"""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import pytest

from evstream.bench import soak
from evstream.bench.soak_report import Sample, cpu_cores, hop_ledger, latency_series, rss_growth_pct
from evstream.cli.main import main


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    soak.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.json = True
    return args


def test_two_minute_soak_accounts_for_every_packet_and_writes_the_plot(tmp_path, recordings_dir):
    plot = tmp_path / "soak.png"
    rows = soak.run(_args("--minutes", "2", "--rate", "10", "--sample-s", "5", "--plot", str(plot),
                          "--recording", str(recordings_dir / "evt2" / "gen3-expelliarmus-evt2_sample.raw")))
    summary, samples = rows[0], rows[1:]
    print(json.dumps({k: v for k, v in summary.items() if k != "ledger"}, indent=1))
    assert summary["unexplained_drops"] == 0
    assert all(hop["unexplained"] == 0 for hop in summary["ledger"])
    assert summary["drops_counted"] == sum(summary["drops"].values())
    # a real stream flowed end to end: most of 2 min x 10 Mev/s in, frames out of the other process
    assert summary["events_in"] > 0.5 * 10e6 * 120
    assert 0 < summary["events_binned"] <= summary["events_in"] - summary["events_filtered"]
    assert 0.5 * 120 / 0.01 < summary["frames"] <= summary["frames_out"]
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert 0 < summary["steady_p50_ms"] <= summary["steady_p99_ms"] <= summary["steady_max_ms"]
    assert [s["t_s"] for s in samples] == pytest.approx([5.0 * k for k in range(1, 25)], abs=1.0)
    assert all(s["rss_send_mb"] > s["rss_recv_mb"] > 10 for s in samples)
    assert summary["rss_growth_send_pct"] < 10 and summary["rss_growth_recv_pct"] < 10
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000


def _stats(chain: list[tuple[str, int, int]], extra: dict[str, dict] | None = None) -> dict:
    """Stats of a linear graph: (node, packets_in, packets_out), every edge drop-oldest and lossless."""
    nodes = {}
    for i, (name, n_in, n_out) in enumerate(chain):
        inputs = [] if i == 0 else [{"from": chain[i - 1][0], "to": name, "policy": "drop-oldest",
                                     "delivered": n_in, "dropped": chain[i - 1][2] - n_in, "depth": 0}]
        nodes[name] = {"type": "t", "packets_in": n_in, "packets_out": n_out, "inputs": inputs,
                       **(extra or {}).get(name, {})}
    return {"nodes": nodes}


def test_ledger_balances_counted_drops_and_catches_a_silent_loss():
    send = _stats([("src", 0, 100), ("frames", 98, 10), ("out", 9, 0)],
                  {"out": {"sent": 8, "hwm_dropped": 1}})
    recv = _stats([("in", 0, 6), ("sink", 6, 0)],
                  {"in": {"received": 6, "gaps": 3, "joined_at": 0, "wrong_kind": 0}})
    ledger = hop_ledger(send, recv, "out", "in")
    assert [h["unexplained"] for h in ledger] == [0] * len(ledger)
    assert {h["hop"]: h["dropped"] for h in ledger if h["dropped"]} == {
        "send: src -> frames": 2, "send: frames -> out": 1, "zmq: out -> in (sender)": 1,
        "zmq: out -> in (wire)": 2}
    # one packet the edge delivered but whose drop nobody counted
    leaky = copy.deepcopy(send)
    leaky["nodes"]["frames"]["inputs"][0]["dropped"] = 1
    assert sum(h["unexplained"] for h in hop_ledger(leaky, recv, "out", "in")) == 1
    # a message lost on the wire with no sequence gap to show for it
    silent = copy.deepcopy(recv)
    silent["nodes"]["in"]["gaps"] = 2
    assert sum(h["unexplained"] for h in hop_ledger(send, silent, "out", "in")) == 1


def test_latency_is_arrival_minus_the_pacer_deadline_of_the_window_end():
    def due(t_us: int) -> float:  # stream µs 0 due at perf_counter 100 s, half speed
        return 100.0 + t_us * 2e-6

    t_end = np.array([10_000, 20_000, 30_000, 40_000])
    arrival = np.array([100.025, 100.047, 100.0605, 100.090])
    latency, per_interval = latency_series(t_end, arrival, due, t0_s=100.0, edges_s=[0.05, 0.1, 0.2])
    np.testing.assert_allclose(latency, [5.0, 7.0, 0.5, 10.0], atol=1e-6)
    assert [i["interval_frames"] for i in per_interval] == [2, 2, 0]
    assert per_interval[1]["max_ms"] == pytest.approx(10.0) and per_interval[2]["p50_ms"] is None


def _samples(rss_send: list[float], cpu_send: list[float]) -> list[Sample]:
    """Samples every 20 s of a sending process with these RSS (MB) and CPU (s), and a flat receiver."""
    return [Sample(20.0 * (i + 1), rss, 100.0, cpu, 1.0, 0, 0, 0)
            for i, (rss, cpu) in enumerate(zip(rss_send, cpu_send))]


def test_rss_growth_and_cpu_are_measured_after_the_warmup_only():
    # start-up, then a saw-tooth around 400 MB (no trend), then the same with a leak
    flat = _samples([100, 300, 400, 420, 390, 400, 410, 395, 400, 420, 400], [1, 30] + list(range(40, 130, 10)))
    leak = _samples([100, 300, 400, 420, 390, 410, 430, 405, 420, 440, 410], [0] * 11)
    assert rss_growth_pct(flat, "send", warmup_s=60) == 0.0
    assert rss_growth_pct(leak, "send", warmup_s=60) == pytest.approx(5.0)
    assert rss_growth_pct(flat, "recv", warmup_s=60) == 0.0
    assert rss_growth_pct(flat, "send", warmup_s=220) is None
    assert cpu_cores(flat, "send", warmup_s=60) == pytest.approx(0.5)
    assert cpu_cores(flat, "recv", warmup_s=60) == 0.0


def test_frames_are_a_centre_crop_downsampled_to_the_network_input():
    assert soak.frame_crop(640, 480, 32, 32) == ([80, 0, 480, 480], 15)
    assert soak.frame_crop(128, 128, 32, 32) == ([0, 0, 128, 128], 4)


def test_bad_options_are_one_line_user_errors(capsys, recordings_dir):
    assert main(["bench", "soak", "--minutes", "0"]) == 2
    assert "--minutes" in capsys.readouterr().err
    assert main(["bench", "soak", "--recording", str(recordings_dir / "missing.raw")]) == 2
    assert "missing.raw" in capsys.readouterr().err
