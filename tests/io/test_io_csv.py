"""The CSV reader's Numba row parser against numpy.loadtxt, at every chunk size, and its errors."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evstream.io as eio

VALUE = st.integers(min_value=0, max_value=10**6).map(str) | st.integers(0, 99).map(lambda v: f"+{v}")
BLANK = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def csv_lines(draw: st.DrawFn) -> tuple[str, np.ndarray]:
    """Text of sorted event rows with blanks, signs, empty lines and comments, and its rows."""
    n = draw(st.integers(0, 40))
    t = np.cumsum(draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)), dtype=np.int64)
    lines, rows = [], []
    for k in range(n):
        x, y, p = draw(st.integers(0, 639)), draw(st.integers(0, 479)), draw(st.integers(0, 1))
        cells = [str(t[k]), draw(VALUE.filter(lambda v: int(v) < 640)) if draw(st.booleans()) else str(x),
                 str(y), str(p)]
        x = int(cells[1])
        cells = [draw(BLANK) + c + draw(BLANK) for c in cells]
        line = ",".join(cells) + draw(st.sampled_from(["", "\r", " # note"]))
        lines.append(line)
        rows.append((t[k], x, y, p))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment"])))
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    return text, np.array(rows, np.int64).reshape(-1, 4)


@settings(max_examples=150, deadline=None)
@given(case=csv_lines(), chunk=st.sampled_from([1, 7, 64, 1 << 20]))
def test_rows_equal_numpy_loadtxt_whatever_the_chunk_size(tmp_path_factory: pytest.TempPathFactory,
                                                          case: tuple[str, np.ndarray], chunk: int) -> None:
    text, rows = case
    path = tmp_path_factory.mktemp("csv") / "a.csv"
    path.write_text("t,x@640,y@480,on\n" + text)
    events = eio.read(path, chunk_bytes=chunk)
    got = np.stack([events[f].astype(np.int64) for f in ("t", "x", "y", "p")], axis=1).reshape(-1, 4)
    assert np.array_equal(got, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loadtxt warns on an input without rows
        expected = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2).reshape(-1, 4)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(("body", "what", "byte"), [
    ("1,2,3,4\n5,6,x,1\n", "a byte that is not part of an integer", 12),
    ("1,2,3,4\n5,6,,1\n", "an empty value", 12),
    ("1,2,3\n", "a row without exactly 4 values", 0),
    ("1,2,3,4,5\n", "a row without exactly 4 values", 7),
    ("1,2 3,3,4\n", "a byte that is not part of an integer", 4),
    ("1,2,3,-\n", "an empty value", 7),
    ("1234567890123456789,2,3,1\n", "a value of more than 18 digits", 18),
])
def test_bad_rows_name_the_problem_and_its_byte(tmp_path: Path, body: str, what: str, byte: int) -> None:
    header = "t,x,y,p\n"
    (tmp_path / "a.csv").write_text(header + body)
    with pytest.raises(eio.FormatError, match=f"byte {len(header) + byte}: bad CSV line: {what}"):
        eio.read(tmp_path / "a.csv", width=640, height=480)


def test_negative_coordinates_and_unsorted_times_are_format_errors(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("t,x,y,p\n1,-2,3,1\n")
    with pytest.raises(eio.FormatError, match="column 'x' has values outside"):
        eio.read(tmp_path / "a.csv", width=640, height=480)
    (tmp_path / "b.csv").write_text("t,x,y,p\n5,2,3,1\n4,2,3,1\n")
    with pytest.raises(eio.FormatError, match="before the previous event"):
        eio.read(tmp_path / "b.csv", width=640, height=480)
