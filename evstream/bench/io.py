"""``evstream bench io``: decode speed of every format, evstream against faery, expelliarmus,
dv-processing, aedat and tonic on the same files in the same run.

The real recordings in ``shared/recordings`` are too small to time (open and
header costs dominate), so each case writes a larger file from a real one:
EVT 2 / EVT 3 / AEDAT 4 / CSV with evstream's writers (events repeated, shifted in
time so they stay sorted), AEDAT 2 and DAT by repeating the real records with
shifted timestamps; N-MNIST as a folder of copies of the real sample (a dataset is many small
files, so the per-file cost counts; each is read whole). Every tool then decodes the whole file to full events
(t, x, y, polarity; ``reads`` says whether it holds a chunk or the whole file at
once); the figure is events per second of wall time (best of ``--repeat``),
``ratio`` is evstream's speed over that tool's. Beside each goal, ``copy_mev_s``
and ``new_fill_mev_s`` show what the machine can write in the same run (16-byte
events copied into mapped pages, and into a new array): the ceiling to read the
goals against. The ``rss`` case streams a generated EVT 2 file of
``--rss-events`` events in a fresh process and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evstream.bench.timing import best_of

HELP = "decode speed per format: evstream vs faery, expelliarmus, dv-processing, aedat, tonic"

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "recordings"
GOALS_MEV_S = {"evt2": 450, "evt3": 150, "aedat4": 80, "aedat2": 300, "dat": 400}
"""Throughput goals of issue 4 (Mev/s on 2 cores)."""
SOURCES = {
    "evt2": "evt2/gen3-expelliarmus-evt2_sample.raw",
    "evt3": "evt2/gen3-expelliarmus-evt2_sample.raw",
    "aedat4": "aedat4/dvxplorer-tonic-sample.aedat4",
    "aedat2": "aedat2/dvs128-alexouyang-neal_walking.aedat",
    "dat": "dat/ncars-tonic-sample.dat",
    "nmnist": "nmnist/nmnist-tonic-sample.bin",
    "csv": "evt2/gen3-expelliarmus-evt2_sample.raw",
}
"""Real recording each synthetic bench file is made from (EVT 3 and CSV reuse the denser EVT 2 scene)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=5_000_000, help="events per bench file (default 5e6)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool; the best counts (default 3)")
    parser.add_argument("--formats", default=",".join(SOURCES), help="comma-separated cases (default: all)")
    parser.add_argument("--recordings", type=Path, default=SHARED, help="directory of the real recordings")
    parser.add_argument("--rss-events", type=int, default=0,
                        help="also stream a generated EVT 2 file of this many events and report peak RSS (0: skip)")
    parser.add_argument("--keep", type=Path, help="write the bench files here and keep them")
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="write a bar chart of the speeds here")


# -- bench files -----------------------------------------------------------------------
def _repeat_events(events: np.ndarray, n: int) -> np.ndarray:
    from evstream.events import concat_events

    span = int(events["t"][-1]) - int(events["t"][0]) + 1
    parts = []
    for k in range(-(-n // len(events))):
        part = events.copy()
        part["t"] += k * span
        parts.append(part)
    return concat_events(parts)[:n]


def _repeat_records(path: Path, data_offset: int, dtype: list, n: int, header: bytes | None = None) -> bytes:
    """``header`` (default: the file's own) then the file's fixed-size records repeated to ``n``,
    times shifted to keep increasing."""
    raw = path.read_bytes()
    rec = np.frombuffer(raw[data_offset:], dtype=dtype)
    span = int(rec["t"][-1]) - int(rec["t"][0]) + 1
    out = np.empty(n, dtype=rec.dtype)
    for k in range(0, n, len(rec)):
        m = min(len(rec), n - k)
        out[k:k + m] = rec[:m]
        out["t"][k:k + m] = rec["t"][:m].astype(np.int64) + (k // len(rec)) * span
    return (raw[:data_offset] if header is None else header) + out.tobytes()


def make_file(case: str, n: int, recordings: Path, folder: Path) -> Path:
    """Write the bench file of ``case`` with ``n`` events (see the module docstring)."""
    import evstream.io as eio

    src = recordings / SOURCES[case]
    rec = eio.open(src, **({"width": 120, "height": 100} if case == "dat" else {}))  # N-CARS crop size
    if case in ("evt2", "evt3", "aedat4", "csv"):
        path = folder / {"aedat4": "bench.aedat4", "csv": "bench.csv"}.get(case, f"{case}.raw")
        with eio.open_writer(path, rec.width, rec.height, case) as writer:
            writer.write(_repeat_events(rec.read(), n))
        return path
    if case == "nmnist":  # copies of the sample (one 5-byte record per event), the last cut to make n events
        path = folder / "nmnist"
        path.mkdir(exist_ok=True)
        records = src.read_bytes()
        per_file = len(rec.read())
        for k in range(-(-n // per_file)):
            (path / f"{k:06d}.bin").write_bytes(records[:5 * min(per_file, n - k * per_file)])
        return path
    offset = rec.metadata["data_offset"]
    if case == "aedat2":
        path = folder / "bench.aedat"
        path.write_bytes(_repeat_records(src, offset, [("a", ">u4"), ("t", ">u4")], n))
    else:
        path = folder / "bench.dat"
        raw = src.read_bytes()
        header = raw[:offset - 2] + b"% Width 120\n% Height 100\n" + raw[offset - 2:offset]  # N-CARS crop size
        path.write_bytes(_repeat_records(src, offset, [("t", "<u4"), ("w", "<u4")], n, header))
    return path


# -- decoders ----------------------------------------------------------------------------
def _evstream(path: Path) -> int:
    import evstream.io as eio

    if path.is_dir():  # a dataset of small files, each read whole as a training loader does
        return sum(len(eio.read(f)) for f in sorted(path.iterdir()))
    return sum(len(block) for block in eio.open(path).blocks())


def _faery(path: Path) -> int:
    import faery

    return sum(len(packet) for packet in faery.events_stream_from_file(path))


def _expelliarmus(encoding: str, chunked: bool) -> Callable[[Path], int]:
    def run(path: Path) -> int:
        import expelliarmus

        if not chunked:
            return len(expelliarmus.Wizard(encoding=encoding).read(path))
        wizard = expelliarmus.Wizard(encoding=encoding, fpath=path, chunk_size=1 << 20, buff_size=1 << 16)
        return sum(len(a) for a in wizard.read_chunk())
    return run


def _dv_processing(path: Path) -> int:
    import dv_processing as dv

    reader = dv.io.MonoCameraRecording(str(path))
    n = 0
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        if batch is not None:
            n += len(batch.numpy())
    return n


def _aedat(path: Path) -> int:
    import aedat

    return sum(len(packet["events"]) for packet in aedat.Decoder(path) if "events" in packet)


def _tonic_aedat4(path: Path) -> int:
    import tonic.io

    return len(tonic.io.read_aedat4(str(path)))


def _tonic_aedat2(path: Path) -> int:
    """tonic's AEDAT 2 path (``read_dvs_128`` itself fails on this tonic version: its header
    reader returns three values): header, records, then its DVS128 address fields."""
    import tonic.io

    version, start = tonic.io.read_aedat_header_from_file(str(path))[:2]
    records = tonic.io.get_aer_events_from_file(str(path), version, start)
    addr = records["address"]
    keep = (addr & 0x8000) == 0
    events = tonic.io.make_structured_array((addr[keep] >> 8) & 0x7F, (addr[keep] >> 1) & 0x7F,
                                            records["timeStamp"][keep], addr[keep] & 1)
    return len(events)


def _tonic_nmnist(path: Path) -> int:
    import tonic.datasets
    import tonic.io

    dtype = tonic.datasets.NMNIST.dtype
    return sum(len(tonic.io.read_mnist_file(str(f), dtype=dtype)) for f in sorted(path.iterdir()))


PEERS: dict[str, list[tuple[str, str, Callable[[Path], int]]]] = {
    "evt2": [("faery", "faery", _faery), ("expelliarmus", "expelliarmus", _expelliarmus("evt2", False)),
             ("expelliarmus-chunked", "expelliarmus", _expelliarmus("evt2", True))],
    "evt3": [("faery", "faery", _faery), ("expelliarmus", "expelliarmus", _expelliarmus("evt3", False)),
             ("expelliarmus-chunked", "expelliarmus", _expelliarmus("evt3", True))],
    "aedat4": [("dv-processing", "dv_processing", _dv_processing), ("faery", "faery", _faery),
               ("aedat", "aedat", _aedat), ("tonic", "tonic", _tonic_aedat4)],
    "aedat2": [("tonic", "tonic", _tonic_aedat2)],
    "dat": [("expelliarmus", "expelliarmus", _expelliarmus("dat", False)),
            ("expelliarmus-chunked", "expelliarmus", _expelliarmus("dat", True)), ("faery", "faery", _faery)],
    "nmnist": [("tonic", "tonic", _tonic_nmnist)],
    "csv": [("faery", "faery", _faery)],
}
"""Case -> (tool name, module that must import, decode function returning the event count). Every tool
returns full events (t, x, y, polarity); they differ in how much they hold at once (:data:`READS`)."""
WRONG_OUTPUT = {("evt3", "expelliarmus"), ("evt3", "expelliarmus-chunked")}
"""(case, tool) whose events are known to be wrong, so not a like-for-like peer: expelliarmus 1.1.12 adds
4096 µs steps to most EVT 3 times (``shared/recordings/README.md``). Their rows are shown, with a note."""
READS = {"evstream": "chunks", "faery": "chunks", "expelliarmus": "whole file", "expelliarmus-chunked": "chunks",
         "dv-processing": "chunks", "aedat": "packets", "tonic": "whole file"}
"""How each tool reads: a bounded chunk (or packet) at a time, or the whole file into one array (``files``:
a folder of small files, each read whole)."""


def _time(fn: Callable[[Path], int], path: Path, repeat: int) -> tuple[int, float]:
    """``(events decoded, best seconds)`` of ``fn(path)``, no warm-up call (files are big)."""
    seconds, n = best_of(lambda: fn(path), repeat, warm_up=False)
    return n, seconds


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def bench_case(case: str, path: Path, repeat: int) -> list[dict[str, Any]]:
    """Rows for one file: evstream first, then each peer (skipped when missing or failing)."""
    _evstream(path)  # warm-up: Numba cache, page cache
    n, seconds = _time(_evstream, path, repeat)
    ours = n / seconds / 1e6
    many = path.is_dir()  # a folder of small files: every tool reads each file whole
    rows: list[dict[str, Any]] = [{"case": case, "tool": "evstream", "reads": "files" if many else READS["evstream"],
                                   "events": n, "seconds": round(seconds, 4), "mev_s": round(ours, 1),
                                   "goal_mev_s": GOALS_MEV_S.get(case)}]
    peer_speeds = []
    for name, module, fn in PEERS.get(case, []):
        row: dict[str, Any] = {"case": case, "tool": name, "reads": "files" if many else READS[name]}
        if not _installed(module):
            row["skipped"] = f"{module} is not installed"
        else:
            try:
                fn(path)
                m, t = _time(fn, path, repeat)
            except Exception as exc:  # a peer that cannot read the file is reported, not fatal
                row["skipped"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
            else:
                speed = m / t / 1e6
                row.update(events=m, seconds=round(t, 4), mev_s=round(speed, 1), ratio=round(ours / speed, 2))
                if m != n:
                    row["note"] = f"decoded {m} events, evstream {n}"
                if (case, name) in WRONG_OUTPUT:
                    row["note"] = "wrong timestamps (+4096 us steps): not like for like"
                else:
                    peer_speeds.append(speed)
        rows.append(row)
    if peer_speeds:
        rows[0]["ratio"] = round(ours / max(peer_speeds), 2)
        rows[0]["note"] = "ratio vs the fastest peer with correct events"
    return rows


def machine_write_speed(n: int, repeat: int) -> dict[str, float]:
    """What the machine can write, in Mev/s of 16-byte events (the ceiling to read each goal against):
    ``copy_mev_s`` copies ``n`` events into an array whose pages are mapped, ``new_fill_mev_s`` fills a
    newly allocated one (page faults included, as for output that is handed to the caller and freed)."""
    from evstream.events import EVENT_DTYPE

    src = np.ones(n, EVENT_DTYPE)
    dst = np.zeros(n, EVENT_DTYPE)
    warm, _ = best_of(lambda: np.copyto(dst.view(np.int64), src.view(np.int64)), repeat)
    fresh, _ = best_of(lambda: np.empty(n, EVENT_DTYPE).view(np.int64).fill(1), repeat)
    return {"copy_mev_s": round(n / warm / 1e6, 1), "new_fill_mev_s": round(n / fresh / 1e6, 1)}


def _rss_child(path: str) -> None:
    """Run in a fresh process: stream ``path`` and print events and peak RSS (MiB) as JSON."""
    import resource

    import evstream.io as eio

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    n = sum(len(p) for p in eio.open(path, packet_events=65536))
    print(json.dumps({"events": n, "seconds": time.perf_counter() - t0, "rss_before_mib": before,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def bench_rss(n: int, recordings: Path, folder: Path) -> dict[str, Any]:
    """Write an EVT 2 file of ``n`` events block by block, then stream it in a child process."""
    import evstream.io as eio

    rec = eio.open(recordings / SOURCES["evt2"])
    events = rec.read()
    span = int(events["t"][-1]) - int(events["t"][0]) + 1
    path = folder / "rss.raw"
    with eio.open_writer(path, rec.width, rec.height, "evt2") as writer:
        done = k = 0
        while done < n:
            part = events[:n - done].copy()
            part["t"] += k * span
            writer.write(part)
            done += len(part)
            k += 1
    code = f"from evstream.bench.io import _rss_child; _rss_child({str(path)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    size = path.stat().st_size
    path.unlink()
    return {"case": "rss", "tool": "evstream", "events": result["events"], "file_mib": round(size / 2**20),
            "seconds": round(result["seconds"], 2), "mev_s": round(result["events"] / result["seconds"] / 1e6, 1),
            "peak_rss_mib": round(result["peak_rss_mib"]), "rss_before_mib": round(result["rss_before_mib"])}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from evstream.errors import UserError

    cases = [c.strip() for c in args.formats.split(",") if c.strip()]
    unknown = [c for c in cases if c not in SOURCES]
    if unknown:
        raise UserError(f"unknown bench case(s) {unknown} (known: {', '.join(SOURCES)})")
    if not args.recordings.is_dir():
        raise UserError(f"{args.recordings}: recordings not found (pass --recordings DIR)")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="evstream-bench-io-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    machine = machine_write_speed(args.events, args.repeat)
    try:
        for case in cases:
            path = make_file(case, args.events, args.recordings, folder)
            case_rows = bench_case(case, path, args.repeat)
            case_rows[0].update(machine)
            rows += case_rows
        if args.rss_events:
            rows.append(bench_rss(args.rss_events, args.recordings, folder))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    for row in rows:
        row.setdefault("cpus", os.cpu_count())
    if args.plot:
        from evstream.bench.io_plot import plot_io

        plot_io(args.plot, rows)
    return rows
