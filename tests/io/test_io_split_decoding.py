"""Two-thread EVT 3.0 decoding (decoder._split_blocks): the events are exactly those of one thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evstream.io as eio
from evstream.events import EVENT_DTYPE
from evstream.io import decoder
from evstream.io import prophesee_kernels as pk
from evstream.io.prophesee import _evt3_sync
from tests.io import naive_decoders as naive
from tests.io.test_io_kernels import EVT3_WORDS, RAW_EVT3, _body, _equal


def _split(words: np.ndarray, width: int, height: int, sync, kernel=pk.decode_evt3) -> tuple[np.ndarray, np.ndarray]:
    """Events and final state of :func:`decoder._split_blocks` over all of ``words``."""
    state = np.zeros(pk.EVT3_STATE, np.int64)
    with ThreadPoolExecutor(1) as pool:
        blocks = list(decoder._split_blocks(pool, words, len(words), 1, kernel, (state, width, height), 1.0,
                                            pk.EVT3_STATE - 1, sync))
    events = np.concatenate(blocks).astype(EVENT_DTYPE) if blocks else np.empty(0, EVENT_DTYPE)
    return events, state


def _serial_state(words: np.ndarray, width: int, height: int) -> np.ndarray:
    state = np.zeros(pk.EVT3_STATE, np.int64)
    for _ in decoder._blocks(words, 0, len(words), 1, pk.decode_evt3, (state, width, height), 1.0):
        pass
    return state


@pytest.mark.parametrize("part", [700, 4096, 30000])
def test_real_stream_in_parts_equals_the_reference(monkeypatch, part: int) -> None:
    """The real Gen 4.1 sample (vectors, time words) split into pairs of ``part`` words."""
    monkeypatch.setattr(decoder, "SPLIT_UNITS", part)
    monkeypatch.setattr(decoder, "SPLIT_SYNC_UNITS", 64)
    words = _body(RAW_EVT3, "<u2")
    got, state = _split(words, 1280, 720, _evt3_sync)
    assert _equal(got, naive.to_events(naive.evt3(words, 1280, 720)))
    assert np.array_equal(state, _serial_state(words, 1280, 720))


def test_a_wrong_guess_falls_back_to_one_thread(monkeypatch) -> None:
    """A sync point that leaves the guessed state stale: the half is decoded again by the calling thread."""
    monkeypatch.setattr(decoder, "SPLIT_UNITS", 4096)
    monkeypatch.setattr(decoder, "SPLIT_SYNC_UNITS", 0)
    words = _body(RAW_EVT3, "<u2")
    main = threading.get_ident()
    starts: list[int] = []

    def kernel(w, start, out, *args):  # noqa: ANN001, ANN202
        if threading.get_ident() == main:
            starts.append(start)
        return pk.decode_evt3(w, start, out, *args)

    got, state = _split(words, 1280, 720, lambda w, unit: unit, kernel)   # no resync: the window's start state
    assert _equal(got, naive.to_events(naive.evt3(words, 1280, 720)))
    assert np.array_equal(state, _serial_state(words, 1280, 720))
    pairs = len(words) // (2 * 4096)
    halves = [(len(words) * p // pairs + len(words) * (p + 1) // pairs) // 2 for p in range(pairs)]
    assert set(halves) & set(starts), "no half was decoded again by the calling thread"


@settings(max_examples=150, deadline=None)
@given(words=st.lists(EVT3_WORDS, min_size=2, max_size=8).map(lambda parts: sum(parts, [])),
       part=st.integers(8, 200), sync=st.sampled_from(["evt3", "none", "start"]))
def test_random_streams_equal_the_reference(words: list[int], part: int, sync: str) -> None:
    """Random words (wraps, vectors, unknown types), small parts, good and useless sync points."""
    arr = np.array(words, np.uint16)
    syncs = {"evt3": _evt3_sync, "none": lambda w, unit: -1, "start": lambda w, unit: 0}
    old = decoder.SPLIT_UNITS, decoder.SPLIT_SYNC_UNITS
    decoder.SPLIT_UNITS, decoder.SPLIT_SYNC_UNITS = part, 4
    try:
        got, state = _split(arr, 1000, 600, syncs[sync])
    finally:
        decoder.SPLIT_UNITS, decoder.SPLIT_SYNC_UNITS = old
    assert _equal(got, naive.to_events(naive.evt3(arr, 1000, 600)))
    assert np.array_equal(state, _serial_state(arr, 1000, 600))


@pytest.mark.parametrize("chunk_bytes", [1 << 12, 100_003, 1 << 23])
def test_files_read_in_two_threads_match_one_thread(monkeypatch, chunk_bytes: int) -> None:
    """Through io.open: windows of any size, split into parts, give the one-thread events."""
    one = eio.read(RAW_EVT3)
    monkeypatch.setattr(decoder, "SPLIT_UNITS", 1000)
    got = np.concatenate(list(eio.open(RAW_EVT3, chunk_bytes=chunk_bytes).blocks()))
    assert _equal(got, one)


def test_sync_finds_the_last_time_high_word() -> None:
    words = np.full(20000, 0x2005, np.uint16)          # ADDR_X words only
    assert _evt3_sync(words, 19999) == -1
    words[[10, 15000]] = 0x8001                        # TIME_HIGH
    assert _evt3_sync(words, 19999) == 15000
    assert _evt3_sync(words, 14999) == 10
    assert _evt3_sync(words, 10) == 10
