"""Video to events: frame sources (arrays, npz, GIF, image folder, mp4) and the contrast model on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evstream.cameras.contrast import DvsParams
from evstream.cameras.video import VideoError, frames_to_events, from_array, open_video, to_gray
from evstream.events import concat_events


def _moving_bar(n: int = 12, h: int = 24, w: int = 32) -> np.ndarray:
    """uint8 frames of a bright vertical bar moving right by 2 px per frame on a dark background."""
    frames = np.full((n, h, w), 40, np.uint8)
    for i in range(n):
        frames[i, :, 4 + 2 * i: 8 + 2 * i] = 220
    return frames


def _events(video, **params) -> np.ndarray:
    packets = list(frames_to_events(video, DvsParams(noise_hz=0.0, threshold_sigma=0.0, **params)))
    return concat_events([p.events for p in packets])


def test_a_moving_bar_gives_on_at_its_front_and_off_at_its_back() -> None:
    frames = _moving_bar()
    ev = _events(from_array(frames, fps=100))
    assert len(ev) > 0 and np.all(np.diff(ev["t"]) >= 0)
    on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
    # Frame i -> i+1 brightens columns 8+2i, 9+2i and darkens 4+2i, 5+2i.
    assert set(np.unique(on["x"])) == set(range(8, 8 + 2 * 11))
    assert set(np.unique(off["x"])) == set(range(4, 4 + 2 * 11))
    # log(220/40) / 0.2 = 8.5 -> 8 events per pixel per edge, 24 rows, 22 columns each way.
    assert len(on) == len(off) == 8 * 24 * 22
    # Timestamps fall between frame times (10 ms apart), not only on them.
    assert len(np.unique(ev["t"] % 10_000)) > 4


def test_packets_cover_frame_intervals() -> None:
    packets = list(frames_to_events(from_array(_moving_bar(5), t_us=[0, 1000, 3000, 3500, 9000])))
    assert [(p.t_start, p.t_end) for p in packets] == [(0, 1000), (1000, 3000), (3000, 3500), (3500, 9000)]


def test_higher_threshold_fewer_events() -> None:
    video = lambda: from_array(_moving_bar(), fps=100)  # noqa: E731
    assert len(_events(video(), threshold=0.4)) < len(_events(video(), threshold=0.2))


def test_to_gray_conventions() -> None:
    assert to_gray(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]
    assert np.allclose(to_gray(np.array([[[255, 255, 255]]], np.uint8)), 1.0, atol=1e-3)
    assert to_gray(np.array([[0.5, 2.0]])).tolist() == [[0.5, 1.0]]
    with pytest.raises(VideoError, match="must be"):
        to_gray(np.zeros((2, 2, 2)))


def test_npy_npz_gif_and_image_folder_give_the_same_events(tmp_path: Path) -> None:
    from PIL import Image

    frames = _moving_bar(6)
    np.save(tmp_path / "f.npy", frames)
    np.savez(tmp_path / "f.npz", frames=frames, fps=25.0)
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:03d}.png")
    images = [Image.fromarray(f).convert("P") for f in frames]
    images[0].save(tmp_path / "f.gif", save_all=True, append_images=images[1:], duration=40, loop=0)
    reference = _events(from_array(frames, fps=25))
    for path in ("f.npy", "f.npz", "shots", "f.gif"):
        got = _events(open_video(tmp_path / path, fps=25))
        assert np.array_equal(got, reference), path


def test_mp4_through_pyav(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for f in _moving_bar(10):
            frame = av.VideoFrame.from_ndarray(np.repeat(f[..., None], 3, axis=2), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    video = open_video(path)
    assert (video.width, video.height) == (32, 24)
    ev = _events(video)
    assert ev["t"].max() < 200_000 and ev["t"].max() > 150_000  # 10 frames at 50 fps
    on = ev[ev["p"] == 1]
    assert on["x"].min() >= 6 and len(on) > 1000  # lossy codec: edges blur a little


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing.mp4", "no such video"),
    (lambda d: (d / "one.npy", np.save(d / "one.npy", np.zeros((1, 4, 4))))[0], "at least 2 frames"),
    (lambda d: (d / "x.npz", np.savez(d / "x.npz", other=np.zeros(3)))[0], "needs a 'frames' array"),
    (lambda d: (d / "t.npy", (d / "t.npy").write_text("not numpy"))[0], "not a numpy array file"),
    (lambda d: (d / "bad.mp4", (d / "bad.mp4").write_bytes(b"\0" * 100))[0], "not a readable video"),
])
def test_bad_inputs_are_user_errors(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(VideoError, match=match):
        video = open_video(make(tmp_path))
        list(frames_to_events(video))
