"""Labelled event datasets as torch Datasets of binned frames, with an on-disk frame cache.

Every sample becomes ``steps`` count frames of ``window_us`` µs each, binned by
:func:`evstream.binning.to_frames` (per-polarity counts, shape ``(steps, 2, H, W)``);
frame ``k`` covers ``[origin + k * window_us, origin + (k + 1) * window_us)`` where
``origin`` is the sample's start (0 for N-MNIST files, the label's start time for
labelled recordings). Shorter samples are padded with empty frames, longer ones
cut. Frames are stored as uint8 (counts saturate at 255 per pixel and bin).

Binned frames are cached as ``.npz`` files keyed by the binning, the sample
files (path, size, modification time), the labels and a digest of the code
that turns files into frames (``evstream.io``, ``evstream.binning`` and this
module), so a changed reader or binner never reuses stale frames.

Sources:

* :func:`nmnist`: a folder of N-MNIST ``.bin``/``.bs2`` files with a label list
  (``<id><TAB><class>`` lines after a ``#`` header, as ``train1K.txt``).
* :func:`dvs_gesture`: DVS128 Gesture in tonic's layout, read with tonic's loader
  (train = users 1-23, test = users 24-29, the paper's split).
* :func:`labelled_recordings`: any recordings evstream reads, each with a
  ``<stem>_labels.csv`` beside it (``class,startTime_usec,endTime_usec`` rows, as
  DVS Gesture's files); one sample per row.
"""

from __future__ import annotations

import hashlib
import functools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from evstream.errors import UserError, require
from evstream.learning.catalog import DATASETS

__all__ = ["Binning", "DatasetError", "FrameDataset", "dvs_gesture", "labelled_recordings", "load",
           "nmnist", "read_label_list", "split"]


class DatasetError(UserError, ValueError):
    """A dataset folder, label file or sample is missing or malformed."""


@dataclass(frozen=True)
class Binning:
    """How samples become frames: ``steps`` windows of ``window_us`` µs on a ``width`` x ``height`` sensor.

    ``downsample`` sums blocks of ``downsample`` x ``downsample`` pixels, so frames
    are ``(2, height // downsample, width // downsample)``.
    """

    window_us: int = 10_000
    steps: int = 31
    width: int = 34
    height: int = 34
    downsample: int = 1

    def __post_init__(self) -> None:
        if self.window_us <= 0 or self.steps <= 0 or self.downsample <= 0:
            raise DatasetError(f"window_us, steps and downsample must be positive (got {self.window_us} µs, "
                               f"{self.steps} steps, downsample {self.downsample})")

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(2, H, W)`` of one output frame (polarities, pixels after downsampling)."""
        return (2, self.height // self.downsample, self.width // self.downsample)


class FrameDataset(Dataset):
    """Binned samples in memory: ``frames`` uint8 ``(N, T, 2, H, W)``, ``labels`` int64 ``(N,)``.

    ``dataset[i]`` is ``(float32 frames (T, 2, H, W), label)``.
    """

    def __init__(self, frames: np.ndarray, labels: np.ndarray, binning: Binning, n_classes: int) -> None:
        self.frames = torch.from_numpy(frames)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.binning = binning
        self.n_classes = n_classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.frames[index].float(), int(self.labels[index])


def bin_sample(events: np.ndarray, binning: Binning, origin_us: int = 0) -> np.ndarray:
    """``steps`` count frames uint8 ``(T, *binning.frame_shape)`` of ``events`` from ``origin_us`` on."""
    from evstream.binning import to_frames

    counts = np.zeros((binning.steps, 2, binning.height, binning.width), dtype=np.int64)
    t = events["t"]
    end = origin_us + binning.steps * binning.window_us
    inside = events[(t >= origin_us) & (t < end)]
    if len(inside):
        frames = to_frames(inside, width=binning.width, height=binning.height, window_us=binning.window_us,
                           origin_us=origin_us)
        first = (int(inside["t"][0]) - origin_us) // binning.window_us
        n = min(len(frames), binning.steps - first)
        counts[first:first + n] = frames[:n]
    d = binning.downsample
    if d > 1:
        _, h, w = binning.frame_shape
        counts = counts[..., : h * d, : w * d].reshape(binning.steps, 2, h, d, w, d).sum(axis=(3, 5))
    return np.minimum(counts, 255).astype(np.uint8)


def read_events(path: Path) -> np.ndarray:
    """All events of a recording as an :data:`~evstream.events.EVENT_DTYPE` array (evstream readers)."""
    from evstream.io import read

    data = read(path)
    return getattr(data, "events", data)


def read_label_list(path: Path) -> list[tuple[str, int]]:
    """``(sample id, class)`` pairs of an N-MNIST label list (``#`` header, ``id<TAB>class``, CRLF allowed)."""
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise DatasetError(f"{path}:{number}: expected '<sample id> <class>', got {line!r}")
        pairs.append((fields[0], int(fields[1])))
    if not pairs:
        raise DatasetError(f"{path}: no labelled samples; expected '<sample id><TAB><class>' lines")
    return pairs


@functools.cache
def code_digest() -> str:
    """Digest of the sources that turn sample files into frames: evstream's io and binning packages and this module."""
    root = Path(__file__).resolve().parents[1]
    sources = sorted([*root.joinpath("io").rglob("*.py"), *root.joinpath("binning").rglob("*.py"), Path(__file__).resolve()])
    digest = hashlib.sha1()
    for source in sources:
        digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(cache_dir: Path | None, kind: str, key: dict) -> Path | None:
    if cache_dir is None:
        return None
    key = {**key, "code": code_digest()}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{kind}-{digest}.npz"


def default_cache_dir() -> Path:
    """``$EVSTREAM_CACHE`` or ``$XDG_CACHE_HOME/evstream/frames`` (``~/.cache/evstream/frames``)."""
    if os.environ.get("EVSTREAM_CACHE"):
        return Path(os.environ["EVSTREAM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "evstream" / "frames"


def _file_key(paths: Iterable[Path]) -> list[list]:
    return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def _cached(kind: str, key: dict, cache_dir: Path | None, build: Callable[[], tuple[np.ndarray, np.ndarray]],
            ) -> tuple[np.ndarray, np.ndarray]:
    """Frames and labels from the cache file for ``key``, or ``build()`` them and store them."""
    path = _cache_path(cache_dir, kind, key)
    if path is not None and path.exists():
        with np.load(path) as data:
            return data["frames"], data["labels"]
    frames, labels = build()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")     # torchrun ranks may build at once
        np.savez_compressed(tmp, frames=frames, labels=labels)
        tmp.replace(path)
    return frames, labels


def _progress(items: Sequence, desc: str) -> Iterable:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="sample", leave=False, disable=None)


def nmnist(folder: str | Path, binning: Binning | None = None, labels: str | Path | None = None,
           cache_dir: Path | None = None, limit: int | None = None) -> FrameDataset:
    """N-MNIST samples of ``folder`` (``<id>.bs2`` or ``<id>.bin``) labelled by its label list.

    Args:
        folder: directory holding the sample files and (unless ``labels`` is given)
            exactly one ``*.txt`` label list.
        binning: default 31 windows of 10 ms on 34 x 34 pixels (the whole ~300 ms sample).
        labels: the label list (default: the one ``*.txt`` file in ``folder``).
        cache_dir: where binned frames are kept (``None``: no cache).
        limit: use only the first ``limit`` samples of the list.
    """
    folder = Path(folder)
    binning = binning or Binning()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; pass --data with the N-MNIST sample folder")
    if labels is None:
        lists = sorted(folder.glob("*.txt"))
        if len(lists) != 1:
            raise DatasetError(f"{folder}: expected one label list (*.txt) in the folder, found {len(lists)}")
        labels = lists[0]
    pairs = read_label_list(Path(labels))[:limit]
    files = []
    for sample_id, _ in pairs:
        found = [folder / f"{sample_id}{ext}" for ext in (".bs2", ".bin") if (folder / f"{sample_id}{ext}").exists()]
        if not found:
            raise DatasetError(f"{folder}: sample {sample_id!r} of {Path(labels).name} has no {sample_id}.bs2 or .bin file")
        files.append(found[0])
    targets = np.array([c for _, c in pairs], dtype=np.int64)

    def build() -> tuple[np.ndarray, np.ndarray]:
        frames = np.stack([bin_sample(read_events(f), binning) for f in _progress(files, "binning N-MNIST")])
        return frames, targets

    key = {"binning": asdict(binning), "files": _file_key(files), "labels": targets.tolist()}
    frames, targets = _cached("nmnist", key, cache_dir, build)
    return FrameDataset(frames, targets, binning, n_classes=10)


def labelled_recordings(folder: str | Path, binning: Binning, cache_dir: Path | None = None,
                        first_class: int = 1, offsets_us: Sequence[int] = (0,)) -> FrameDataset:
    """One sample per row and offset of each ``<stem>_labels.csv`` in ``folder`` for the recording ``<stem>.*``.

    Rows are ``class,start_us,end_us`` (a header line is skipped); ``first_class``
    is the number of the first class in the files (1 for DVS Gesture), which
    becomes label 0. Frames start at each row's start time plus each of
    ``offsets_us`` (µs, may be negative: windows starting before or after the
    labelled start, as a streaming network reset at an arbitrary phase sees
    them); samples are ordered row-major (all offsets of a row together).
    """
    folder = Path(folder)
    csvs = sorted(folder.glob("*_labels.csv"))
    if not csvs:
        raise DatasetError(f"{folder}: no <recording>_labels.csv files (class,start_us,end_us rows)")
    jobs: list[tuple[Path, list[tuple[int, int, int]]]] = []
    for csv in csvs:
        stem = csv.name[: -len("_labels.csv")]
        recs = [p for p in folder.glob(stem + ".*") if p != csv and not p.name.endswith(".csv")]
        if len(recs) != 1:
            raise DatasetError(f"{csv}: expected one recording named {stem}.<ext> beside it, found {len(recs)}")
        jobs.append((recs[0], _read_label_csv(csv, first_class)))

    def build() -> tuple[np.ndarray, np.ndarray]:
        frames, targets = [], []
        for rec, rows in _progress(jobs, "binning recordings"):
            events = read_events(rec)
            for cls, start, _end in rows:
                for offset in offsets_us:
                    frames.append(bin_sample(events, binning, origin_us=start + offset))
                    targets.append(cls)
        return np.stack(frames), np.array(targets, dtype=np.int64)

    key = {"binning": asdict(binning), "files": _file_key([rec for rec, _ in jobs] + csvs),
           "first_class": first_class}
    if tuple(offsets_us) != (0,):
        key["offsets_us"] = [int(o) for o in offsets_us]
    frames, targets = _cached("recordings", key, cache_dir, build)
    return FrameDataset(frames, targets, binning, n_classes=int(targets.max()) + 1)


def _read_label_csv(path: Path, first_class: int) -> list[tuple[int, int, int]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        if not line.strip() or not fields[0].lstrip("-").isdigit():
            continue  # header or blank line
        if len(fields) < 3 or not all(f.isdigit() for f in fields[1:3]):
            raise DatasetError(f"{path}:{number}: expected 'class,start_us,end_us', got {line!r}")
        cls, start, end = int(fields[0]) - first_class, int(fields[1]), int(fields[2])
        if cls < 0 or end <= start:
            raise DatasetError(f"{path}:{number}: class must be >= {first_class} and end > start (got {line!r})")
        rows.append((cls, start, end))
    if not rows:
        raise DatasetError(f"{path}: no label rows (class,start_us,end_us)")
    return rows


def dvs_gesture(folder: str | Path, train: bool, binning: Binning | None = None,
                cache_dir: Path | None = None) -> FrameDataset:
    """DVS128 Gesture (11 classes) from tonic's layout under ``folder`` (never downloads).

    ``folder`` is tonic's ``save_to``: it holds ``DVSGesture/ibmGestureTrain`` and
    ``ibmGestureTest``. Default binning: 20 windows of 75 ms at 128 x 128 from the
    sample start (the S-TLLR recipe's train slices).
    """
    tonic = require("tonic", "tonic", "dev", "the DVS Gesture dataset")
    folder = Path(folder)
    binning = binning or Binning(window_us=75_000, steps=20, width=128, height=128)
    split_dir = folder / "DVSGesture" / ("ibmGestureTrain" if train else "ibmGestureTest")
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir} is missing; download DVS Gesture with tonic.datasets.DVSGesture(save_to={str(folder)!r})")
    data = tonic.datasets.DVSGesture(save_to=str(folder), train=train)
    from evstream.events import as_events

    def build() -> tuple[np.ndarray, np.ndarray]:
        frames, targets = [], []
        for i in _progress(range(len(data)), "binning DVS Gesture"):
            events, target = data[i]
            events = as_events(events)
            frames.append(bin_sample(events, binning, origin_us=int(events["t"][0]) if len(events) else 0))
            targets.append(int(target))
        return np.stack(frames), np.array(targets, dtype=np.int64)

    files = sorted(split_dir.rglob("*.npy"))
    key = {"binning": asdict(binning), "files": _file_key(files), "train": train}
    frames, targets = _cached("dvsgesture", key, cache_dir, build)
    return FrameDataset(frames, targets, binning, n_classes=11)


def load(kind: str, folder: str | Path, binning: Binning | None = None, cache_dir: Path | None = None,
         train: bool = True, limit: int | None = None) -> FrameDataset:
    """A dataset by kind name (:data:`DATASETS`); see the loaders for the folder layouts."""
    if kind == "nmnist":
        return nmnist(folder, binning, cache_dir=cache_dir, limit=limit)
    if kind == "dvsgesture":
        return dvs_gesture(folder, train, binning, cache_dir)
    if kind == "recordings":
        if binning is None:
            raise DatasetError("labelled recordings need explicit binning (window and steps)")
        return labelled_recordings(folder, binning, cache_dir)
    raise DatasetError(f"unknown dataset {kind!r} (known: {', '.join(DATASETS)})")


def split(dataset: Dataset, val_fraction: float, seed: int = 0) -> tuple[Subset, Subset]:
    """``(train, validation)`` subsets: a seeded random ``val_fraction`` of the samples is held out."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction must lie in (0, 1) (got {val_fraction})")
    n = len(dataset)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(n * val_fraction))
    return Subset(dataset, sorted(order[n_val:])), Subset(dataset, sorted(order[:n_val]))
