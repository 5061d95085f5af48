"""Decoding kernels against the plain references in ``naive_decoders``, with random chunk and buffer splits."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evstream.io as eio
from evstream.events import EVENT_DTYPE
from evstream.io import prophesee_kernels as pk
from evstream.io import record_kernels as rk
from evstream.io import time32_kernels as tk
from evstream.io.decoder import SMALL_READ_BYTES, FileWindows
from tests.conftest import RECORDINGS
from tests.io import naive_decoders as naive

RAW_EVT2 = RECORDINGS / "evt2/gen3-expelliarmus-evt2_sample.raw"
RAW_EVT3 = RECORDINGS / "evt3/gen41-expelliarmus-evt3_sample.raw"


def run_split(kernel, words: np.ndarray, cuts: list[int], capacity: int, state: np.ndarray, *args,
              per: int = 1) -> np.ndarray:
    """Run ``kernel`` over ``words`` cut at ``cuts`` (rounded to whole records of ``per`` words)
    with output buffers of ``capacity`` events."""
    units = len(words) // per
    parts = []
    for piece in np.split(words[:units * per], sorted(c % (units + 1) * per for c in cuts)):
        start = 0
        while start < len(piece) // per:
            out = np.empty(capacity, EVENT_DTYPE)
            n, nxt = kernel(piece, start, out.view(np.int64), state, *args)
            assert nxt > start, "a kernel call made no progress"
            start = nxt
            parts.append(out[:n])
    return np.concatenate(parts).astype(EVENT_DTYPE) if parts else np.empty(0, EVENT_DTYPE)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and all(np.array_equal(a[k], b[k]) for k in ("t", "x", "y", "p"))


def _body(path, dtype: str) -> np.ndarray:
    rec = eio.open(path, width=1 << 16, height=1 << 16)
    data = path.read_bytes()[rec.metadata["data_offset"]:]
    return np.frombuffer(data[:len(data) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize], dtype)


CUTS = st.lists(st.integers(0, 1 << 30), max_size=5)


@settings(max_examples=8, deadline=None)
@given(cuts=CUTS, capacity=st.integers(40, 5000), size=st.sampled_from([(640, 480), (320, 479), (639, 240)]))
def test_evt2_kernel_matches_reference(cuts: list[int], capacity: int, size: tuple[int, int]) -> None:
    """Real runs of CD words (vectorised path) and, with a smaller sensor, runs with dropped pixels."""
    words = _body(RAW_EVT2, "<u4")[:30000]
    got = run_split(pk.decode_evt2, words, cuts, capacity, np.zeros(pk.EVT2_STATE, np.int64), *size, False)
    assert _equal(got, naive.to_events(naive.evt2(words, *size)))


@settings(max_examples=8, deadline=None)
@given(cuts=CUTS, capacity=st.integers(40, 5000))
def test_evt3_kernel_matches_reference(cuts: list[int], capacity: int) -> None:
    words = _body(RAW_EVT3, "<u2")[:30000]
    got = run_split(pk.decode_evt3, words, cuts, capacity, np.zeros(pk.EVT3_STATE, np.int64), 1280, 720)
    assert _equal(got, naive.to_events(naive.evt3(words, 1280, 720)))


EVT3_WORDS = st.lists(st.one_of(
    st.integers(0, 0xFFFF),  # anything, including unknown types
    st.sampled_from([0x8000, 0x8FFF, 0x8800, 0x6000, 0x6FFF]).map(lambda w: w),  # time words at the edges
    st.integers(0, 0x0FFF).map(lambda v: 0x2000 | v),  # ADDR_X
    st.integers(0, 0x0FFF).map(lambda v: 0x4000 | v),  # VECT_12
), min_size=0, max_size=400)


@settings(max_examples=200, deadline=None)
@given(words=EVT3_WORDS, cuts=CUTS, capacity=st.integers(13, 64))
def test_evt3_kernel_random_words(words: list[int], cuts: list[int], capacity: int) -> None:
    """Random streams (wraps, vectors, unknown types, tiny buffers): same as the reference."""
    arr = np.array(words, np.uint16)
    got = run_split(pk.decode_evt3, arr, cuts, capacity, np.zeros(pk.EVT3_STATE, np.int64), 1000, 600)
    assert _equal(got, naive.to_events(naive.evt3(arr, 1000, 600)))


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.one_of(st.integers(0, (1 << 32) - 1),
                                 st.integers(0, (1 << 28) - 1).map(lambda v: 0x80000000 | v)), max_size=300),
       cuts=CUTS, capacity=st.integers(1, 64))
def test_evt2_kernel_random_words(words: list[int], cuts: list[int], capacity: int) -> None:
    arr = np.array(words, np.uint32)
    got = run_split(pk.decode_evt2, arr, cuts, capacity, np.zeros(pk.EVT2_STATE, np.int64), 1280, 720, False)
    assert _equal(got, naive.to_events(naive.evt2(arr, 1280, 720)))


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.one_of(st.integers(0, (1 << 64) - 1),
                                 st.integers(0, (1 << 28) - 1).map(lambda v: (0x8 << 60) | (v << 32))), max_size=120),
       legacy=st.booleans(), cuts=CUTS, capacity=st.integers(33, 200))
def test_evt21_kernel_random_words(words: list[int], legacy: bool, cuts: list[int], capacity: int) -> None:
    arr = np.array(words, np.uint64)
    if legacy:
        arr = (arr << np.uint64(32)) | (arr >> np.uint64(32))
    got = run_split(pk.decode_evt2, arr, cuts, capacity, np.zeros(pk.EVT2_STATE, np.int64), 1280, 720, legacy)
    assert _equal(got, naive.to_events(naive.evt2(arr, 1280, 720, legacy21=legacy)))


def test_evt21_file_round_trip(tmp_path) -> None:
    """A hand-built EVT 2.1 file (header, TIME_HIGH, masked CD words) decodes through evstream.io."""
    th = (0x8 << 60) | (1000 << 32)
    cd_on = (0x1 << 60) | (5 << 54) | (100 << 43) | (7 << 32) | 0b1011
    cd_off = (0x0 << 60) | (9 << 54) | (64 << 43) | (8 << 32) | (1 << 31)
    body = np.array([cd_on, th, cd_on, cd_off], "<u8").tobytes()
    (tmp_path / "a.raw").write_bytes(b"% format EVT21;height=720;width=1280\n% end\n" + body)
    ev = eio.read(tmp_path / "a.raw")
    t_on, t_off = (1000 << 6) + 5, (1000 << 6) + 9
    assert ev.tolist() == [(t_on, 100, 7, 1), (t_on, 101, 7, 1), (t_on, 103, 7, 1), (t_off, 95, 8, 0)]
    assert eio.open(tmp_path / "a.raw").format == "evt21"


def test_aedat2_kernels_match_reference() -> None:
    for name, davis_height in (("dvs128-alexouyang-neal_walking.aedat", None),
                               ("davis240c-pyaedattools-IMU_translBoxes.aedat", 180)):
        path = RECORDINGS / "aedat2" / name
        data = path.read_bytes()[eio.open(path).metadata["data_offset"]:]
        words = np.frombuffer(data[:len(data) // 8 * 8], "<u8")
        layout = tk.AEDAT2_DVS128 if davis_height is None else tk.AEDAT2_DAVIS
        w, h = (128, 128) if davis_height is None else (240, 180)
        got = run_split(tk.decode_time32, words, [12345, 77777], 3000, np.zeros(tk.TIME32_STATE, np.int64),
                        layout, w, h)
        assert _equal(got, naive.aedat2(data, davis_height))


def test_dat_and_nmnist_kernels_match_reference() -> None:
    path = RECORDINGS / "dat/ncars-tonic-sample.dat"
    data = path.read_bytes()[eio.open(path, width=120, height=100).metadata["data_offset"]:]
    got = run_split(tk.decode_time32, np.frombuffer(data, "<u8"), [1000], 100, np.zeros(tk.TIME32_STATE, np.int64),
                    tk.DAT_V2, 1 << 16, 1 << 16)
    assert _equal(got, naive.dat(data))
    data = (RECORDINGS / "nmnist/nmnist-tonic-sample.bin").read_bytes()
    got = run_split(rk.decode_nmnist, np.frombuffer(data, np.uint8), [2500], 777,
                    np.zeros(rk.NMNIST_STATE, np.int64), 34, 34, per=5)
    assert _equal(got, naive.nmnist(data))


def _time32_records(seed: int, n: int, p_odd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` raw 32-bit times rising in small steps, with a fraction ``p_odd`` of steps back and wraps,
    and pixel fields 0..129 (some outside a 128 x 128 sensor)."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, 5, n)
    odd = rng.random(n) < p_odd
    steps[odd] = rng.choice([-3, -(1 << 31) - 5, 1 << 30], odd.sum())
    t = (np.cumsum(steps) + (1 << 32) - 100) % (1 << 32)
    return t.astype(np.uint64), rng.integers(0, 130, n), rng.integers(0, 130, n)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 1 << 30), n=st.integers(1, 3000), p_odd=st.sampled_from([0.0, 0.0005, 0.01]),
       cuts=CUTS, capacity=st.integers(1, 2000))
def test_time32_kernel_random_dat_and_aedat2(seed: int, n: int, p_odd: float, cuts: list[int], capacity: int) -> None:
    """Plain blocks (vectorised path) and blocks with wraps, held times, drops and skipped records."""
    t, x, y = _time32_records(seed, n, p_odd)
    p = (x + y) & 1
    dat = t | ((x.astype(np.uint64) | (y.astype(np.uint64) << np.uint64(14)) | (p.astype(np.uint64) << np.uint64(28)))
               << np.uint64(32))
    got = run_split(tk.decode_time32, dat.astype("<u8"), cuts, capacity, np.zeros(tk.TIME32_STATE, np.int64),
                    tk.DAT_V2, 128, 128)
    ref = naive.dat(dat.astype("<u8").tobytes())
    assert _equal(got, ref[(ref["x"] < 128) & (ref["y"] < 128)])
    special = np.random.default_rng(seed).random(n) < p_odd  # DVS128 bit 15: skipped
    addr = (x % 128 << 1) | (y % 128 << 8) | p | (special << 15)
    data = np.stack([addr, t]).T.astype(">u4").tobytes()
    got = run_split(tk.decode_time32, np.frombuffer(data, "<u8"), cuts, capacity, np.zeros(tk.TIME32_STATE, np.int64),
                    tk.AEDAT2_DVS128, 128, 128)
    kept = np.stack([addr, t]).T[~special].astype(">u4").tobytes()  # skipped records do not move the clock
    assert _equal(got, naive.aedat2(kept, None))


def test_dat_time_wrap() -> None:
    raw = np.array([[4294967000, 5], [100, 6], [50, 7]], "<u4").ravel().view("<u8")
    got = run_split(tk.decode_time32, raw, [], 10, np.zeros(tk.TIME32_STATE, np.int64), tk.DAT_V2, 100, 100)
    assert got["t"].tolist() == [4294967000, (1 << 32) + 100, (1 << 32) + 100]


def test_aedat3_polarity_packets(tmp_path) -> None:
    """AEDAT 3.1: polarity packets decoded (overflow -> high time bits), invalid events and others skipped."""
    def word(x: int, y: int, p: int, valid: int = 1) -> int:
        return (x << 17) | (y << 2) | (p << 1) | valid
    pol1 = np.array([word(3, 4, 1), 10, word(5, 6, 0, valid=0), 11, word(127, 127, 0), 12], np.uint32)
    imu = np.arange(8, dtype=np.uint32)
    pol2 = np.array([word(1, 2, 1), 5], np.uint32)
    (tmp_path / "a.aedat").write_bytes(naive.aedat3_file([(1, 0, pol1), (3, 0, imu), (1, 1, pol2)]))
    rec = eio.open(tmp_path / "a.aedat")
    assert rec.format == "aedat3" and (rec.width, rec.height) == (128, 128)
    assert rec.read().tolist() == [(10, 3, 4, 1), (12, 127, 127, 0), ((1 << 31) | 5, 1, 2, 1)]
    cut = (tmp_path / "a.aedat").read_bytes()[:-3]
    (tmp_path / "b.aedat").write_bytes(cut)
    with pytest.warns(eio.PartialReadWarning, match="polarity packet"):
        assert len(eio.read(tmp_path / "b.aedat")) == 2


def test_first_invalid_and_sanitize_match_numpy() -> None:
    rng = np.random.default_rng(1)
    ev = np.zeros(500, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 1000, 500))
    ev["t"][[100, 300]] -= 400
    ev["x"] = rng.integers(0, 70, 500)
    ev["y"] = rng.integers(0, 50, 500)
    ev["p"] = rng.integers(0, 3, 500)
    raw = ev.view(np.int64).reshape(-1, 2)
    bad = (ev["x"] >= 64) | (ev["y"] >= 48) | (ev["p"] > 1) | (ev["t"] < np.concatenate([[-1], ev["t"][:-1]]))
    assert rk.first_invalid(raw, -1, 64, 48) == int(np.argmax(bad))
    out = np.empty(500, EVENT_DTYPE)
    state = np.array([-1, 0], np.int64)
    n = rk.sanitize(raw, out.view(np.int64).reshape(-1, 2), state, 64, 48)
    keep = (ev["x"] < 64) & (ev["y"] < 48)
    assert n == keep.sum() and state[1] == (~keep).sum()
    assert np.array_equal(out["t"][:n], np.maximum.accumulate(ev["t"][keep]))
    assert np.array_equal(out["p"][:n], (ev["p"][keep] > 0).astype(np.uint8))


@pytest.mark.parametrize("window", [4, 1001, 1 << 23])
@pytest.mark.parametrize("repeats", [40, 300], ids=["small-file-read", "large-file-mapped"])
def test_mapped_and_read_windows_give_the_same_units(tmp_path, window: int, repeats: int) -> None:
    """Regular files above SMALL_READ_BYTES are mapped, smaller ones and other streams read; all give
    whole 4-byte units and the same leftover."""
    data = bytes(range(256)) * repeats + b"xyz"
    assert (len(data) > SMALL_READ_BYTES) == (repeats == 300)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    whole = (len(data) - 7) // 4 * 4
    with open(path, "rb") as mapped:
        for fh in (mapped, io.BytesIO(data)):
            windows = FileWindows(fh, 7, 4, window)
            parts = [bytes(view) for view in windows]
            assert all(len(p) % 4 == 0 and 0 < len(p) <= max(4, window) for p in parts)
            assert b"".join(parts) == data[7:7 + whole]
            assert (windows.pos, windows.leftover) == (7 + whole, len(data) - 7 - whole)
