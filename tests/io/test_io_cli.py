"""``evstream info``, ``convert`` and ``play`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evstream.cli.main import main
from tests.conftest import RECORDINGS, _manifest

GOOD = [f for f in _manifest().get("files", []) if f.get("oracle")]
INFO_KEYS = {"event_count": "events", "t_first_us": "t_first", "t_last_us": "t_last",
             "on_count": "on_events", "sum_x": "sum_x", "sum_y": "sum_y"}


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("entry", GOOD, ids=[f["path"] for f in GOOD])
def test_info_json_matches_manifest(capsys: pytest.CaptureFixture, entry: dict) -> None:
    code, out, _ = _run(capsys, "info", str(RECORDINGS / entry["path"]), "--json", "--no-progress")
    assert code == 0
    facts = json.loads(out)
    assert {v: facts[v] for v in INFO_KEYS.values()} == {v: entry["oracle"][k] for k, v in INFO_KEYS.items()}
    assert facts["format"] == entry["format"]
    if entry["width"]:
        assert (facts["width"], facts["height"]) == (entry["width"], entry["height"])
    assert facts["duration_us"] == facts["t_last"] - facts["t_first"]


def test_info_text_lists_aedat4_streams(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "info", str(RECORDINGS / "aedat4/dvxplorer-tonic-sample.aedat4"), "--no-progress")
    assert code == 0
    assert "events     111954" in out and "IMUS" in out and "TRIG" in out


@pytest.mark.parametrize("name", sorted(p.name for p in (RECORDINGS / "bad").iterdir()))
def test_info_on_bad_files_never_crashes(capsys: pytest.CaptureFixture, name: str) -> None:
    code, out, err = _run(capsys, "info", str(RECORDINGS / "bad" / name), "--json", "--no-progress")
    if code == 0:
        assert json.loads(out)["events"] >= 0
    else:
        assert code == 2 and out == ""
        errors = [ln for ln in err.splitlines() if ": error: " in ln]
        assert len(errors) == 1 and name in errors[0] and "Traceback" not in err


def test_info_missing_file_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "info", str(tmp_path / "missing.raw"))
    assert code == 2 and err.strip() == f"evstream info: error: {tmp_path / 'missing.raw'}: no such file"
