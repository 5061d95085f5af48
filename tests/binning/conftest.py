"""Fixtures of the binning tests: the real recordings as evstream event packets."""

from __future__ import annotations

import pytest

from evstream.events import EventPacket
from tests.binning.streams import read_recording


@pytest.fixture(scope="session")
def recording(recordings_dir):
    """``recording(relative_path) -> EventPacket`` (cached) of ``../shared/recordings``."""
    cache: dict[str, EventPacket] = {}

    def load(relative: str) -> EventPacket:
        if relative not in cache:
            cache[relative] = read_recording(recordings_dir / relative)
        return cache[relative]

    return load
