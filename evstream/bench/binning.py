"""``evstream bench binning``: binners and filters against tonic and dv-processing on the same events.

One recording (default: a real DVS128 AEDAT 4 file of ``../shared/recordings``)
is read once with :func:`evstream.io.read`. Each case times evstream and one
peer on the same events in the same run (best of ``--repeat``):

* evstream runs its streaming objects (``process`` per packet, then
  ``flush``), as a graph node does; frames stay as emitted (no concatenation).
  By default the recording is one packet, like the peers' whole-array calls;
  ``--packet-us`` cuts it into packets of that length instead (dv-processing
  then gets the same packets), which adds the per-packet cost of a live stream.
  Count frames without ``--packet-us`` are timed as users of the Python API get
  them: the binner called on the whole array (what ``to_frames`` does) returns
  one numpy array ``(N, 2, H, W)``, like tonic's ``ToFrame`` (whose int16
  frames make the int16 row the like-for-like one).
* tonic runs its transform on the whole array (``ToFrame``, ``ToVoxelGrid``,
  ``ToTimesurface``, ``Denoise``, ...); sliding voxel grids, which tonic does not
  have, are its overlapping time slices with ``ToVoxelGrid`` on each. tonic's per-event Python loops
  (Denoise, RefractoryPeriod, Decimation) and its time surface run on the first
  ``--peer-events`` events; evstream is then timed on that same prefix.
* dv-processing reads the same AEDAT 4 file into its own ``EventStore`` (it has
  no numpy import) and runs its filter on it; it has no refractory filter,
  decimation or flip, so those cases compare with tonic only.

``mev_s`` is millions of input events per second; ``ratio`` on the evstream row
is evstream's speed over the peer's.

The ``live`` case (no peer) runs the graph ``io.replay`` (real-time pace,
packets of ``--live-packet-us``) -> ``filters.denoise`` -> ``binning.count`` for
``--live-s`` seconds of the recording and reports the frames node's
``frame_lag`` percentiles: how long after the end of its window each frame
left the node. The replay cuts packets on the same absolute edges as the
windows (origin 0) and releases each at the moment its end passes, so the lag
is the graph's own cost (wake-up, denoise, binning, queue hops), not waiting
for data.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evstream.bench.timing import best_of
from evstream.errors import UserError

HELP = "binners and filters (Mev/s) vs tonic and dv-processing on the same events"

_DEFAULT_FILE = Path(__file__).resolve().parents[3] / "shared" / "recordings" / "aedat4" / \
    "dvs128-redpob-2024_06_20_16_13_00.aedat4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, default=_DEFAULT_FILE,
                        help="recording to bin (default: the shared DVS128 AEDAT 4 recording)")
    parser.add_argument("--events", type=int, default=0, help="use only the first N events (0: all)")
    parser.add_argument("--peer-events", type=int, default=50_000,
                        help="events given to tonic's per-event Python loops (default 50000)")
    parser.add_argument("--window-us", type=int, default=10_000, help="frame window, µs (default 10000)")
    parser.add_argument("--packet-us", type=int, default=0,
                        help="cut the stream into packets of this many µs (default 0: one packet)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool; the best counts (default 5)")
    parser.add_argument("--live-s", type=float, default=2.0,
                        help="seconds of paced replay for the live frame-lag case (default 2; 0: skip)")
    parser.add_argument("--live-packet-us", type=int, default=1_000,
                        help="packet length of the live replay, µs (default 1000)")
    parser.add_argument("--cases", default="", help="comma-separated case names to run (default: all)")


def _best(fn: Callable[[], Any], repeat: int) -> float:
    return best_of(fn, repeat)[0]


def _stream(make: Callable[[], Any], packets: list) -> Callable[[], None]:
    """Feed ``packets`` to a fresh binner/filter from ``make()`` and flush it."""
    def run() -> None:
        obj = make()
        for packet in packets:
            obj.process(packet)
        obj.flush()
    return run


def _cut(packet: Any, packet_us: int) -> list:
    return list(packet.split_every(packet_us)) if packet_us > 0 else [packet]


def _dv_store(path: Path, limit: int) -> Any:
    from evstream.errors import require

    dv = require("dv_processing", "dv-processing", "cameras", "the dv-processing rows of evstream bench binning")
    if path.suffix != ".aedat4":
        return None
    reader = dv.io.MonoCameraRecording(str(path))
    store = dv.EventStore()
    while (batch := reader.getNextEventBatch()) is not None:
        store.add(batch)
    return store.slice(0, limit) if limit else store


def _rows(case: str, n: int, ours: float, peer: str, theirs: float | None, why: str = "") -> list[dict]:
    row = {"case": case, "tool": "evstream", "events": n, "mev_s": n / ours / 1e6}
    if theirs is None:
        return [row, {"case": case, "tool": peer, "skipped": why}]
    row["ratio"] = theirs / ours
    return [row, {"case": case, "tool": peer, "events": n, "mev_s": n / theirs / 1e6}]


def run(args: argparse.Namespace) -> list[dict]:
    import tonic.transforms as tt

    from evstream import binning as b
    from evstream.events import EventPacket, to_tonic
    from evstream.io import open as open_recording

    if not args.file.exists():
        raise UserError(f"--file {args.file}: no such recording; pass one with --file PATH")
    recording = open_recording(args.file)
    events = recording.read()
    if args.events:
        events = events[:args.events]
    if len(events) < 2:
        raise UserError(f"--file {args.file}: needs at least 2 events to benchmark")
    w, h = recording.width, recording.height
    window = args.window_us
    packets = _cut(EventPacket(events, w, h), args.packet_us)
    small = events[:args.peer_events]
    small_packets = _cut(EventPacket(small, w, h), args.packet_us)
    sample, small_sample = to_tonic(events), to_tonic(small)
    int_polarity = sample.astype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i2")])
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    rows: list[dict] = []
    r = args.repeat

    def case(name: str) -> bool:
        return not wanted or name in wanted

    def frames(representation: str, **extra: Any) -> Callable[[], Any]:
        config = b.FrameConfig(width=w, height=h, window_us=window, representation=representation, **extra)
        return lambda: b.make_binner(config)

    def count_frames(dtype: str) -> Callable[[], Any]:
        if args.packet_us > 0:
            return _stream(frames("count", dtype=dtype), packets)
        config = b.FrameConfig(width=w, height=h, window_us=window, dtype=dtype)
        return lambda: b.make_binner(config)(events)

    for name, dtype in (("count", "float32"), ("count-int16", "int16")):
        if case(name):
            rows += _rows(f"count frames {window} µs {dtype}", len(events), _best(count_frames(dtype), r), "tonic",
                          _best(lambda: tt.ToFrame(sensor_size=(w, h, 2), time_window=window)(sample), r))
    if case("voxel"):
        rows += _rows("voxel grid, whole recording, 10 bins", len(events),
                      _best(lambda: b.to_voxel_grid(events, width=w, height=h, n_time_bins=10), r), "tonic",
                      _best(lambda: tt.ToVoxelGrid(sensor_size=(w, h, 2), n_time_bins=10)(int_polarity.copy()), r))
    if case("timesurface"):
        rows += _rows(f"time surfaces {window} µs", len(small),
                      _best(_stream(frames("timesurface", tau_us=window / 2), small_packets), r), "tonic",
                      _best(lambda: tt.ToTimesurface(sensor_size=(w, h, 2), dt=window, tau=window / 2)(small_sample),
                            1))
    stride = max(1, window // 2)
    if case("sliding"):
        rows += _rows(f"sliding count frames {window} µs every {stride} µs int16", len(small),
                      _best(_stream(frames("count", stride_us=stride, dtype="int16"), small_packets), r), "tonic",
                      _best(lambda: tt.ToFrame(sensor_size=(w, h, 2), time_window=window,
                                               overlap=window - stride)(small_sample), r))
    if case("sliding-voxel"):
        rows += _rows(f"sliding voxel grids {window} µs every {stride} µs, 5 bins", len(small),
                      _best(_stream(frames("voxel", stride_us=stride), small_packets), r), "tonic",
                      _best(lambda: _tonic_sliding_voxel(int_polarity[:len(small)], w, h, window, stride), r))
    loops = {  # tonic per-event Python loops: on the small prefix
        "denoise": (lambda: b.DenoiseFilter(w, h, time_us=window, neighbours=4), lambda: tt.Denoise(window)),
        "refractory": (lambda: b.RefractoryFilter(w, h, period_us=1000), lambda: tt.RefractoryPeriod(1000)),
        "decimation": (lambda: b.DecimationFilter(w, h, n=4), lambda: tt.Decimation(4)),
    }
    for name, (ours, theirs) in loops.items():
        if case(name):
            rows += _rows(f"{name} (vs tonic)", len(small), _best(_stream(ours, small_packets), r), "tonic",
                          _best(lambda: theirs()(small_sample.copy()), 1))
    vectorised = {
        "downsample": (lambda: b.DownsampleFilter(w, h, factor=4), lambda: tt.Downsample(spatial_factor=0.25)),
        "flip": (lambda: b.OrientFilter(w, h, flip_x=True), lambda: tt.RandomFlipLR(sensor_size=(w, h, 2), p=1.0)),
        "time-scale": (lambda: b.TimeFilter(w, h, scale=0.5), lambda: tt.Downsample(time_factor=0.5)),
    }
    for name, (ours, theirs) in vectorised.items():
        if case(name):
            rows += _rows(f"{name} (vs tonic)", len(events), _best(_stream(ours, packets), r), "tonic",
                          _best(lambda: theirs()(sample.copy()), r))
    rows += _dv_rows(args, b, events, packets, w, h, case)
    if case("live") and args.live_s > 0:
        rows.append(_live_row(args.file, int(events["t"][0]), args.live_s, window, args.live_packet_us))
    return rows


def _tonic_sliding_voxel(sample: np.ndarray, w: int, h: int, window_us: int, stride_us: int) -> np.ndarray:
    """What a tonic user writes for sliding voxel grids: overlapping time slices, ``ToVoxelGrid`` on each."""
    import tonic.transforms as tt
    from tonic.slicers import slice_events_by_time

    to_voxel = tt.ToVoxelGrid(sensor_size=(w, h, 2), n_time_bins=5)
    slices = slice_events_by_time(sample, window_us, overlap=window_us - stride_us)
    return np.stack([to_voxel(part) for part in slices if len(part) > 1])


def _live_row(path: Path, t_first: int, seconds: float, window_us: int, packet_us: int) -> dict:
    """Frame lag of a paced replay -> denoise -> count frames graph (µs behind each window's end)."""
    from evstream.graph import Graph
    from evstream.graph.registry import get

    g = Graph()
    src = g.add(get("io.replay")("src", path=str(path), window_us=packet_us, speed=1.0,
                                 end_us=t_first + int(seconds * 1e6)))
    den = g.add(get("filters.denoise")("denoise", time_us=window_us), input=src)
    frm = g.add(get("binning.count")("frames", window_us=window_us), input=den)
    g.add(get("core.count")("sink"), input=frm)
    stats = g.run(handle_signals=False)["nodes"]["frames"]
    return {"case": f"live replay ({packet_us} µs packets) -> denoise -> count frames {window_us} µs",
            "tool": "evstream",
            "frames": stats["frames_out"], "frame_lag_p50_us": stats["frame_lag_p50_us"],
            "frame_lag_p99_us": stats["frame_lag_p99_us"], "frame_lag_max_us": stats["frame_lag_max_us"]}


def _dv_rows(args: argparse.Namespace, b: Any, events: np.ndarray, packets: list, w: int, h: int,
             case: Callable[[str], bool]) -> list[dict]:
    """Filters against their dv-processing equivalents, on the store dv reads from the same file."""
    names = ("denoise-dv", "polarity", "roi", "mask")
    if not any(case(n) for n in names):
        return []
    try:
        store = _dv_store(args.file, args.events)
    except UserError as exc:
        return [{"case": n, "tool": "dv-processing", "skipped": str(exc)} for n in names if case(n)]
    if store is None:
        return [{"case": n, "tool": "dv-processing", "skipped": "dv-processing reads AEDAT 4 files only"}
                for n in names if case(n)]
    import dv_processing as dv

    if store.size() != len(events):
        raise UserError(f"--file {args.file}: dv-processing read {store.size()} events, evstream {len(events)}")
    r = args.repeat
    hot = np.zeros((h, w), dtype=np.uint8)
    hot[h // 2, w // 2] = 1
    roi = (w // 4, h // 4, w // 2, h // 2)
    cases = {
        "denoise-dv": ("denoise 8-neighbour (vs dv BackgroundActivityNoiseFilter)",
                       lambda: b.DenoiseFilter(w, h, time_us=args.window_us, neighbours=8),
                       lambda: dv.noise.BackgroundActivityNoiseFilter(
                           (w, h), backgroundActivityDuration=_timedelta(args.window_us))),
        "polarity": ("polarity select (vs dv EventPolarityFilter)", lambda: b.PolarityFilter(w, h, polarity=1),
                     lambda: dv.EventPolarityFilter(True)),
        "roi": ("ROI crop (vs dv EventRegionFilter)", lambda: b.RoiFilter(w, h, *roi),
                lambda: dv.EventRegionFilter(roi)),
        "mask": ("hot-pixel mask (vs dv EventMaskFilter)",
                 lambda: b.HotPixelFilter(w, h, learn_us=0, pixels=[(w // 2, h // 2)]),
                 lambda: dv.EventMaskFilter(np.ascontiguousarray(1 - hot))),
    }
    stores = [store.sliceTime(p.t_start, p.t_end) for p in packets] if args.packet_us > 0 else [store]
    rows: list[dict] = []
    for name, (title, ours, theirs) in cases.items():
        if not case(name):
            continue

        def run_dv(make: Callable[[], Any] = theirs) -> None:
            flt = make()
            for part in stores:
                flt.accept(part)
                flt.generateEvents()

        rows += _rows(title, len(events), _best(_stream(ours, packets), r), "dv-processing", _best(run_dv, r))
    return rows


def _timedelta(us: int) -> Any:
    import datetime

    return datetime.timedelta(microseconds=us)
