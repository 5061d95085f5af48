"""``evstream play FILE``: replay a recording at the pace of its timestamps through a graph."""

from __future__ import annotations

import argparse
import json

HELP = "replay a recording in real time (or x speed) into a sink (default: a live monitor line)"
DESCRIPTION = """Replay a recording at the pace of its timestamps, in packets of --window-us,
through the io.replay node into a sink: by default core.monitor, which prints
packets, events and the event rate every second. Stop with Ctrl-C.

examples:
  evstream play recording.aedat4
  evstream play recording.raw --speed 4 --loops 0
  evstream play recording.raw --start 2000000 --end 5000000 --window-us 1000
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="recording to replay")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 2 = twice as fast, 0 = unpaced")
    parser.add_argument("--loops", type=int, default=1, help="passes over the file; 0 = loop until Ctrl-C")
    parser.add_argument("--window-us", type=int, default=10_000, help="packet duration in µs (default 10000)")
    parser.add_argument("--start", type=int, help="first µs to play, counted from the first event")
    parser.add_argument("--end", type=int, help="µs where to stop, counted from the first event")
    parser.add_argument("--format", help="input format, for headerless data (default: detected)")
    parser.add_argument("--sink", default="core.monitor", help="node type that receives the packets (default core.monitor)")
    parser.add_argument("--json", action="store_true", help="print the run's stats as JSON at the end")


def run(args: argparse.Namespace) -> int:
    import evstream.io as eio
    from evstream.graph import Graph
    from evstream.graph.registry import get
    from evstream.io.errors import warnings_to_stderr
    from evstream.io.nodes import ReplaySource

    with warnings_to_stderr("play"):
        options = {}
        if args.start is not None or args.end is not None:
            base = eio.open(args.file, format=args.format).first_time() or 0
            options = {"start_us": None if args.start is None else base + args.start,
                       "end_us": None if args.end is None else base + args.end}
        graph = Graph()
        src = graph.add(ReplaySource("replay", path=args.file, format=args.format, window_us=args.window_us,
                                     speed=args.speed, loops=args.loops, **options))
        graph.add(get(args.sink)("sink"), input=src, policy="drop-oldest", queue=16)
        stats = graph.run(progress=False)
    if args.json:
        print(json.dumps(stats, default=str))
    return 0
