"""Datasets of binned frames built from the real N-MNIST samples and recordings in ../shared."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from evstream.io import read
from evstream.learning import datasets as ds


def test_nmnist_frames_count_every_event_of_the_sample(nmnist_train_dir, tmp_path):
    data = ds.nmnist(nmnist_train_dir, ds.Binning(10_000, 32), cache_dir=tmp_path, limit=3)
    assert data.frames.shape == (3, 32, 2, 34, 34) and data.frames.dtype.is_floating_point is False
    frames, label = data[0]
    assert label == 5                                   # train1K.txt: sample 1 is a 5
    assert int(frames.sum()) == 4681                    # every event of 1.bs2 (last at 305924 µs < 320 ms)
    assert int(frames[:, 1].sum()) == 2328              # ON events in channel 1
    assert [data[i][1] for i in range(3)] == [5, 0, 4]


def test_nmnist_frame_k_holds_the_events_of_window_k(nmnist_train_dir):
    data = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 8), limit=1)
    events = read(nmnist_train_dir / "1.bs2")
    for k in (0, 3, 7):
        in_window = (events["t"] >= k * 20_000) & (events["t"] < (k + 1) * 20_000)
        assert int(data.frames[0, k].sum()) == int(in_window.sum())
    assert int(data.frames[0].sum()) == int((events["t"] < 160_000).sum())   # cut after 8 steps


def test_downsampling_sums_blocks(nmnist_train_dir):
    full = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 16), limit=2)
    half = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 16, downsample=2), limit=2)
    assert half.frames.shape == (2, 16, 2, 17, 17)
    expected = full.frames.numpy().astype(int).reshape(2, 16, 2, 17, 2, 17, 2).sum((4, 6))
    np.testing.assert_array_equal(half.frames.numpy(), np.minimum(expected, 255))


def test_cache_is_reused_and_keyed_by_binning(nmnist_train_dir, tmp_path, monkeypatch):
    first = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 4), cache_dir=tmp_path, limit=4)
    assert len(list(tmp_path.glob("nmnist-*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("binned again although cached")

    monkeypatch.setattr(ds, "bin_sample", fail)
    again = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 4), cache_dir=tmp_path, limit=4)
    assert np.array_equal(first.frames.numpy(), again.frames.numpy())
    with pytest.raises(AssertionError, match="binned again"):
        ds.nmnist(nmnist_train_dir, ds.Binning(10_000, 4), cache_dir=tmp_path, limit=4)
    monkeypatch.setattr(ds, "code_digest", lambda: "changed reader")
    with pytest.raises(AssertionError, match="binned again"):
        ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 4), cache_dir=tmp_path, limit=4)


@pytest.mark.parametrize("package", ["io", "binning"])
def test_code_digest_changes_with_a_reader_or_binner_source(package, monkeypatch):
    before = ds.code_digest()
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: original(self) + (b"#" if self.parent.name == package else b""))
    ds.code_digest.cache_clear()
    try:
        assert ds.code_digest() != before
    finally:
        ds.code_digest.cache_clear()


def test_label_list_errors_name_the_file(nmnist_train_dir, tmp_path):
    (tmp_path / "labels.txt").write_text("#sample\t#class\r\n1\t5\r\n2\tseven\r\n")
    shutil.copy(nmnist_train_dir / "1.bs2", tmp_path / "1.bs2")
    with pytest.raises(ds.DatasetError, match="labels.txt:3"):
        ds.nmnist(tmp_path)
    (tmp_path / "labels.txt").write_text("#sample\t#class\n1\t5\n9\t3\n")
    with pytest.raises(ds.DatasetError, match="9.bs2"):
        ds.nmnist(tmp_path)
    with pytest.raises(ds.DatasetError, match="not a folder"):
        ds.nmnist(tmp_path / "missing")


def test_labelled_recording_gives_one_sample_per_row(recordings_dir, tmp_path):
    src = recordings_dir / "aedat4" / "dvs128-redpob-2024_06_13_16_16_25.aedat4"
    shutil.copy(src, tmp_path / "walk.aedat4")
    t0 = 1718320899149165
    (tmp_path / "walk_labels.csv").write_text(
        f"class,startTime_usec,endTime_usec\n3,{t0},{t0 + 1_000_000}\n1,{t0 + 2_000_000},{t0 + 2_500_000}\n")
    data = ds.labelled_recordings(tmp_path, ds.Binning(100_000, 10, 128, 128))
    assert len(data) == 2 and [data[i][1] for i in range(2)] == [2, 0]
    events = read(src)
    first = (events["t"] >= t0) & (events["t"] < t0 + 1_000_000)
    assert int(data.frames[0].sum()) == int(first.sum()) > 0
    second = (events["t"] >= t0 + 2_000_000) & (events["t"] < t0 + 3_000_000)
    assert int(data.frames[1].sum()) == int(second.sum())   # 10 steps of 100 ms from the row's start
    (tmp_path / "walk_labels.csv").write_text("class,startTime_usec,endTime_usec\n3,500,100\n")
    with pytest.raises(ds.DatasetError, match="walk_labels.csv:2"):
        ds.labelled_recordings(tmp_path, ds.Binning(100_000, 10, 128, 128))


def test_split_is_seeded_and_disjoint(nmnist_train_dir):
    data = ds.nmnist(nmnist_train_dir, ds.Binning(20_000, 2), limit=50)
    train, val = ds.split(data, 0.2, seed=1)
    assert len(val) == 10 and len(train) == 40
    assert not set(train.indices) & set(val.indices)
    assert ds.split(data, 0.2, seed=1)[1].indices == val.indices
    assert ds.split(data, 0.2, seed=2)[1].indices != val.indices


def test_dvs_gesture_without_files_is_a_user_error(tmp_path):
    with pytest.raises(ds.DatasetError, match="ibmGestureTrain is missing"):
        ds.dvs_gesture(tmp_path, train=True)


def test_labelled_recording_offsets_shift_each_window(recordings_dir, tmp_path):
    src = recordings_dir / "aedat4" / "dvs128-redpob-2024_06_13_16_16_25.aedat4"
    shutil.copy(src, tmp_path / "walk.aedat4")
    t0 = 1718320899149165
    (tmp_path / "walk_labels.csv").write_text(f"class,startTime_usec,endTime_usec\n3,{t0},{t0 + 1_000_000}\n")
    offsets = (-500_000, 0, 250_000)
    data = ds.labelled_recordings(tmp_path, ds.Binning(100_000, 10, 128, 128), offsets_us=offsets)
    assert len(data) == 3 and {data[i][1] for i in range(3)} == {2}
    t = read(src)["t"]
    for i, offset in enumerate(offsets):
        start = t0 + offset
        inside = (t >= start) & (t < start + 1_000_000)
        assert int(data.frames[i].sum()) == int(inside.sum()) > 0
    before = (t >= t0 - 500_000) & (t < t0 - 400_000)
    assert int(data.frames[0, 0].sum()) == int(before.sum())  # first step of the earliest window
