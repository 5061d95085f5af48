"""``evstream simulate VIDEO OUT``: turn a video (or frame array) into events with the DVS pixel model."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "turn a video, GIF, image folder or frame array into events (log-intensity contrast model)"
DESCRIPTION = """Simulate an event camera watching a video.

Each pixel emits an event whenever its log intensity moves one contrast
threshold away from its reference; thresholds vary from pixel to pixel
(--threshold-sigma), a pixel is blind for --refractory-us after each event,
and background noise adds --noise-hz events per pixel per second. Event times
fall between frame times (the log intensity ramps linearly from frame to
frame). The output format follows OUT's extension (.aedat4, .raw = EVT 3,
.h5, .npy, .csv).

VIDEO: a video file (mp4, avi, mkv, ... through PyAV: pip install
'evstream[video]'), an animated GIF, a folder of images, a .npy array
(T, H, W) or (T, H, W, 3), or a .npz with `frames` (and `t_us` or `fps`).

examples:
  evstream simulate clip.mp4 clip.aedat4
  evstream simulate frames.npy events.raw --fps 240 --threshold 0.15
  evstream simulate shots/ out.npy --fps 60 --noise-hz 0 --json
"""


def add_dvs_arguments(parser: argparse.ArgumentParser) -> None:
    """The pixel-model options shared by ``simulate`` and ``record synthetic``."""
    g = parser.add_argument_group("DVS pixel model")
    g.add_argument("--threshold", type=float, default=0.2, help="mean contrast threshold, log units (default 0.2)")
    g.add_argument("--threshold-sigma", type=float, default=0.03,
                   help="per-pixel threshold mismatch (std), log units (default 0.03)")
    g.add_argument("--refractory-us", type=int, default=100, help="pixel dead time after an event, µs (default 100)")
    g.add_argument("--noise-hz", type=float, default=0.1,
                   help="background-activity events per pixel per second (default 0.1)")
    g.add_argument("--seed", type=int, default=0, help="seed of mismatch, noise and scene (default 0)")


def dvs_params(args: argparse.Namespace):  # noqa: ANN201 - DvsParams, imported lazily
    from evstream.cameras.contrast import DvsParams
    from evstream.errors import UserError

    try:
        return DvsParams(args.threshold, args.threshold_sigma, args.refractory_us, args.noise_hz)
    except ValueError as exc:
        raise UserError(str(exc).replace("DVS parameter ", "--").replace("_", "-")) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="video file, GIF, image folder, .npy or .npz of frames")
    parser.add_argument("out", metavar="OUT", help="event file to write (format from the extension)")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="frame rate of inputs without timestamps (arrays, image folders), default 30")
    add_dvs_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from evstream.cameras.recorder import record
    from evstream.io import open_writer
    from evstream.cameras.video import frames_to_events, open_video

    video = open_video(args.video, args.fps)
    writer = open_writer(args.out, video.width, video.height)
    with tqdm(total=video.count - 1 if video.count else None, unit="frame", file=sys.stderr,
              disable=None, leave=False) as bar:
        report = record(frames_to_events(video, dvs_params(args), args.seed), writer, policy="block",
                        on_packet=lambda _: bar.update(1))
    summary = {"video": str(args.video), "out": str(args.out), "width": video.width, "height": video.height,
               "frames": report.packets + 1, "events": report.events, "duration_s": report.duration_s,
               "wall_s": report.wall_s}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.out}: {report.events} events from {report.packets + 1} frames of {video.width}x{video.height}, "
              f"{report.duration_s:.3f} s ({report.wall_s:.2f} s wall)")
    return 0
