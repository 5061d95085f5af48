"""``evstream convert IN OUT``: re-encode a recording, optionally cut to a time range."""

from __future__ import annotations

import argparse
import json

HELP = "convert a recording to another format (AEDAT 4, EVT 2/3 .raw, HDF5, .npy, .npz, CSV)"
DESCRIPTION = """Stream a recording into another format, in constant memory.

The input format is detected from its content; the output format comes from the
extension (.aedat4, .raw = EVT 3.0, .evt2, .h5, .npy, .npz, .csv) or --format.
--start/--end cut the time range [start, end) in µs counted from the first
event (or as file timestamps with --absolute).

examples:
  evstream convert recording.aedat4 recording.raw
  evstream convert recording.raw clip.h5 --start 1000000 --end 3000000
  evstream convert dump.bin out.raw --in-format evt3 --width 1280 --height 720 --format evt2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="recording to read")
    parser.add_argument("output", help="file to write (overwritten)")
    parser.add_argument("--format", help="output format: aedat4, evt2, evt3, hdf5, npy, npz, csv (default: from the extension)")
    parser.add_argument("--in-format", help="input format, for headerless data (default: detected)")
    parser.add_argument("--backend", choices=("evstream", "metavision"), default="evstream",
                        help="decoder: evstream's own (default, exact) or the Metavision SDK for Prophesee files")
    parser.add_argument("--width", type=int, help="sensor width in pixels (overrides the input header)")
    parser.add_argument("--height", type=int, help="sensor height in pixels (overrides the input header)")
    parser.add_argument("--start", type=int, help="first µs to keep (from the first event; see --absolute)")
    parser.add_argument("--end", type=int, help="µs where to stop, exclusive (from the first event; see --absolute)")
    parser.add_argument("--absolute", action="store_true", help="--start/--end are file timestamps in µs")
    parser.add_argument("--compression", choices=("lz4", "zstd", "none"), help="AEDAT 4 output compression (default lz4)")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    import evstream.io as eio
    from evstream.errors import UserError
    from evstream.io.errors import warnings_to_stderr

    with warnings_to_stderr("convert"):
        rec = eio.open(args.input, backend=args.backend, format=args.in_format, width=args.width, height=args.height)
        if args.start is not None or args.end is not None:
            base = 0 if args.absolute else (rec.first_time() or 0)
            rec.start_us = None if args.start is None else base + args.start
            rec.end_us = None if args.end is None else base + args.end
            if rec.start_us is not None and rec.end_us is not None and rec.end_us < rec.start_us:
                raise UserError(f"--end ({args.end}) is before --start ({args.start})")
        options = {} if args.compression is None else {"compression": args.compression}
        with eio.open_writer(args.output, rec.width, rec.height, args.format, **options) as writer, \
                tqdm(total=rec.size_bytes, unit="B", unit_scale=True, disable=args.no_progress or None,
                     leave=False, desc="converting") as bar:
            for block in rec.blocks():
                writer.write(block)
                bar.update(rec.bytes_read - bar.n)
    result = {"input": str(rec.path), "input_format": rec.format, "output": str(writer.path),
              "output_format": writer.format, "width": rec.width, "height": rec.height, "events": writer.count}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"wrote {writer.count} events ({rec.width}x{rec.height}) from {rec.format} {rec.path} "
              f"to {writer.format} {writer.path}")
    return 0
