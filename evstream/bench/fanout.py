"""``evstream bench fanout``: inference fan-out to 1, 2, 4 network worker processes vs one in-process network.

Data: ``--streams`` streams of ``--frames`` frames each, binned from a
recording with the model's own binning settings (window, downsample; the
shipped gesture model: 50 ms count frames at 32x32 from
``recordings/gestures.aedat4``), stream ``k`` starting ``k / streams`` of the
way into the recording, in packets of ``--packet-frames`` frames.

* ``in-process``: one ``nn.network`` node per stream in this process, the
  streams' packets interleaved, one torch thread (the peer).
* ``fanout N``: the same packets through :class:`~evstream.transport.fanout.Dispatcher`
  to N worker processes (one torch thread each) over ``tcp://127.0.0.1``,
  results gathered by the merge in a thread of this process.

Both are timed after a warm-up packet per stream (network construction,
worker registration), from the first timed packet sent to the last result
received; each runs ``--repeat`` times, alternating, and its best run counts. ``frames_s`` counts frames, ``ms_frame`` is wall time per frame,
``identical`` says whether every stream's logits equal the in-process ones
bit for bit, ``ratio`` = fan-out frames/s / in-process frames/s. Workers beyond
the machine's CPU cores (the dispatcher and merge need one too) cannot add
speed: the ``note`` column says so.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from evstream.packets import FramePacket

HELP = "inference fan-out: frames/s with 1, 2, 4 worker processes over ZeroMQ vs one in-process network"

_REPO = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(_REPO / "apps" / "gesture" / "models" / "gesture32.pt"),
                        help="network checkpoint (default: the shipped 32x32 gesture model)")
    parser.add_argument("--recording", default=str(_REPO / "recordings" / "gestures.aedat4"),
                        help="recording binned into the frames (default: recordings/gestures.aedat4)")
    parser.add_argument("--streams", type=int, default=4, help="streams, each pinned to one worker (default 4)")
    parser.add_argument("--frames", type=int, default=100, help="frames per stream (default 100)")
    parser.add_argument("--packet-frames", type=int, default=1, help="frames per packet (default 1)")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts (default 1,2,4)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per network process (default 1)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per tool, alternating tools; each tool's best run is reported (default 3)")


def stream_frames(model: str, recording: str, streams: int, frames: int,
                  packet_frames: int) -> dict[str, list[FramePacket]]:
    """``streams`` streams of ``frames`` frames in packets of ``packet_frames``, binned as the model was trained."""
    import evstream.io as eio
    from evstream.binning import FrameConfig, make_binner
    from evstream.nn.checkpoint import load

    settings = load(model).binning
    window_us = int(settings.get("window_us", 10_000))
    rec = eio.open(recording, window_us=window_us)
    binner = make_binner(FrameConfig(width=rec.width, height=rec.height, window_us=window_us,
                                     downsample=int(settings.get("downsample", 1))))
    binned = [out for packet in rec for out in binner.process(packet)] + list(binner.flush())
    data = np.concatenate([np.asarray(p.data) for p in binned])
    t_start = np.concatenate([p.t_start for p in binned])
    out = {}
    for k in range(streams):
        index = (k * len(data) // streams + np.arange(frames)) % len(data)
        out[f"stream{k}"] = [FramePacket(data[index[i:i + packet_frames]], t_start[index[i:i + packet_frames]],
                                         t_start[index[i:i + packet_frames]] + window_us, seq)
                             for seq, i in enumerate(range(0, frames, packet_frames))]
    return out


def _interleaved(streams: dict[str, list[FramePacket]], first: int, last: int | None = None):  # noqa: ANN202
    """``(stream, packet)`` for packets ``first:last`` of every stream, one stream after the other per index."""
    rounds = max(len(p) for p in streams.values()) if last is None else last
    for i in range(first, rounds):
        for name, packets in streams.items():
            if i < len(packets):
                yield name, packets[i]


def _in_process(streams: dict[str, list[FramePacket]], model: str) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds for all packets after the first of each stream, and each stream's logits."""
    from evstream.nn.nodes import NetworkNode

    nodes = {name: NetworkNode(name, checkpoint=model) for name in streams}
    logits: dict[str, list[np.ndarray]] = {name: [] for name in streams}
    for name, packet in _interleaved(streams, 0, 1):
        nodes[name].start()
        logits[name] += [out.data for out in nodes[name].process(packet, "in")]
    t0 = time.perf_counter()
    for name, packet in _interleaved(streams, 1):
        logits[name] += [out.data for out in nodes[name].process(packet, "in")]
    return time.perf_counter() - t0, {name: np.concatenate(v) for name, v in logits.items()}


def _serve(address: str, model: str, threads: int) -> None:
    """A worker process: serve one dispatcher run."""
    import torch

    from evstream.transport import SocketConfig
    from evstream.transport.fanout_worker import Worker

    torch.set_num_threads(threads)
    worker = Worker(SocketConfig(address, bind=False), model, idle_timeout_s=120.0)
    try:
        for _ in worker.serve():
            pass
    finally:
        worker.close()


def _address() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def _fan_out(streams: dict[str, list[FramePacket]], model: str, n_workers: int,
             threads: int) -> tuple[float, dict[str, np.ndarray], dict[str, Any]]:
    """Seconds for all packets after the first of each stream through ``n_workers`` workers; logits; stats."""
    from evstream.transport import SocketConfig
    from evstream.transport.fanout import Dispatcher
    from evstream.transport.fanout_merge import Merger

    address, results = _address(), _address()
    merger = Merger(SocketConfig(results, bind=True))
    merger.open()
    got: dict[str, list[np.ndarray]] = {name: [] for name in streams}
    arrivals: list[float] = []

    def gather() -> None:
        for name, packet in merger.results(idle_timeout_s=60.0):
            got[name].append(np.asarray(packet.data))
            arrivals.append(time.perf_counter())

    gatherer = threading.Thread(target=gather, name="evstream:bench-merge")
    gatherer.start()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_serve, args=(address, model, threads)) for _ in range(n_workers)]
    for proc in workers:
        proc.start()
    dispatcher = Dispatcher(SocketConfig(address, bind=True), results, min_workers=n_workers, wait_timeout_s=120.0)
    try:
        for name, packet in _interleaved(streams, 0, 1):
            dispatcher.send(name, packet)
        while len(arrivals) < len(streams):
            time.sleep(0.001)
        t0 = time.perf_counter()
        for name, packet in _interleaved(streams, 1):
            dispatcher.send(name, packet)
    finally:
        dispatcher.close()
        gatherer.join()
        merger.close()
        for proc in workers:
            proc.join(60)
    return arrivals[-1] - t0, {name: np.concatenate(v) for name, v in got.items()}, dispatcher.stats()


def run(args: argparse.Namespace) -> list[dict]:
    import torch

    torch.set_num_threads(args.threads)
    streams = stream_frames(args.model, args.recording, args.streams, args.frames, args.packet_frames)
    timed_frames = sum(len(p) for packets in streams.values() for p in packets[1:])
    counts = [int(v) for v in args.workers.split(",") if v.strip()]
    best: dict[int, float] = {}
    outputs: dict[int, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
    for _ in range(args.repeat):  # tools alternate, so each sees the same machine load
        seconds, reference = _in_process(streams, args.model)
        best[0] = min(best.get(0, seconds), seconds)
        for n in counts:
            seconds, logits, stats = _fan_out(streams, args.model, n, args.threads)
            best[n] = min(best.get(n, seconds), seconds)
            outputs[n] = logits, stats
    case = f"{args.streams} streams x {args.frames} frames"
    rows = [{"case": case, "tool": "in-process", "frames_s": timed_frames / best[0],
             "ms_frame": 1e3 * best[0] / timed_frames, "identical": True}]
    cores = os.cpu_count() or 1
    for n in counts:
        logits, stats = outputs[n]
        row = {"case": case, "tool": f"fanout {n}", "frames_s": timed_frames / best[n],
               "ms_frame": 1e3 * best[n] / timed_frames,
               "identical": all(np.array_equal(logits[s], reference[s]) for s in streams),
               "workers_used": len({v["worker"] for v in stats["per_stream"].values()}),
               "lost": stats["lost"], "ratio": best[0] / best[n]}
        if n >= cores:
            row["note"] = f"{n} workers and the dispatcher share {cores} CPU cores: no speed-up past {cores}"
        rows.append(row)
    return rows
