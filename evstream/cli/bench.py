"""``evstream bench NAME``: benchmarks against peer libraries on the same data in the same run."""

from __future__ import annotations

import argparse
import json

from evstream.bench import BENCHES
from evstream.errors import UserError

HELP = "benchmark evstream against peers (graph, io, binning, neurons, learning, zmq, cameras, viz, fanout, soak)"
DESCRIPTION = """Benchmark a hot path of evstream and its peers on the same data in the same run.

Each row is one measurement; `ratio` is evstream's speed over the peer's
(above 1: evstream is faster). Peers that are not installed are skipped.

examples:
  evstream bench graph
  evstream bench io --json > io.json
"""


def _modules() -> dict[str, object]:
    from evstream.cli.main import import_present

    return import_present("evstream.bench", BENCHES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="NAME")
    for name, module in _modules().items():
        p = sub.add_parser(name, help=module.HELP)
        p.add_argument("--json", action="store_true", help="print the rows as JSON")
        module.add_arguments(p)
        p.set_defaults(_bench=module)


def format_rows(rows: list[dict]) -> str:
    """Rows as an aligned text table (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "_bench", None) is None:
        raise UserError(f"name a benchmark: evstream bench {{{','.join(_modules())}}}")
    rows = args._bench.run(args)
    print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
    return 0
