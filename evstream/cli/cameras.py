"""``evstream cameras``: which camera backends are installed and which cameras are connected."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

HELP = "list camera backends (installed or not) and connected event cameras"
DESCRIPTION = """List the camera backends evstream can use and the cameras each one sees.

One line per backend: its version and devices, "no device", or how to
install it. Exit status 0 when at least one camera is connected, 2 when none
is (each installed backend then says "no device"). Without a camera, the
nodes cameras.emulator (a recording played live) and cameras.synthetic (a
simulated DVS) stand in for one.

examples:
  evstream cameras
  evstream cameras --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")


def run(args: argparse.Namespace) -> int:
    from evstream.cameras.backends import enumerate_backends

    reports = enumerate_backends()
    found = sum(len(r.devices) for r in reports)
    if args.json:
        print(json.dumps({"cameras": found, "backends": [dataclasses.asdict(r) for r in reports]}, indent=2))
    else:
        for report in reports:
            print(report.line())
    if not found:
        print("evstream cameras: no camera connected (cameras.emulator and cameras.synthetic stand in for one)",
              file=sys.stderr)
        return 2
    return 0
