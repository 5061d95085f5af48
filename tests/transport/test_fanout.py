"""Inference fan-out: dispatcher and merge here, network workers as separate `evstream run` processes on loopback."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evstream.nn.nodes import NetworkNode
from evstream.packets import FramePacket
from evstream.transport import SocketConfig
from evstream.transport.fanout import Dispatcher
from evstream.transport.fanout_merge import Merger
from zmq_peer import free_port

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "apps" / "gesture" / "models" / "gesture32.pt"
RECORDING = REPO / "recordings" / "gestures.aedat4"
WINDOW_US = 50_000


@functools.lru_cache(maxsize=1)
def _events() -> np.ndarray:
    import evstream.io as eio

    return eio.read(RECORDING)


def _frames(n_streams: int, frames_per_stream: int) -> dict[str, list[FramePacket]]:
    """The gesture model's 50 ms 32x32 count frames, binned with numpy; stream ``k`` starts ``k`` s in.

    Each stream is cut into packets of 1 to 4 frames (a different pattern per stream).
    """
    events = _events()
    streams = {}
    for k in range(n_streams):
        t0 = int(events["t"][0]) + k * 1_000_000
        window = (events["t"] - t0) // WINDOW_US
        ev = events[(window >= 0) & (window < frames_per_stream)]
        index = (window[(window >= 0) & (window < frames_per_stream)], ev["p"].astype(np.int64),
                 ev["y"].astype(np.int64) // 4, ev["x"].astype(np.int64) // 4)
        frames = np.zeros((frames_per_stream, 2, 32, 32), np.float32)
        np.add.at(frames, index, 1.0)
        assert frames.sum() == len(ev) > 0
        packets, i, seq = [], 0, 0
        while i < frames_per_stream:
            n = 1 + (seq * (k + 1)) % 4
            starts = t0 + WINDOW_US * np.arange(i, min(i + n, frames_per_stream))
            packets.append(FramePacket(frames[i:i + n], starts, starts + WINDOW_US, seq=100 + seq))
            i, seq = i + n, seq + 1
        streams[f"cam{k}"] = packets
    return streams


def _reference(packets: list[FramePacket]) -> np.ndarray:
    """Logits of one in-process ``nn.network`` node fed ``packets`` (one torch thread, as the workers)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        node = NetworkNode("ref", checkpoint=str(MODEL))
        node.start()
        return np.concatenate([out.data for p in packets for out in node.process(p, "in")])
    finally:
        torch.set_num_threads(threads)


def _start_workers(n: int, address: str) -> list[subprocess.Popen]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "evstream", "run", str(REPO / "nodes" / "fanout-worker.toml"), "--no-progress",
           "--set", f"worker.address={address}", "--set", f"worker.checkpoint={MODEL}",
           "--set", "worker.idle_timeout_s=60.0"]
    return [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(n)]


def _stop(workers: list[subprocess.Popen]) -> None:
    for proc in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run(streams: dict[str, list[FramePacket]], dispatcher: Dispatcher, merger: Merger,
         kill_after: int | None = None) -> dict[str, list]:
    """Send the streams interleaved (packet i of every stream, then i + 1...), close, collect the merge."""
    rounds = max(len(p) for p in streams.values())
    for i in range(rounds):
        if i == kill_after:
            victim = next(iter(w for w in dispatcher.workers.values() if w.streams))
            pid = int(victim.ident.decode().split("-")[-2])
            os.kill(pid, signal.SIGKILL)
        for name, packets in streams.items():
            if i < len(packets):
                dispatcher.send(name, packets[i])
    dispatcher.close()
    got: dict[str, list] = {name: [] for name in streams}
    for name, packet in merger.results(idle_timeout_s=20.0):
        got[name].append(packet)
    return got


@pytest.fixture
def endpoints():
    dispatcher = Dispatcher(SocketConfig(f"tcp://127.0.0.1:{free_port()}", bind=True),
                            results := f"tcp://127.0.0.1:{free_port()}", timeout_s=3.0, wait_timeout_s=30.0)
    merger = Merger(SocketConfig(results, bind=True))
    merger.open()
    yield dispatcher, merger
    dispatcher.close()
    merger.close()


@pytest.mark.parametrize("n_workers", [pytest.param(1, marks=pytest.mark.slow), 2,
                                       pytest.param(4, marks=pytest.mark.slow)])
def test_fanout_gives_the_in_process_results_in_order(n_workers, endpoints):
    dispatcher, merger = endpoints
    dispatcher.min_workers = n_workers
    workers = _start_workers(n_workers, dispatcher.config.address)  # they start while the frames are binned
    streams = _frames(n_streams=3, frames_per_stream=24)
    try:
        got = _run(streams, dispatcher, merger)
    finally:
        _stop(workers)
    stats = dispatcher.stats()
    assert stats["joined"] == n_workers and stats["lost"] == stats["resent"] == stats["reassigned"] == 0
    assert len({s["worker"] for s in stats["per_stream"].values()}) == min(n_workers, 3)
    for name, packets in streams.items():
        assert [p.seq for p in got[name]] == [p.seq for p in packets]  # per-stream order, exactly once
        assert np.array_equal(np.concatenate([p.t_start for p in got[name]]),
                              np.concatenate([p.t_start for p in packets]))
        assert np.array_equal(np.concatenate([p.data for p in got[name]]), _reference(packets)), name
    assert merger.complete()
    assert merger.stats()["delivered"] == stats["packets"] == sum(len(p) for p in streams.values())
    assert [w.returncode for w in workers] == [0] * n_workers


def _fresh_from(packets: list[FramePacket], reference: np.ndarray, got: np.ndarray, window: int) -> int:
    """Index of the packet where a fresh network took over ``got`` (matching up to there, fresh after)."""
    sizes = np.cumsum([0] + [len(p) for p in packets])
    first_diff = next((i for i in range(len(packets)) if not np.array_equal(
        got[sizes[i]:sizes[i + 1]], reference[sizes[i]:sizes[i + 1]])), None)
    assert first_diff is not None, "the moved stream kept its state: it was not reset on the new worker"
    for start in range(first_diff, max(-1, first_diff - window - 1), -1):
        fresh = _reference(packets[start:])
        if np.array_equal(got[sizes[first_diff]:], fresh[sizes[first_diff] - sizes[start]:]):
            return start
    raise AssertionError(f"results after packet {first_diff} match no fresh network started near it")


@pytest.mark.parametrize("on_lost", ["resend", pytest.param("drop", marks=pytest.mark.slow)])
def test_killed_worker_streams_continue_elsewhere_and_counters_explain_every_packet(on_lost, endpoints):
    dispatcher, merger = endpoints
    dispatcher.min_workers = 2
    dispatcher.on_lost = on_lost
    workers = _start_workers(2, dispatcher.config.address)
    streams = _frames(n_streams=4, frames_per_stream=32)
    try:
        got = _run(streams, dispatcher, merger, kill_after=5)
    finally:
        _stop(workers)
    stats, merged = dispatcher.stats(), merger.stats()
    assert stats["joined"] == 2 and stats["workers"] == 1
    assert stats["left_unreachable"] + stats["left_timeout"] == 1
    assert stats["reassigned"] == 2  # 4 streams on 2 workers: the victim held 2
    assert stats["packets"] == stats["acked"] + stats["lost"] == sum(len(p) for p in streams.values())
    if on_lost == "drop":
        assert stats["resent"] == 0
    else:
        assert stats["lost"] == 0
    assert merged["expected"] == stats["packets"] == merged["delivered"] + merged["lost"]
    assert stats["lost"] == merged["lost"] + merged["recovered"]
    # a duplicate is a re-sent packet, or a lost one whose result the dead worker still delivered, late
    assert merged["duplicates"] <= stats["resent"] + stats["lost"] and merged["pending"] == 0
    moved = 0
    for name, packets in streams.items():
        delivered = got[name]
        counts = merged["per_stream"][name]
        assert counts["delivered"] + counts["lost"] == len(packets) == stats["per_stream"][name]["packets"]
        seqs = [p.seq for p in delivered]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        kept = [p for p in packets if p.seq in set(seqs)]
        data, reference = np.concatenate([p.data for p in delivered]), _reference(kept)
        if np.array_equal(data, reference):
            continue
        moved += 1
        _fresh_from(kept, reference, data, dispatcher.window)
    assert moved == 2


@pytest.mark.slow
def test_graph_files_run_dispatch_merge_and_worker_in_separate_processes():
    """nodes/fanout.toml here, nodes/fanout-worker.toml in a process: the merge gets every frame's logits."""
    from evstream.graph.loader import load_graph

    address, results = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    workers = _start_workers(1, address)
    graph = load_graph(REPO / "nodes" / "fanout.toml", {
        "src.path": str(RECORDING), "src.end_us": 2_000_000, "dispatch.address": address,
        "dispatch.results": results, "merge.address": results, "merge.idle_timeout_s": 30.0})
    try:
        stats = graph.run(handle_signals=False)["nodes"]
    finally:
        _stop(workers)
    frames = stats["frames"]["events_out"]
    assert frames >= 30
    assert stats["dispatch"]["packets"] == stats["dispatch"]["acked"] == stats["frames"]["packets_out"]
    assert stats["merge"]["delivered"] == stats["merge"]["expected"] == stats["frames"]["packets_out"]
    assert stats["count"]["counted_items"] == frames and stats["count"]["counted_packets"] == stats["merge"]["delivered"]
    assert workers[0].returncode == 0
