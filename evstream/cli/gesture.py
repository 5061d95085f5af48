"""``evstream gesture``: the live gesture recognition app (apps/gesture in the repository)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "recognise DVS Gesture motions live from a recording, the synthetic DVS or a camera"
DESCRIPTION = """Recognise the 11 DVS Gesture motions live: SOURCE -> denoise -> time-window
binning -> spiking network stepping once per frame -> smoothed label with confidence.

SOURCE is a recording (played as a live camera at --speed; default: the project's
recordings/gestures.aedat4), `synthetic` (the synthetic DVS with a person performing
gestures) or `camera` (a connected event camera). With a display and the viz extra a
live viewer opens (events, binned frame, spike raster, label, stats); otherwise the
app runs headless and prints the recognised gesture whenever it changes. At the end
it prints the end-to-end latency (event in -> label out) p50/p99 and, when the
recording has labels (<stem>_labels.csv beside it, or --labels), how many gesture
segments were recognised. Ctrl-C or closing the window stops it cleanly.

examples:
  evstream gesture                                   # the demo recording, headless or viewer
  evstream gesture recordings/gestures.aedat4 --headless --backend numba
  evstream gesture synthetic --seconds 20 --view
  evstream gesture camera --model apps/gesture/models/gesture32.pt --horizon 16
  evstream gesture my.aedat4 --labels my_labels.csv --speed 0 --json
"""


def _app_root() -> Path:
    """The repository folder holding ``apps/gesture`` (the app is not part of the installed package)."""
    import evstream

    return Path(evstream.__file__).resolve().parents[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", default=None,
                        help="recording file, 'synthetic' or 'camera' (default: recordings/gestures.aedat4)")
    parser.add_argument("--model", default=None, help="model file (default: apps/gesture/models/gesture32.pt)")
    parser.add_argument("--backend", default="numba", choices=("numba", "torch", "cuda"),
                        help="where the network runs (default numba)")
    parser.add_argument("--window-us", type=int, default=None, help="bin width, µs (default: the model's)")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed of a recording (1 = real time, 0 = unpaced)")
    parser.add_argument("--loop", action="store_true", help="replay the recording forever")
    parser.add_argument("--horizon", type=int, default=None,
                        help="frames a network copy runs before its reset (default: the model's horizon, else its training sequence)")
    parser.add_argument("--threshold", type=float, default=0.4, help="confidence needed to show a label (default 0.4)")
    parser.add_argument("--labels", default=None, metavar="CSV", help="label file to score against")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--layer", type=int, default=0, help="network layer shown in the spike raster (default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--headless", dest="view", action="store_const", const="off", default="auto",
                      help="no window, even with a display")
    mode.add_argument("--view", dest="view", action="store_const", const="on", help="open the live viewer")
    parser.add_argument("--screenshot", default=None, metavar="PNG", help="viewer: save the window when it closes")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from evstream.errors import UserError

    root = _app_root()
    if not (root / "apps" / "gesture" / "app.py").is_file():
        raise UserError("the gesture app lives in apps/gesture of the evstream repository; run it from a clone")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from apps.gesture import DEFAULT_MODEL, DEFAULT_RECORDING
    from apps.gesture.app import GestureOptions, format_report, run_app, want_viewer

    opts = GestureOptions(source=args.source or str(DEFAULT_RECORDING), model=args.model or str(DEFAULT_MODEL),
                          backend=args.backend, window_us=args.window_us, speed=args.speed, loop=args.loop,
                          horizon=args.horizon, threshold=args.threshold, labels=args.labels, layer=args.layer,
                          seconds=args.seconds, out=None if args.json else sys.stdout)
    if not 0.0 <= args.threshold <= 1.0:
        raise UserError(f"--threshold {args.threshold}: a confidence between 0 and 1")
    if args.speed < 0:
        raise UserError(f"--speed {args.speed}: 0 (unpaced) or a positive factor")
    viewer = want_viewer(args.view)
    report = run_app(opts, viewer=viewer, screenshot=args.screenshot)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "nodes"}, indent=2))
    else:
        from evstream.cameras.gestures import GESTURES

        print(format_report(report, GESTURES))
    return 0
