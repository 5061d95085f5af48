"""Fixtures for the transport tests: a real recording, free addresses, peer processes."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the peer script doubles as a helper module
from zmq_peer import free_port, load_recording  # noqa: E402

RECORDING = "aedat4/dvxplorer-tonic-sample.aedat4"
_ipc_names = itertools.count()


@pytest.fixture(scope="session")
def recording(recordings_dir: Path, manifest: dict) -> tuple[Path, np.ndarray, int, int]:
    """``(path, events, width, height)`` of a DVXplorer recording, checked against the manifest."""
    path = recordings_dir / RECORDING
    events, width, height = load_recording(path)
    oracle = next(f["oracle"] for f in manifest["files"] if f["path"] == RECORDING)
    assert len(events) == oracle["event_count"]
    assert int(events["x"].sum()) == oracle["sum_x"]
    return path, events, width, height


@pytest.fixture
def tcp_address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def ipc_address(tmp_path: Path) -> str:
    return f"ipc://{tmp_path}/evs-{next(_ipc_names)}.sock"
