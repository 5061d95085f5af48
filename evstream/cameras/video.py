"""Video to events: frames from a file or a numpy array through the DVS pixel model.

Frames are converted to grey intensities in [0, 1] (Rec. 601 luma for colour)
and fed to :class:`~evstream.cameras.contrast.DvsPixelModel`, which treats the
log intensity as ramping linearly between consecutive frames, so event
timestamps fall between frame times rather than on them.

Inputs: ``.npy`` arrays ``(T, H, W)`` or ``(T, H, W, 3|4)`` (uint8, uint16 or
float in [0, 1]); ``.npz`` with ``frames`` (and optionally ``t_us`` or
``fps``); animated GIFs and folders of images (Pillow); other video files
(mp4, avi, mkv, ...) through PyAV (``pip install 'evstream[video]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evstream.cameras.contrast import DvsParams, DvsPixelModel
from evstream.errors import UserError, require
from evstream.events import EventPacket

__all__ = ["VideoError", "VideoFrames", "frames_to_events", "open_video", "to_gray"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class VideoError(UserError):
    """A video or frame array cannot be used as input."""


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 intensity in [0, 1] from a grey or RGB(A) frame of any integer or float type."""
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        scale = np.iinfo(a.dtype).max if a.dtype.kind in "ui" else 1.0
        a = (a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114) / scale
    elif a.ndim == 2:
        a = a / np.iinfo(a.dtype).max if a.dtype.kind in "ui" else a
    else:
        raise VideoError(f"a frame must be (H, W) or (H, W, 3|4) (got shape {a.shape})")
    return np.clip(a, 0.0, 1.0).astype(np.float32)


@dataclass
class VideoFrames:
    """Frames of a video with their times: ``frames()`` yields ``(t_us, (H, W) float32)``."""

    width: int
    height: int
    count: int | None
    source: Iterator[tuple[int, np.ndarray]]

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        return self.source


def _array_frames(array: np.ndarray, t_us: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for t, frame in zip(t_us, array):
        yield int(t), to_gray(frame)


def _frame_times(n: int, fps: float) -> np.ndarray:
    if fps <= 0:
        raise VideoError(f"--fps must be positive (got {fps})")
    return np.round(np.arange(n) * 1e6 / fps).astype(np.int64)


def from_array(array: np.ndarray, fps: float = 30.0, t_us: np.ndarray | None = None, name: str = "array") -> VideoFrames:
    """Frames from an array ``(T, H, W)`` / ``(T, H, W, C)``, at ``fps`` or at times ``t_us`` (µs, increasing)."""
    array = np.asarray(array)
    if array.ndim not in (3, 4) or len(array) < 2:
        raise VideoError(f"{name}: expected at least 2 frames of shape (T, H, W) or (T, H, W, 3|4), got {array.shape}")
    t = _frame_times(len(array), fps) if t_us is None else np.asarray(t_us, dtype=np.int64)
    if len(t) != len(array) or np.any(np.diff(t) <= 0):
        raise VideoError(f"{name}: frame times must be increasing, one per frame")
    return VideoFrames(array.shape[2], array.shape[1], len(array), _array_frames(array, t))


def _image_frames(paths: list[Path], fps: float) -> VideoFrames:
    from PIL import Image

    first = np.asarray(Image.open(paths[0]))

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for t, p in zip(_frame_times(len(paths), fps), paths):
            yield int(t), to_gray(np.asarray(Image.open(p).convert("RGB")))

    return VideoFrames(first.shape[1], first.shape[0], len(paths), frames())


def _gif_frames(path: Path) -> VideoFrames:
    from PIL import Image, ImageSequence

    im = Image.open(path)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        t = 0
        for frame in ImageSequence.Iterator(im):
            yield t, to_gray(np.asarray(frame.convert("RGB")))
            t += int(frame.info.get("duration", 40)) * 1000 or 40_000

    return VideoFrames(im.width, im.height, getattr(im, "n_frames", None), frames())


def _av_frames(path: Path) -> VideoFrames:
    av = require("av", "av", "video", "reading video files")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc
    stream = container.streams.video[0]
    tb = float(stream.time_base) if stream.time_base else 1.0 / float(stream.average_rate or 30)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        with container:
            for i, frame in enumerate(container.decode(stream)):
                t = int(round(frame.pts * tb * 1e6)) if frame.pts is not None else int(i * 1e6 / float(stream.average_rate))
                yield t, to_gray(frame.to_ndarray(format="gray"))

    return VideoFrames(stream.width, stream.height, stream.frames or None, frames())


def open_video(path: str | Path, fps: float = 30.0) -> VideoFrames:
    """Frames of a video file, array file or image folder (``fps`` applies where the input has no times)."""
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(images) < 2:
            raise VideoError(f"{path}: a frame folder needs at least 2 images ({', '.join(IMAGE_SUFFIXES)})")
        return _image_frames(images, fps)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file or frame folder")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        try:
            data = np.load(path)
        except (ValueError, OSError) as exc:
            raise VideoError(f"{path}: not a numpy array file ({exc})") from exc
        if suffix == ".npy":
            return from_array(data, fps, name=str(path))
        if "frames" not in data:
            raise VideoError(f"{path}: the .npz needs a 'frames' array (T, H, W); found {', '.join(data.files)}")
        return from_array(data["frames"], float(data["fps"]) if "fps" in data else fps,
                          data["t_us"] if "t_us" in data else None, name=str(path))
    if suffix == ".gif":
        return _gif_frames(path)
    return _av_frames(path)


def frames_to_events(video: VideoFrames, params: DvsParams | None = None, seed: int = 0) -> Iterator[EventPacket]:
    """One :class:`EventPacket` per frame interval ``[t_previous, t)`` (the first frame only sets the reference)."""
    model = DvsPixelModel(video.width, video.height, params, seed)
    for seq, (t, frame) in enumerate(video.frames()):
        if frame.shape != (video.height, video.width):
            raise VideoError(f"frame {seq} has shape {frame.shape}, the first had {(video.height, video.width)}")
        t0 = model.t
        if t0 is not None and t <= t0:
            raise VideoError(f"frame {seq} at {t} µs is not after the previous frame ({t0} µs)")
        events = model.step(frame, t)
        if t0 is not None:
            yield EventPacket(events, video.width, video.height, t0, t, seq - 1)
