"""``evstream record SOURCE OUT``: record a camera, the emulator or the synthetic DVS to a file."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from evstream.cli.simulate import add_dvs_arguments, dvs_params

HELP = "record a live camera, a replayed recording or the synthetic DVS to an event file"
DESCRIPTION = """Record events to OUT (format from the extension: .aedat4, .raw = EVT 3, .h5, .npy, .csv).

SOURCE is one of
  camera      the connected camera (--backend, --serial; see `evstream cameras`)
  gestures    the synthetic DVS watching a person perform DVS Gesture motions;
              a DVS Gesture labels file (class,startTime_usec,endTime_usec) is
              written beside OUT as <OUT stem>_labels.csv
  shapes      the synthetic DVS watching moving shapes
  FILE        a recording played as a live camera (the emulator)

Packets pass through a bounded buffer (--buffer packets) to the writer; a
live source never waits for the disk: when the buffer is full the packet is
dropped and counted (--policy drop, the default for paced sources). With
--speed 0 (as fast as possible) the source waits instead (--policy block).
Ctrl-C ends the recording cleanly. The report lists what was written and
what was dropped where (buffer, link, rate limit). --timing writes each
packet's device time range beside the host time it arrived (UNIX s).

examples:
  evstream record camera out.aedat4 --duration 10
  evstream record gestures demo.aedat4 --gestures 8 --seed 7 --speed 0
  evstream record shapes shapes.raw --duration 5 --rate-limit 200000
  evstream record recording.raw copy.aedat4 --speed 2 --drop-probability 0.01 --json
"""

SYNTHETIC = ("gestures", "shapes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="camera, gestures, shapes, or a recording file")
    parser.add_argument("out", metavar="OUT", help="event file to write (format from the extension)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of stream to record (default: to the end; camera and shapes: 10)")
    parser.add_argument("--buffer", type=int, default=256, help="writer buffer capacity, packets (default 256)")
    parser.add_argument("--policy", choices=("drop", "block"), default=None,
                        help="when the buffer is full: drop the packet (live) or wait (default: block at --speed 0)")
    parser.add_argument("--compression", choices=("lz4", "zstd", "none"), default=None,
                        help="AEDAT 4 packet compression (default: the writer's)")
    parser.add_argument("--timing", metavar="CSV", default=None,
                        help="also write seq,t_start_us,t_end_us,events,host_s per packet (device vs host time)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    cam = parser.add_argument_group("camera")
    cam.add_argument("--backend", default="auto", help="camera backend (default auto)")
    cam.add_argument("--serial", default="", help="camera serial number (default: the first found)")
    cam.add_argument("--bias", action="append", default=[], metavar="NAME=VALUE", help="camera bias (repeatable)")
    emu = parser.add_argument_group("emulator and synthetic DVS")
    emu.add_argument("--speed", type=float, default=1.0, help="stream s per wall s; 0 = as fast as possible (default 1)")
    emu.add_argument("--packet-us", type=int, default=1000, help="packet length, µs (default 1000)")
    emu.add_argument("--rate-limit", type=float, default=0.0, help="event-rate limit, events/s (0 = none)")
    emu.add_argument("--drop-probability", type=float, default=0.0, help="chance a packet is lost in transit")
    emu.add_argument("--loop", action="store_true", help="replay a recording forever (use --duration)")
    syn = parser.add_argument_group("synthetic scene")
    syn.add_argument("--gestures", type=int, default=11, help="number of gesture performances (default 11)")
    syn.add_argument("--labels", default="", help="comma-separated class indices 0..10 to perform in order")
    syn.add_argument("--gesture-seconds", default="1.5,2.5", metavar="MIN,MAX",
                     help="duration range of one gesture, s (default 1.5,2.5)")
    syn.add_argument("--size", default="128x128", help="sensor WIDTHxHEIGHT in pixels (default 128x128)")
    syn.add_argument("--contrast", type=float, default=1.0, help="log contrast of moving objects (default 1)")
    add_dvs_arguments(parser)


def _parse_size(text: str) -> tuple[int, int]:
    from evstream.errors import UserError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 128x128 (got {text!r})") from None
    return w, h


def _parse_biases(items: list[str]) -> dict[str, int]:
    from evstream.errors import UserError

    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name] = int(value)
        except ValueError:
            raise UserError(f"--bias must be NAME=INTEGER (got {item!r})") from None
    return out


def build_source(args: argparse.Namespace):  # noqa: ANN201 - a Source node, imported lazily
    """The source node for SOURCE, configured from the options."""
    from evstream.cameras.nodes import EmulatorSource, LiveCameraSource, SyntheticSource
    from evstream.errors import UserError

    link = {"packet_us": args.packet_us, "speed": args.speed, "rate_limit_ev_s": args.rate_limit,
            "drop_probability": args.drop_probability, "seed": args.seed}
    if args.source == "camera":
        return LiveCameraSource("camera", backend=args.backend, serial=args.serial, biases=_parse_biases(args.bias),
                                rate_limit_ev_s=args.rate_limit)
    if args.source in SYNTHETIC:
        width, height = _parse_size(args.size)
        try:
            labels = [int(v) for v in args.labels.split(",")] if args.labels else []
        except ValueError:
            raise UserError(f"--labels must be comma-separated class indices 0..10 (got {args.labels!r})") from None
        try:
            gesture_s = [float(v) for v in args.gesture_seconds.split(",")]
        except ValueError:
            raise UserError(f"--gesture-seconds must be MIN,MAX seconds (got {args.gesture_seconds!r})") from None
        p = dvs_params(args)
        return SyntheticSource("synthetic", scene=args.source, width=width, height=height, gestures=args.gestures,
                               labels=labels, gesture_s=gesture_s, contrast=args.contrast, threshold=p.threshold,
                               threshold_sigma=p.threshold_sigma, refractory_us=p.refractory_us,
                               noise_hz=p.noise_hz, **link)
    if not Path(args.source).exists():
        raise UserError(f"{args.source}: no such recording; SOURCE is camera, gestures, shapes or a recording file")
    return EmulatorSource("emulator", path=args.source, loop=args.loop, **link)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from evstream.cameras.gestures import write_labels
    from evstream.cameras.nodes import LiveCameraSource, SyntheticSource
    from evstream.cameras.recorder import record
    from evstream.io import open_writer

    source = build_source(args)
    duration_s = args.duration
    if duration_s is None and (isinstance(source, LiveCameraSource) or args.source == "shapes" or args.loop):
        duration_s = 10.0
    stopping = source.stopping
    source.start()
    try:
        width, height = _geometry(source)
        writer = open_writer(args.out, width, height, **({"compression": args.compression} if args.compression else {}))
        duration_us = None if duration_s is None else int(duration_s * 1e6)
        total = duration_us or getattr(source, "duration_us", None)
        policy = args.policy or ("block" if args.speed == 0 and not isinstance(source, LiveCameraSource) else "drop")
        previous = signal.signal(signal.SIGINT, lambda *_: stopping.set()) \
            if threading.current_thread() is threading.main_thread() else None
        try:
            with tqdm(total=None if total is None else total / 1e6, unit="s", file=sys.stderr, disable=None,
                      leave=False, bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} s [{elapsed}]") as bar:
                origin: list[int] = []
                timing = _open_timing(args.timing)

                def progress(packet) -> None:  # noqa: ANN001 - an EventPacket
                    if timing is not None:
                        timing.write(f"{packet.seq},{packet.t_start},{packet.t_end},{len(packet)},{time.time():.6f}\n")
                    if not origin:
                        origin.append(packet.t_start)
                    bar.n = (packet.t_end - origin[0]) / 1e6
                    if packet.seq % 100 == 0:
                        bar.refresh()

                try:
                    report = record(source.generate(), writer, buffer_packets=args.buffer, policy=policy,
                                    duration_us=duration_us, stopping=stopping, on_packet=progress)
                finally:
                    if timing is not None:
                        timing.close()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        report.link = source.stats_extra()
    finally:
        source.close()
    result = {"source": args.source, "out": str(args.out), **report.as_dict()}
    if isinstance(source, SyntheticSource) and source.scene == "gestures":
        labels_path = Path(args.out).with_name(Path(args.out).stem + "_labels.csv")
        end = report.t_end_us or 0
        write_labels(labels_path, [s for s in source.world.schedule if s.end_us <= end])
        result["labels"] = str(labels_path)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.out}: {report.summary()}" + (f"; labels in {result['labels']}" if "labels" in result else ""))
    return 0


def _open_timing(path: str | None):  # noqa: ANN202 - a text file or None
    from evstream.errors import UserError

    if path is None:
        return None
    try:
        out = open(path, "w")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise UserError(f"{path}: cannot write the timing file ({exc.strerror})") from None
    out.write("seq,t_start_us,t_end_us,events,host_s\n")
    return out


def _geometry(source) -> tuple[int, int]:  # noqa: ANN001
    if hasattr(source, "camera"):
        return source.camera.width, source.camera.height
    if hasattr(source, "recording"):
        return source.recording.width, source.recording.height
    return source.width, source.height
