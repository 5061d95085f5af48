"""Build and run the gesture app's graph; headless (terminal) or with the live viewer.

Graph (one thread per node, :mod:`evstream.graph`)::

    source (stamped) -> filters.denoise -> binning.count -> gesture.classify -> gesture.terminal
          \\__________________ events ___________ frames ________ labels ______-> viz.view (optional)

The source is a recording played as a live camera (``cameras.emulator``), the
synthetic DVS (``cameras.synthetic``) or a connected camera (``cameras.live``).
Binning uses the model's window and downsampling unless ``window_us`` says
otherwise. The viewer node only folds data into its state (O(events), no
drawing), so its lossless input edges never hold the pipeline; the window draws
the latest state on its own timer.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from evstream.errors import UserError
from evstream.graph import Graph
from evstream.graph.registry import get as node_type

from apps.gesture import DEFAULT_MODEL, DEFAULT_RECORDING
from apps.gesture.latency import ArrivalLog, StampedSource
from apps.gesture.recognizer import ClassifyNode, GestureNet
from apps.gesture.terminal import TerminalSink, score_segments

__all__ = ["GestureOptions", "build_graph", "run_app"]


@dataclass
class GestureOptions:
    """What ``evstream gesture`` takes (see its ``--help``)."""

    source: str = str(DEFAULT_RECORDING)
    model: str = str(DEFAULT_MODEL)
    backend: str = "numba"
    window_us: int | None = None
    speed: float = 1.0
    packet_us: int = 1000
    loop: bool = False
    horizon: int | None = None
    threshold: float = 0.4
    denoise_us: int = 10_000
    labels: str | None = None
    view: str = "auto"
    layer: int = 0
    seconds: float | None = None
    seed: int = 0
    out: TextIO | None = field(default=sys.stdout)


@dataclass
class AppGraph:
    """The built graph and the nodes the app reads back."""

    graph: Graph
    terminal: TerminalSink
    classify: ClassifyNode
    view: Any = None


def _source(opts: GestureOptions) -> Any:
    if opts.source == "camera":
        return node_type("cameras.live")("src")
    common = {"speed": opts.speed, "packet_us": opts.packet_us, "seed": opts.seed}
    if opts.source == "synthetic":
        duration = {"duration_s": opts.seconds} if opts.seconds else {}
        return node_type("cameras.synthetic")("src", scene="gestures", gesture_s=[1.0, 1.4], **duration, **common)
    if not Path(opts.source).is_file():
        raise UserError(f"{opts.source}: no such recording; pass a file, 'camera' or 'synthetic'")
    return node_type("cameras.emulator")("src", path=opts.source, loop=opts.loop, **common)


def build_graph(opts: GestureOptions, view: Any = None) -> AppGraph:
    """The app's graph for ``opts``; ``view`` (a ``viz.view`` node) is attached when given."""
    nets = [GestureNet(opts.model, opts.backend, opts.layer) for _ in range(2)]
    net = nets[0]
    binning = net.ckpt.binning
    horizon = opts.horizon or int(binning.get("horizon", binning.get("steps", 20)))
    window_us = opts.window_us or int(binning.get("window_us", 50_000))
    if window_us <= 0:
        raise UserError(f"--window-us {window_us}: the bin width must be positive, µs")
    log = ArrivalLog()
    g = Graph()
    src = g.add(StampedSource(_source(opts), log))
    stages = {"denoise": ("filters.denoise", {"time_us": opts.denoise_us}),
              "frames": ("binning.count", {"window_us": window_us, "downsample": int(binning.get("downsample", 1))})}
    for copy in nets:
        _warm_up(copy, stages)
    denoise = g.add(node_type(stages["denoise"][0])("denoise", **stages["denoise"][1]), input=src, queue=64)
    frames = g.add(node_type(stages["frames"][0])("frames", **stages["frames"][1]), input=denoise, queue=64)
    classify = g.add(ClassifyNode("classify", nets, horizon, log, raster=view is not None), input=frames, queue=64)
    terminal = g.add(TerminalSink("labels", opts.threshold, opts.out), input=classify, queue=256)
    if view is not None:
        g.add(view, input={"events": src, "frames": frames, "labels": classify}, queue=64)
    return AppGraph(g, terminal, classify, view)


def _warm_up(net: GestureNet, stages: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Run the stages once on a few events, so that no Numba compilation or cache load lands in the latency."""
    from evstream.events import EventPacket, make_events

    window = stages["frames"][1]["window_us"]
    t = np.arange(0, 2 * window, max(1, window // 64))
    packet = EventPacket(make_events(t, t % 128, (t // 7) % 128, t % 2), 128, 128, 0, 2 * window)
    denoise, frames = (node_type(type_name)(name, **params) for name, (type_name, params) in stages.items())
    for events in [*denoise.process(packet, "in"), *denoise.flush()]:
        frames.process(events, "in")
    net.step(np.zeros(net.in_shape, np.float32))
    net.reset()


def _labels_file(opts: GestureOptions) -> Path | None:
    if opts.labels:
        return Path(opts.labels)
    if opts.source in ("camera", "synthetic"):
        return None
    beside = Path(opts.source).with_name(Path(opts.source).stem + "_labels.csv")
    return beside if beside.is_file() else None


def want_viewer(mode: str, out: TextIO | None = sys.stderr) -> bool:
    """Whether to open the viewer: ``"on"``, ``"off"``, or ``"auto"`` (a display and Qt are there).

    ``auto`` with a display but without Qt prints a one-line hint and stays headless.
    """
    from evstream.viz import display_available, qt_missing

    if mode == "off":
        return False
    missing = qt_missing()
    if mode == "on":
        if missing:
            raise UserError(f"--view: the live viewer needs {missing}; pip install 'evstream[viz]'")
        return True
    if not display_available():
        return False
    if missing and out is not None:
        print(f"evstream gesture: no live viewer ({missing} missing: pip install 'evstream[viz]'); "
              "running headless", file=out)
    return not missing


def run_app(opts: GestureOptions, viewer: bool = False, screenshot: str | None = None,
            view_frames: int | None = None) -> dict[str, Any]:
    """Run the app to the end of the source (or Ctrl-C / window close); returns the report.

    The report holds the latency (event in -> label out) percentiles in µs,
    counts per node, drops, and, when the source has labels, the per-segment score.
    """
    view = None
    if viewer:
        from evstream.viz.nodes import ViewNode

        view = ViewNode("view", title="evstream gesture", layer_name=f"layer {opts.layer} spikes")
    app = build_graph(opts, view)
    labels = _labels_file(opts)
    if viewer:
        from evstream.viz.window import show

        stats = show(app.graph, view, max_seconds=opts.seconds, screenshot=screenshot, max_frames=view_frames)
    else:
        stats = _run_headless(app.graph, opts.seconds)
    return _report(app, stats, labels)


def _run_headless(graph: Graph, seconds: float | None) -> dict[str, Any]:
    import threading

    timer = threading.Timer(seconds, graph.stop, args=("time limit",)) if seconds else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        return graph.run()
    finally:
        if timer:
            timer.cancel()


def _report(app: AppGraph, stats: dict[str, Any], labels: Path | None) -> dict[str, Any]:
    nodes = stats["nodes"]
    latency = app.terminal.latency.percentiles()
    report: dict[str, Any] = {
        "events": nodes["src"].get("events_out"),
        "frames": app.classify.steps,
        "label_changes": app.terminal.changes,
        "latency_us": latency,
        "latency_samples": app.terminal.latencies_seen,
        "backend": app.classify.net.backend,
        "wall_s": stats["wall_s"],
        "stopped": stats.get("stopped"),
        "dropped_packets": {name: s.get("dropped") for name, s in nodes.items() if s.get("dropped")},
        "nodes": nodes,
    }
    if labels is not None:
        from evstream.cameras.gestures import read_labels

        t_end, shown = app.terminal.timeline()
        segments = [s for s in read_labels(labels) if t_end.size and s[2] <= t_end[-1]]
        results = score_segments(t_end, shown, segments)
        report["segments"] = {"file": str(labels), "total": len(results), "recognised": sum(r.ok for r in results),
                              "results": [[r.truth, r.shown, r.start_us, r.end_us] for r in results]}
    return report


def format_report(report: dict[str, Any], names: tuple[str, ...]) -> str:
    """The human-readable end-of-run summary (a few lines)."""
    lat = report["latency_us"]
    fmt = (lambda v: "-" if v is None else f"{v / 1e3:.2f} ms")
    lines = [f"{report['events']} events, {report['frames']} frames ({report['backend']}), "
             f"{report['label_changes']} label changes in {report['wall_s']:.1f} s"
             + (f" (stopped: {report['stopped']})" if report["stopped"] else ""),
             f"latency event in -> label out: p50 {fmt(lat['p50_us'])}, p99 {fmt(lat['p99_us'])}, "
             f"max {fmt(lat['max_us'])} over {report['latency_samples']} labels"]
    if report["dropped_packets"]:
        lines.append("dropped packets: " + ", ".join(f"{k} {v}" for k, v in report["dropped_packets"].items()))
    seg = report.get("segments")
    if seg:
        pct = 100.0 * seg["recognised"] / max(1, seg["total"])
        lines.append(f"segments recognised: {seg['recognised']}/{seg['total']} ({pct:.0f} %) against {seg['file']}")
        for truth, shown, start, _end in seg["results"]:
            if truth != shown:
                got = names[shown] if 0 <= shown < len(names) else "nothing"
                lines.append(f"  missed {names[truth] if truth < len(names) else truth} at {start / 1e6:.2f} s: showed {got}")
    return "\n".join(lines)

