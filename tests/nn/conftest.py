"""Fixtures of the nn tests: real DVS128 frames binned with a plain numpy histogram."""

from __future__ import annotations

import numpy as np
import pytest

DVS128 = "aedat4/dvs128-redpob-2024_06_20_16_13_00.aedat4"


def bin_frames(t_us: np.ndarray, x: np.ndarray, y: np.ndarray, on: np.ndarray, n_frames: int,
               height: int, width: int) -> np.ndarray:
    """``(n_frames, 2, height, width)`` float32 event counts over equal time bins (channel 1 = ON)."""
    edges = np.linspace(t_us[0], t_us[-1] + 1, n_frames + 1)
    b = np.clip(np.searchsorted(edges, t_us, side="right") - 1, 0, n_frames - 1)
    frames = np.zeros((n_frames, 2, height, width), np.float32)
    np.add.at(frames, (b, on.astype(np.int64), y.astype(np.int64), x.astype(np.int64)), 1.0)
    return frames


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread: the CI machine is shared, and spinning OpenMP threads stall there."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def dvs_events(recordings_dir, manifest):
    """Events of the 128x128 DVS128 recording, read with the peer reader ``aedat``."""
    aedat = pytest.importorskip("aedat")
    packets = [p["events"] for p in aedat.Decoder(str(recordings_dir / DVS128)) if "events" in p]
    ev = np.concatenate(packets)
    return ev


@pytest.fixture(scope="session")
def dvs_frames(dvs_events) -> np.ndarray:
    """100 real frames ``(100, 2, 128, 128)`` of the DVS128 recording."""
    ev = dvs_events
    return bin_frames(ev["t"].astype(np.int64), ev["x"], ev["y"], ev["on"], 100, 128, 128)
