"""Packet cutting is independent of how the decoded stream was split into blocks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.events import EVENT_DTYPE, concat_events, make_events
from evstream.io.packetize import packets_by_count, packets_by_window

TIMES = st.lists(st.integers(0, 399), min_size=0, max_size=120).map(sorted)  # all before any `end`
CUTS = st.lists(st.integers(0, 120), max_size=8)


def _events(times: list[int]) -> np.ndarray:
    n = len(times)
    return make_events(np.array(times, np.int64), np.arange(n) % 7, np.arange(n) % 5, np.arange(n) % 2)


def _blocks(events: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    """Split at ``cuts`` (empty blocks included when cuts repeat)."""
    return np.split(events, sorted(min(c, len(events)) for c in cuts))


def _shape(packets) -> list[tuple]:
    return [(p.t_start, p.t_end, p.seq, p.events["t"].tolist(), p.events["x"].tolist()) for p in packets]


@settings(max_examples=200, deadline=None)
@given(times=TIMES, cuts=CUTS, count=st.integers(1, 20))
def test_count_packets_ignore_block_splits(times: list[int], cuts: list[int], count: int) -> None:
    events = _events(times)
    got = list(packets_by_count(_blocks(events, cuts), count, 7, 5))
    assert _shape(got) == _shape(packets_by_count([events], count, 7, 5))
    assert all(len(p) == count for p in got[:-1]) and all(p.events.dtype == EVENT_DTYPE for p in got)
    assert np.array_equal(concat_events([p.events for p in got]), events)


@settings(max_examples=200, deadline=None)
@given(times=TIMES, cuts=CUTS, window=st.integers(1, 60), origin=st.none() | st.integers(-50, 0),
       end=st.none() | st.integers(400, 500))
def test_window_packets_ignore_block_splits(times: list[int], cuts: list[int], window: int,
                                            origin: int | None, end: int | None) -> None:
    events = _events(times)
    got = list(packets_by_window(_blocks(events, cuts), window, 7, 5, origin, end))
    assert _shape(got) == _shape(packets_by_window([events], window, 7, 5, origin, end))
    if got:
        start = origin if origin is not None else times[0]
        assert got[0].t_start == start
        assert got[-1].t_end == (end if end is not None else times[-1] + 1)
        for k, p in enumerate(got):  # windows tile time exactly; events sit in their window
            assert p.t_start == start + k * window and p.t_end == min(start + (k + 1) * window, got[-1].t_end)
            assert all(p.t_start <= t < p.t_end for t in p.events["t"])
    assert np.array_equal(concat_events([p.events for p in got]), events)


def test_events_on_window_edges_open_the_next_window() -> None:
    events = _events([0, 10, 10, 20, 29, 30])
    got = list(packets_by_window([events[:2], events[2:]], 10, 7, 5))
    assert [p.events["t"].tolist() for p in got] == [[0], [10, 10], [20, 29], [30]]
