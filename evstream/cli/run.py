"""``evstream run GRAPH.toml``: run a graph file to the end of its stream and print per-node stats."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "run a graph file (nodes/*.toml) and print per-node stats"
DESCRIPTION = """Run a node graph described by a TOML file until its sources end (or Ctrl-C).

A graph file holds one [[node]] table per node:

  [[node]]
  name = "src"
  type = "core.synthetic"      # `evstream nodes` lists every type and its parameters
  events = 1000000

  [[node]]
  name = "out"
  type = "core.count"
  input = "src"                # upstream node(s); or {port = "name"} for named ports
  policy = "block"             # input edges: block (lossless) | drop-oldest (live)
  queue = 8                    # input edge capacity, packets

Each node runs in its own thread. At exit the stats of every node are printed
(events/s, packets, queue depth, latency p50/p99, drops); --json prints them
as JSON on stdout. Ctrl-C stops the sources and drains the graph (a second
Ctrl-C stops at once).

examples:
  evstream run nodes/replay.toml --set src.path=recording.aedat4
  evstream run nodes/demo.toml --json > stats.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="graph file (TOML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a node parameter (repeatable); VALUE is read as TOML, else as text")
    parser.add_argument("--json", action="store_true", help="print the stats as JSON on stdout")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--check", action="store_true", help="validate the graph file and exit")


def run(args: argparse.Namespace) -> int:
    from evstream.graph.loader import load_graph, parse_override
    from evstream.graph.stats import format_stats

    overrides = {}
    for text in args.overrides:
        node, param, value = parse_override(text)
        overrides[f"{node}.{param}"] = value
    graph = load_graph(args.graph, overrides)
    if args.check:
        print(f"{args.graph}: ok ({len(graph.nodes)} nodes, {len(graph.edges)} edges)")
        return 0
    stats = graph.run(progress=not args.no_progress)
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(format_stats(stats), file=sys.stderr)
    return 0 if stats["stopped"] is None else 130
