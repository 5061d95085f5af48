"""Shared fixtures: the real recordings and datasets in ``../shared`` beside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RECORDINGS = SHARED / "recordings"
NMNIST_TRAIN = SHARED / "datasets" / "nmnist-small" / "train"


def _manifest() -> dict:
    path = RECORDINGS / "MANIFEST.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    """``../shared/recordings``: real recordings with oracle facts in ``MANIFEST.json``."""
    if not RECORDINGS.is_dir():
        pytest.fail(f"{RECORDINGS} is missing: the tests need ../shared beside the repository")
    return RECORDINGS


@pytest.fixture(scope="session")
def manifest() -> dict:
    """The parsed ``MANIFEST.json`` of ``../shared/recordings``."""
    return _manifest()


@pytest.fixture(scope="session")
def nmnist_train_dir() -> Path:
    """``../shared/datasets/nmnist-small/train``: 1000 labelled N-MNIST samples."""
    if not NMNIST_TRAIN.is_dir():
        pytest.fail(f"{NMNIST_TRAIN} is missing: the tests need ../shared beside the repository")
    return NMNIST_TRAIN
