"""``evstream view``: watch a recording, the synthetic DVS or a graph live in the pyqtgraph viewer."""

from __future__ import annotations

import argparse
import json

HELP = "live viewer: events with decay, binned frames, spikes, labels and stats (needs the viz extra)"
DESCRIPTION = """Open the live viewer on SOURCE:

  a recording      played as a live camera at --speed, binned into --window-us count frames
  synthetic        the synthetic DVS watching a person perform gestures
  a .toml graph    run the graph and show its viz.view node (events, frames and labels
                   ports; label packets may carry spikes for the raster)

The window draws the latest data on a timer: a slow draw skips view frames, never
events, and never holds the pipeline. Closing the window or Ctrl-C stops cleanly and
prints the stats. Needs a display (or QT_QPA_PLATFORM=offscreen) and the viz extra.

examples:
  evstream view recordings/gestures.aedat4
  evstream view recordings/gestures.aedat4 --speed 0.5 --window-us 20000 --tau-us 50000
  evstream view synthetic --seconds 10
  evstream view nodes/gesture.toml --set src.speed=2
  QT_QPA_PLATFORM=offscreen evstream view recordings/gestures.aedat4 --seconds 3 --screenshot view.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="recording file, 'synthetic', or a graph file (.toml) with a viz.view node")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed of a recording (default 1)")
    parser.add_argument("--window-us", type=int, default=10_000, help="bin width of the frame view, µs (default 10000)")
    parser.add_argument("--tau-us", type=float, default=30_000.0, help="decay of the event image, µs (default 30000)")
    parser.add_argument("--seconds", type=float, default=None, help="close after this many seconds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="graph files: override a node parameter (repeatable)")
    parser.add_argument("--screenshot", default=None, metavar="PNG", help="save the window when it closes")
    parser.add_argument("--json", action="store_true", help="print the graph stats as JSON")


def build_view_graph(args: argparse.Namespace):  # noqa: ANN201 - (Graph, ViewNode)
    """The graph to show and its ``viz.view`` node."""
    from pathlib import Path

    from evstream.errors import UserError
    from evstream.graph import Graph
    from evstream.graph.registry import get
    from evstream.viz.nodes import ViewNode

    if args.source.endswith(".toml"):
        from evstream.graph.loader import load_graph, parse_override

        overrides = {f"{n}.{p}": v for n, p, v in map(parse_override, args.overrides)}
        graph = load_graph(args.source, overrides)
        views = [node for node in graph.nodes.values() if isinstance(node, ViewNode)]
        if not views:
            raise UserError(f"{args.source}: the graph has no viz.view node to show; add one fed by the events")
        return graph, views[0]
    if args.source == "synthetic":
        src = get("cameras.synthetic")("src", scene="gestures", speed=args.speed or 1.0)
    elif Path(args.source).is_file():
        src = get("cameras.emulator")("src", path=args.source, speed=args.speed)
    else:
        raise UserError(f"{args.source}: no such recording; pass a file, 'synthetic' or a graph .toml")
    graph = Graph()
    graph.add(src)
    frames = graph.add(get("binning.count")("frames", window_us=args.window_us), input=src, queue=64)
    view = ViewNode("view", title=f"evstream view {args.source}", tau_us=args.tau_us)
    graph.add(view, input={"events": src, "frames": frames}, queue=64)
    return graph, view


def run(args: argparse.Namespace) -> int:
    from evstream.errors import UserError
    from evstream.graph.stats import format_stats
    from evstream.viz import display_available, qt_missing

    missing = qt_missing()
    if missing:
        raise UserError(f"the live viewer needs {missing}; pip install 'evstream[viz]'")
    if not display_available():
        raise UserError("no display (DISPLAY / WAYLAND_DISPLAY unset); use QT_QPA_PLATFORM=offscreen with --screenshot")
    from evstream.viz.window import show

    graph, view = build_view_graph(args)
    stats = show(graph, view, max_seconds=args.seconds, screenshot=args.screenshot)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0
