"""Inputs the fuzz campaign (``tests/fuzz``) found and the fixes they led to, as regression tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import evstream.io as eio
from tests.fuzz.targets import TARGETS

FINDINGS = Path(__file__).resolve().parents[1] / "fuzz" / "findings"


@pytest.mark.parametrize("path", sorted(FINDINGS.glob("*.bin")), ids=lambda p: p.stem)
def test_saved_finding_now_passes_its_target(path: Path, tmp_path: Path) -> None:
    """Every saved finding now reads as valid events or a one-line FormatError (see its ``.txt`` for the bug)."""
    TARGETS[path.name.split("-")[0]].check(path.read_bytes(), tmp_path)


@pytest.mark.parametrize("header", [b"% format EVT3;height=0;width=640\n% end\n",
                                    b"% format EVT21;height=480;width=66666666666666666640\n% end\n"])
def test_header_geometry_outside_sensor_range_is_a_format_error(header: bytes, tmp_path: Path) -> None:
    """A header sensor size of 0 pixels used to give events outside the stated sensor; 2^66 overflowed a kernel."""
    path = tmp_path / "a.raw"
    path.write_bytes(header + bytes(64))
    with pytest.raises(eio.FormatError, match=r"outside 1\.\.65536; pass width= and height="):
        eio.open(path)
    assert eio.open(path, width=640, height=480).read().dtype.names == ("t", "x", "y", "p")


def test_csv_zero_width_header_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("t,x@0,y@240,on\n1,5,6,1\n")
    with pytest.raises(eio.FormatError, match="sensor width 0 pixels stated by the file header"):
        eio.read(tmp_path / "a.csv")


def test_huge_raw_time_offset_is_a_format_error(tmp_path: Path) -> None:
    """``evstream_t_offset_us`` past int64 used to raise OverflowError while adding it to the times."""
    header = b"% format EVT3;height=240;width=320\n% evstream_t_offset_us 11111605537477165056\n% end\n"
    (tmp_path / "a.raw").write_bytes(header + np.array([0x8001, 0x0005, 0x2007], "<u2").tobytes())
    with pytest.raises(eio.FormatError, match="evstream_t_offset_us .* outside"):
        eio.open(tmp_path / "a.raw")


def test_aedat3_source_line_without_colon(tmp_path: Path) -> None:
    """A ``#Source 1`` header line without ``:`` used to raise IndexError."""
    (tmp_path / "a.aedat").write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1\r\n#!END-HEADER\r\n")
    rec = eio.open(tmp_path / "a.aedat", width=128, height=128)
    assert rec.metadata["sources"] == [""] and len(rec.read()) == 0


@pytest.mark.parametrize("suffix, head", [(".npy", b"\x93NUMPY\x01\x00\x20\x00{'descr': [('t', '<i8'\n" + b" " * 8),
                                          (".npz", b"PK\x03\x04" + bytes(40))])
def test_damaged_numpy_headers_are_format_errors(suffix: str, head: bytes, tmp_path: Path) -> None:
    """numpy's header parser raised tokenize.TokenError on a cut dtype description."""
    path = tmp_path / f"a{suffix}"
    path.write_bytes(head)
    with pytest.raises(eio.FormatError, match=f"not a readable \\{suffix} file"):
        eio.read(path)
