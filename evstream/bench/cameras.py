"""``evstream bench cameras``: the synthetic DVS, video-to-events and the camera emulator.

Cases (best of ``--repeat`` after a warm-up run that compiles the kernels):

* ``synthetic-gestures``: the synthetic DVS (128 x 128, 1 kHz rendering)
  watching a person perform gestures; ``realtime_x`` is stream seconds per
  wall second (above 1: it can stand in for a live camera).
* ``video-to-events``: the pixel model on pre-rendered frames of moving
  shapes (``--size``), Mev/s of output and frames/s.
* ``emulator-recut``: a recording re-cut into 1 ms camera packets, unpaced:
  Mev/s and packets/s (the per-packet cost dominates on sparse recordings).
* ``emulator-pace``: a recording played at real time; ``error_pct`` is the
  wall-time error over ``--pace-s`` seconds (goal: within 2 %).

No DVS simulator or camera emulator library is installed beside evstream
(v2e and ESIM are not pip-installable packages here), so the peer rows say
"skipped" rather than invent a comparison.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from evstream.bench.timing import best_of
from evstream.errors import UserError

HELP = "synthetic DVS (x real time), video-to-events (Mev/s), emulator re-cut and pace accuracy"

_DEFAULT_FILE = Path(__file__).resolve().parents[3] / "shared" / "recordings" / "aedat4" / \
    "dvs128-redpob-2024_06_20_16_13_00.aedat4"
_NO_PEER = "no DVS simulator / camera emulator library is installed (v2e, ESIM are not pip packages here)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=3.0, help="stream seconds of synthetic gestures (default 3)")
    parser.add_argument("--frames", type=int, default=200, help="frames for video-to-events (default 200)")
    parser.add_argument("--size", default="346x260", help="video WIDTHxHEIGHT (default 346x260, a DAVIS346)")
    parser.add_argument("--file", type=Path, default=_DEFAULT_FILE, help="recording for the emulator cases")
    parser.add_argument("--pace-s", type=float, default=2.0, help="seconds of paced playback (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the best counts (default 3)")


def _synthetic(args: argparse.Namespace) -> list[dict]:
    from evstream.cameras.scene import GestureScene
    from evstream.cameras.synthetic import SyntheticCamera

    scene = GestureScene.random(4, seed=1)
    duration = int(args.seconds * 1e6)
    wall, n = best_of(lambda: len(SyntheticCamera(scene, seed=1).record(duration)), args.repeat)
    return [{"case": "synthetic-gestures", "tool": "evstream", "events": n, "wall_s": wall,
             "realtime_x": args.seconds / wall, "mev_s": n / wall / 1e6},
            {"case": "synthetic-gestures", "tool": "peer", "skipped": _NO_PEER}]


def _video(args: argparse.Namespace) -> list[dict]:
    from evstream.cameras.contrast import DvsPixelModel
    from evstream.cameras.scene import ShapesScene

    try:
        w, h = (int(v) for v in args.size.split("x"))
    except ValueError:
        raise UserError(f"--size must be WIDTHxHEIGHT in pixels (got {args.size!r})") from None
    scene = ShapesScene(w, h, n_shapes=8, speed=300.0, seed=2)
    frames = [scene.render(i * 4000) for i in range(args.frames)]  # 250 fps

    def run() -> int:
        model = DvsPixelModel(w, h, seed=2)
        return sum(len(model.step(f, i * 4000)) for i, f in enumerate(frames))

    wall, n = best_of(run, args.repeat)
    return [{"case": "video-to-events", "tool": "evstream", "events": n, "wall_s": wall,
             "frames_s": len(frames) / wall, "mev_s": n / wall / 1e6, "mpix_s": len(frames) * w * h / wall / 1e6},
            {"case": "video-to-events", "tool": "peer", "skipped": _NO_PEER}]


def _emulator(args: argparse.Namespace) -> list[dict]:
    import evstream.io as eio
    from evstream.cameras.emulator import CameraEmulator
    from evstream.cameras.recording import Recording

    rec = eio.open(args.file)
    recording = Recording(rec.read(), rec.width, rec.height)
    def recut() -> tuple[int, int]:
        packets = list(CameraEmulator(recording.packets, 1000, speed=0).packets())
        return sum(len(p) for p in packets), len(packets)

    wall, (n, n_packets) = best_of(recut, args.repeat)
    rows = [{"case": "emulator-recut", "tool": "evstream", "events": n, "wall_s": wall, "mev_s": n / wall / 1e6,
             "packets_s": n_packets / wall},
            {"case": "emulator-recut", "tool": "peer", "skipped": _NO_PEER}]
    t0 = int(recording.events["t"][0])
    cut = recording.events[recording.events["t"] < t0 + int(args.pace_s * 1e6)]
    paced = Recording(cut, rec.width, rec.height, t0, t0 + int(args.pace_s * 1e6))
    start = time.perf_counter()
    delivered = sum(len(p) for p in CameraEmulator(paced.packets, 1000, speed=1.0).packets())
    elapsed = time.perf_counter() - start
    rows.append({"case": "emulator-pace", "tool": "evstream", "events": delivered, "wall_s": elapsed,
                 "stream_s": args.pace_s, "error_pct": 100.0 * (elapsed - args.pace_s) / args.pace_s})
    return rows


def run(args: argparse.Namespace) -> list[dict]:
    return _synthetic(args) + _video(args) + _emulator(args)

