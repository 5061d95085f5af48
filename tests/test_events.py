"""The event dtype and EventPacket: layout, zero-copy slicing, time splits, concatenation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evstream.events import EVENT_DTYPE, EventPacket, Geometry, as_events, concat_events, make_events, to_tonic


def _packet(ts, width=8, height=6, **kw):
    ts = np.asarray(ts, dtype=np.int64)
    n = len(ts)
    ev = make_events(ts, np.arange(n) % width, np.arange(n) % height, np.arange(n) % 2)
    return EventPacket(ev, width, height, **kw)


def test_dtype_is_the_aedat4_record_layout():
    assert EVENT_DTYPE.itemsize == 16
    assert [EVENT_DTYPE.fields[f][1] for f in ("t", "x", "y", "p")] == [0, 8, 10, 12]
    raw = np.zeros(2, dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1"), ("pad", "V3")])
    raw["t"], raw["x"], raw["y"], raw["p"] = [5, 9], [1, 2], [3, 4], [1, 0]
    view = raw.view(EVENT_DTYPE)
    assert view["t"].tolist() == [5, 9] and view["y"].tolist() == [3, 4] and view["p"].tolist() == [1, 0]


def test_make_events_rejects_bad_values():
    with pytest.raises(ValueError, match="'p'"):
        make_events([0], [0], [0], [2])
    with pytest.raises(ValueError, match="same length"):
        make_events([0, 1], [0], [0], [1])


def test_as_events_converts_tonic_and_faery_layouts_by_name():
    tonic = np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    tonic["x"], tonic["t"], tonic["p"] = [1, 2, 3], [10, 20, 30], [True, False, True]
    ev = as_events(tonic)
    assert ev.dtype == EVENT_DTYPE and ev["x"].tolist() == [1, 2, 3] and ev["p"].tolist() == [1, 0, 1]
    faery = np.zeros(1, dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
    faery["on"] = True
    assert as_events(faery)["p"].tolist() == [1]
    assert np.array_equal(to_tonic(ev), tonic)
    with pytest.raises(TypeError, match="found"):
        as_events(np.zeros(2, dtype=[("a", "i4")]))


def test_geometry_validates():
    assert Geometry(640, 480).shape == (480, 640)
    with pytest.raises(ValueError, match="width"):
        Geometry(0, 10)


def test_slicing_is_zero_copy_and_keeps_time_range():
    p = _packet([0, 10, 20, 30], t_start=0, t_end=40, seq=7)
    s = p[1:3]
    assert np.shares_memory(s.events, p.events)
    assert (s.t_start, s.t_end, s.seq, len(s)) == (10, 30, 7, 2)
    assert (p[:].t_start, p[:].t_end) == (0, 40)
    with pytest.raises(ValueError):
        p[::2]


def test_split_at_and_slice_time_are_half_open():
    p = _packet([0, 10, 10, 20], t_start=0, t_end=25)
    a, b = p.split_at(10)
    assert (len(a), len(b), a.t_end, b.t_start, b.t_end) == (1, 3, 10, 10, 25)
    assert np.shares_memory(b.events, p.events)
    w = p.slice_time(10, 20)
    assert w.events["t"].tolist() == [10, 10] and (w.t_start, w.t_end) == (10, 20)


def test_empty_packet_covers_time():
    p = EventPacket(np.zeros(0, EVENT_DTYPE), 4, 4, 100, 200)
    assert len(p) == 0 and p.duration_us == 100
    assert [(q.t_start, q.t_end) for q in p.split_every(50)] == [(100, 150), (150, 200)]


def test_constructor_rejects_other_dtypes_and_reversed_ranges():
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        EventPacket(np.zeros(2, dtype=[("t", "<i8")]), 4, 4)
    with pytest.raises(ValueError, match="before"):
        EventPacket(np.zeros(0, EVENT_DTYPE), 4, 4, 10, 5)


@given(st.lists(st.integers(0, 1000), max_size=60), st.integers(1, 97), st.integers(-50, 50))
def test_split_every_then_concatenate_round_trips(ts, window, origin):
    p = _packet(sorted(ts), t_start=0, t_end=1001)
    parts = list(p.split_every(window, origin))
    assert all((q.t_start - origin) % window == 0 for q in parts[1:])
    assert all(q.t_end - q.t_start <= window for q in parts)
    joined = EventPacket.concatenate(parts)
    assert (joined.t_start, joined.t_end) == (0, 1001)
    assert np.array_equal(joined.events, p.events)


def test_concatenate_rejects_overlap_and_geometry_mismatch():
    a, b = _packet([0, 5], t_start=0, t_end=10), _packet([8], t_start=8, t_end=12)
    with pytest.raises(ValueError, match="overlap"):
        EventPacket.concatenate([a, b])
    c = _packet([20], width=9, t_start=20, t_end=30)
    with pytest.raises(ValueError, match="concatenate"):
        EventPacket.concatenate([a, c])


def test_concat_events_keeps_the_padded_dtype():
    a = make_events([1, 2], [0, 1], [0, 1], [1, 0])
    joined = concat_events([a, a[:0], a])
    assert joined.dtype == EVENT_DTYPE and joined["t"].tolist() == [1, 2, 1, 2]
