"""``evstream bench soak``: endurance of a full live pipeline across two processes.

The sending process runs ``nodes/soak-send.toml``: a real recording looped
by the camera emulator at ``--rate`` Mev/s (paced by the wall clock; the
emulator's ``speed`` is the rate over the recording's own mean rate), a
refractory filter, 10 ms count frames at the network's input size, the
shipped gesture STC-LIF network, and a ZeroMQ PUSH sender. A spawned
process receives the logits (PULL) into a sink that notes when each frame
arrived (:mod:`.soak_receiver`). Every ``--sample-s`` seconds the resident
memory (RSS) of both processes and the running totals are sampled.

Reported (one summary row, then one row per sample):

* events in (camera), removed by filters (not drops), binned; frames made and
  delivered; every drop with the counter that counted it
  (:mod:`.soak_report`), and ``unexplained_drops`` = packets sent by the
  binner - delivered at the sink - counted drops - still queued, plus any
  imbalance of the hops before the binner: it must be 0;
* latency per frame, from the wall-clock time at which its window ended (the
  camera pacer's deadline for the window end) to its arrival at the sink:
  p50/p99/max over the run, after ``--warmup-s`` (``steady_*``: the start
  includes the network's first, compiling step) and per sample interval;
* ``rss_growth_*_pct``: per process, median RSS of the last third of the
  samples after ``--warmup-s`` over that of the first third (goal < 5 %); ``sustained``: the camera kept 98 % of the rate
  and nothing was dropped after the warm-up;
* ``cpu_*_cores``: CPU time per wall second of each process after the
  warm-up, and ``busy_s`` per node, to tell what a rate costs.

There is no peer: no other library runs this pipeline end to end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from evstream.bench.soak_receiver import RECEIVER, SINK, receive
from evstream.bench.soak_report import Sample, cpu_cores, hop_ledger, latency_series, rss_growth_pct
from evstream.errors import UserError, require
from evstream.graph.runtime import Graph

HELP = "endurance: looped camera -> filter -> frames -> network -> ZeroMQ -> sink process; drops, latency, RSS"

REPO = Path(__file__).resolve().parents[2]
GRAPH = REPO / "nodes" / "soak-send.toml"
RECORDING = REPO.parent / "shared" / "recordings" / "evt2" / "gen3-expelliarmus-evt2_sample.raw"
CHECKPOINT = REPO / "apps" / "gesture" / "models" / "gesture32.pt"
GRACE_S = 30.0
"""Time the pipeline may drain after the camera stops, s."""
CAMERA, BINNER, NETWORK, SENDER = "src", "frames", "net", "out"
"""Node names the soak sets and reads in its sending graph (see nodes/soak-send.toml)."""
SUSTAINED_FRACTION = 0.98
"""The camera sustained the rate when it delivered at least this fraction of it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=2.0, help="camera running time, minutes (default 2)")
    parser.add_argument("--rate", type=float, default=10.0, help="camera event rate, Mev/s (default 10)")
    parser.add_argument("--recording", default=str(RECORDING),
                        help="recording the camera loops (default: the shared 640x480 Prophesee Gen3 EVT2 sample)")
    parser.add_argument("--graph", default=str(GRAPH), help="sending graph file (default nodes/soak-send.toml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a parameter of the sending graph (repeatable)")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between two samples (default 5)")
    parser.add_argument("--warmup-s", type=float, default=60.0,
                        help="RSS growth, steady latency and drops after warm-up count from here, s (default 60)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the sending process (default 1)")
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="write RSS and latency over time here")


# -- planning ---------------------------------------------------------------------------------
def recording_rate(path: str | Path) -> tuple[int, int, int, int]:
    """``(events, covered µs, width, height)`` of one pass of a recording, as the emulator loops it."""
    from evstream.cameras.recording import open_recording

    rec = open_recording(path)
    events, first, last = 0, None, None
    for packet in rec.packets():
        events += len(packet)
        first = packet.t_start if first is None else first
        last = packet.t_end
    if not events or last is None or last <= first:
        raise UserError(f"--recording {path}: holds no events to loop; choose a recording with events")
    return events, last - first, rec.width, rec.height


def frame_crop(width: int, height: int, in_h: int, in_w: int) -> tuple[list[int], int]:
    """Centre crop ``[x, y, w, h]`` (pixels) and integer downsampling that turn the sensor into ``in_w`` x ``in_h``."""
    factor = min(width // in_w, height // in_h)
    if factor < 1:
        raise UserError(f"--recording: a {width}x{height} sensor is smaller than the network's "
                        f"{in_w}x{in_h} input; choose a larger recording")
    w, h = in_w * factor, in_h * factor
    return [(width - w) // 2, (height - h) // 2, w, h], factor


def _free_tcp_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def _plan(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Overrides of the sending graph (computed, then the user's ``--set``) and the facts of the plan."""
    from evstream.graph.loader import parse_override
    from evstream.nn.checkpoint import load

    if args.minutes <= 0 or args.rate <= 0 or args.sample_s <= 0:
        raise UserError("--minutes, --rate and --sample-s must be positive")
    user = dict((f"{n}.{p}", v) for n, p, v in map(parse_override, args.overrides))
    checkpoint = user.get(f"{NETWORK}.checkpoint", str(CHECKPOINT))
    events, span_us, width, height = recording_rate(args.recording)
    _, in_h, in_w = load(checkpoint).in_shape
    crop, factor = frame_crop(width, height, in_h, in_w)
    speed = args.rate * 1e6 / (events / (span_us * 1e-6))
    overrides = {f"{CAMERA}.path": str(args.recording), f"{CAMERA}.speed": speed, f"{BINNER}.crop": crop,
                 f"{BINNER}.downsample": factor, f"{NETWORK}.checkpoint": checkpoint,
                 f"{SENDER}.address": _free_tcp_address(), **user}
    facts = {"speed": speed, "recording": str(args.recording), "recording_mev_s": events / span_us,
             "geometry": f"{width}x{height} -> crop {crop}, /{factor}"}
    return overrides, facts


def _check_graph(graph: Graph) -> None:
    """The sending graph has the nodes the soak drives and reads, by name and type."""
    from evstream.binning.nodes import BinnerNode

    for name, ok, what in ((CAMERA, lambda n: n.type_name == "cameras.emulator", "a cameras.emulator"),
                           (BINNER, lambda n: isinstance(n, BinnerNode), "a binning.* node"),
                           (SENDER, lambda n: n.type_name == "transport.send", "a transport.send")):
        if not ok(graph.nodes[name]):
            raise UserError(f"--graph: node {name!r} must be {what} (it is {graph.nodes[name].type_name}); "
                            "start from nodes/soak-send.toml")


# -- sampling -----------------------------------------------------------------------------------
class _Sampler(threading.Thread):
    """Every ``every_s``: RSS of ``procs`` (``psutil.Process``: sender, receiver) and the running totals;
    stops the graph after ``seconds``."""

    def __init__(self, graph: Graph, procs: list[Any], every_s: float, seconds: float) -> None:
        super().__init__(name="evstream:soak-sampler", daemon=True)
        self.graph, self.procs, self.every_s, self.seconds = graph, procs, every_s, seconds
        self.samples: list[Sample] = []
        self.t0 = time.perf_counter()
        self.finished = threading.Event()

    def sample(self) -> None:
        nodes = self.graph.stats()
        drops = sum(e["dropped"] for n in nodes.values() for e in n["inputs"])
        drops += nodes[SENDER].get("hwm_dropped", 0)
        rss = [p.memory_info().rss / 2**20 for p in self.procs]
        cpu = [sum(p.cpu_times()[:2]) for p in self.procs]
        self.samples.append(Sample(round(time.perf_counter() - self.t0, 3), rss[0], rss[1], cpu[0], cpu[1],
                                   nodes[CAMERA]["events_out"],
                                   nodes[BINNER]["frames_out"], drops))

    def run(self) -> None:
        k = 1
        while not self.finished.is_set():
            due = min(k * self.every_s, self.seconds)
            if self.finished.wait(max(0.0, self.t0 + due - time.perf_counter())):
                return
            self.sample()
            if due >= self.seconds:
                self.graph.stop("soak time over", grace_s=GRACE_S)
                return
            k += 1


# -- the run ----------------------------------------------------------------------------------
def _run_pipeline(graph: Graph, args: argparse.Namespace,
                  capacity: int) -> tuple[dict[str, Any], dict[str, Any], _Sampler]:
    """Start the receiving process, run the sending graph for ``--minutes``, collect both sides."""
    psutil = require("psutil", "psutil", "dev", "evstream bench soak")
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    address = graph.nodes[SENDER].address
    child = ctx.Process(target=receive, args=(address, capacity, there, GRACE_S + 60.0),
                        name="evstream-soak-receiver")
    child.start()
    try:
        if not here.poll(120):
            raise RuntimeError("the receiving process did not start within 120 s")
        ready = here.recv()
        if ready != "ready":
            raise UserError(f"the receiving process failed: {ready['error']}")
        sampler = _Sampler(graph, [psutil.Process(), psutil.Process(child.pid)], args.sample_s, args.minutes * 60)
        sampler.start()
        try:
            send_stats = graph.run(grace_s=GRACE_S)
        finally:
            sampler.finished.set()
            sampler.join()
        if not here.poll(GRACE_S + 90):
            raise RuntimeError("the receiving process sent no result (no end of stream?)")
        result = here.recv()
        child.join(30)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(5)
    if "error" in result:
        raise RuntimeError(f"the receiving process failed: {result['error']}")
    return send_stats, result, sampler


def _drops_by_counter(ledger: list[dict[str, Any]]) -> dict[str, int]:
    """Dropped packets summed per counter (edge policy, ZeroMQ counters) over the hops."""
    out: dict[str, int] = {}
    for hop in ledger:
        if hop["counter"] != "runtime":
            out[hop["counter"]] = out.get(hop["counter"], 0) + hop["dropped"]
    return out


def _unexplained(ledger: list[dict[str, Any]], send: dict[str, Any], recv: dict[str, Any]) -> int:
    """Packets the binner sent - delivered at the sink - counted drops after it - still queued,
    plus the imbalance of every hop before the binner (the ledger runs in data-flow order)."""
    first = next(i for i, h in enumerate(ledger) if h["hop"].startswith(f"send: {BINNER} -> "))
    after = ledger[first:]
    end_to_end = (send["nodes"][BINNER]["packets_out"] - recv["nodes"][SINK]["packets_in"]
                  - sum(h["dropped"] + h["queued"] for h in after))
    return end_to_end + sum(h["unexplained"] for h in ledger[:first])


def _percentiles(latency_ms: np.ndarray, prefix: str) -> dict[str, float | None]:
    """``{prefix}p50_ms``, ``p99_ms`` and ``max_ms`` of ``latency_ms`` (``None`` when empty)."""
    if not latency_ms.size:
        return dict.fromkeys((f"{prefix}p50_ms", f"{prefix}p99_ms", f"{prefix}max_ms"))
    p50, p99 = np.percentile(latency_ms, [50, 99])
    return {f"{prefix}p50_ms": float(p50), f"{prefix}p99_ms": float(p99), f"{prefix}max_ms": float(latency_ms.max())}


def run(args: argparse.Namespace) -> list[dict]:
    import torch

    from evstream.graph.loader import load_graph

    torch.set_num_threads(args.threads)
    overrides, facts = _plan(args)
    graph = load_graph(args.graph, overrides)
    _check_graph(graph)
    window_us = graph.nodes[BINNER].window_us
    capacity = int(args.minutes * 60 * facts["speed"] * 1e6 / window_us * 1.2) + 1000
    load_start = os.getloadavg()
    send, received, sampler = _run_pipeline(graph, args, capacity)
    recv = received["stats"]
    camera = graph.nodes[CAMERA]
    samples = [dict(vars(s)) for s in sampler.samples]
    latency_ms, per_interval = latency_series(received["t_end_us"], received["arrival_s"], camera.emulator.pacer.due,
                                              sampler.t0, [s["t_s"] for s in samples])
    for s, lat in zip(samples, per_interval):
        s.update(lat)
    ledger = hop_ledger(send, recv, SENDER, RECEIVER)
    cam = send["nodes"][CAMERA]
    binner = send["nodes"][BINNER]
    sink = recv["nodes"][SINK]
    steady = latency_ms[received["arrival_s"] - sampler.t0 >= args.warmup_s]
    warm = [s for s in samples if s["t_s"] >= args.warmup_s]
    drops = _drops_by_counter(ledger)
    summary = {
        "case": f"soak {args.rate:g} Mev/s {args.minutes:g} min", "tool": "evstream",
        "minutes": args.minutes, "mev_s_target": args.rate, "mev_s": (cam["events_per_s"] or 0) / 1e6,
        "events_in": cam["events_out"],
        "events_filtered": sum(n["events_in"] - n["events_out"] for n in send["nodes"].values()
                               if n["type"].startswith("filters.")),
        "events_binned": binner["events_in"], "frames_out": binner["frames_out"], "frames": sink["sink_frames"],
        "drops_counted": sum(drops.values()), "drops": drops,
        "drops_after_warmup": samples[-1]["drops"] - warm[0]["drops"] if warm else None,
        "unexplained_drops": _unexplained(ledger, send, recv),
        **_percentiles(latency_ms, ""), **_percentiles(steady, "steady_"),
        "rss_send_mb": samples[-1]["rss_send_mb"], "rss_recv_mb": samples[-1]["rss_recv_mb"],
        "warmup_s": args.warmup_s,
        **{f"rss_growth_{side}_pct": rss_growth_pct(sampler.samples, side, args.warmup_s) for side in ("send", "recv")},
        **{f"cpu_{side}_cores": cpu_cores(sampler.samples, side, args.warmup_s) for side in ("send", "recv")},
        "busy_s": {name: n["busy_s"] for name, n in send["nodes"].items() if n["inputs"]},
        "camera_max_lag_ms": cam["max_lag_ms"], "load_avg_start": load_start[0], "load_avg_end": os.getloadavg()[0],
        **facts,
    }
    summary["sustained"] = summary["mev_s"] >= SUSTAINED_FRACTION * args.rate and summary["drops_after_warmup"] == 0
    summary["rss_flat"] = all(g is not None and g < 5.0 for g in (summary["rss_growth_send_pct"],
                                                                  summary["rss_growth_recv_pct"]))
    if args.json:
        summary["ledger"] = ledger
    if args.plot:
        from evstream.bench.soak_plot import plot_soak

        plot_soak(args.plot, summary, samples)
    return [summary, *({"case": "sample", **s} for s in samples)]
