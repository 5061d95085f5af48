"""``evstream info FILE``: format, geometry, event count, time range and rate of a recording."""

from __future__ import annotations

import argparse
import json

HELP = "show the format, geometry, event count, time range and rate of a recording"
DESCRIPTION = """Decode a recording once (streaming, constant memory) and print its facts:
format, sensor size, number of events, first/last timestamp (µs), duration,
event rate, ON events and coordinate sums (handy to compare readers).

examples:
  evstream info recording.aedat4
  evstream info recording.raw --json
  evstream info sample.dat --width 120 --height 100
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="recording (AEDAT 2/3.1/4, RAW EVT 2/2.1/3, DAT, .bin, .npy/.npz, CSV, HDF5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--format", help="force the format instead of detecting it (e.g. evt3 for a headerless dump)")
    parser.add_argument("--backend", choices=("evstream", "metavision"), default="evstream",
                        help="decoder: evstream's own (default, exact) or the Metavision SDK for Prophesee files")
    parser.add_argument("--width", type=int, help="sensor width in pixels (overrides the header)")
    parser.add_argument("--height", type=int, help="sensor height in pixels (overrides the header)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _text(facts: dict) -> str:
    lines = [f"file       {facts['path']}", f"format     {facts['format']}",
             f"geometry   {facts['width']}x{facts['height']} pixels", f"events     {facts['events']}"]
    if facts["events"]:
        rate = facts["rate_ev_s"]
        lines += [f"time       {facts['t_first']} .. {facts['t_last']} µs",
                  f"duration   {facts['duration_us'] / 1e6:.6f} s",
                  f"rate       {rate / 1e6:.3f} Mev/s" if rate else "rate       -",
                  f"ON events  {facts['on_events']} ({100 * facts['on_events'] / facts['events']:.1f} %)",
                  f"sum x, y   {facts['sum_x']}, {facts['sum_y']}"]
    for stream in facts["metadata"].get("streams", []):
        size = f" {stream['width']}x{stream['height']}" if stream.get("width") else ""
        lines.append(f"stream     {stream['id']}: {stream['type']} {stream['name']!r}{size} {stream['source']}".rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    import evstream.io as eio
    from evstream.io.errors import warnings_to_stderr
    from evstream.io.summary import summarize

    with warnings_to_stderr("info"):
        rec = eio.open(args.file, backend=args.backend, format=args.format, width=args.width, height=args.height)
        with tqdm(total=rec.size_bytes, unit="B", unit_scale=True, disable=args.no_progress or None,
                  leave=False, desc="decoding") as bar:
            facts = summarize(rec, progress=lambda done: bar.update(done - bar.n))
    print(json.dumps(facts, default=str) if args.json else _text(facts))
    return 0
