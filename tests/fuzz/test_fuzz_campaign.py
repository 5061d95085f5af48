"""The fuzz campaign itself: seeds are valid, mutations change them, failures become shrunk findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzz import campaign
from tests.fuzz.mutations import apply
from tests.fuzz.targets import TARGETS, Target, join_frames, split_frames


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_has_seeds_that_pass(name: str, tmp_path: Path) -> None:
    seeds = campaign.seeds_of(name)
    assert seeds
    for seed in seeds:
        TARGETS[name].check(seed, tmp_path)


def test_mutations() -> None:
    seed = b"% format EVT3;height=240;width=320\n" + bytes(range(40))
    assert apply(seed, [("byte", 0, 0x41)])[:1] == b"A"
    assert apply(seed, [("number", 1, b"0")]).startswith(b"% format EVT3;height=0;width")
    assert len(apply(seed, [("repeat", 3, 2, 100)])) == len(seed) + 200
    assert apply(seed, [("truncate", 10)]) == seed[:10]
    assert apply(seed, [("int", 2, -1, 4, "<")])[2:6] == b"\xff" * 4


def test_wire_frames_round_trip() -> None:
    frames = [b"head\0{}", b"", b"\x01\x02"]
    assert split_frames(join_frames(frames)) == frames


def test_wire_seeds_decode_as_messages() -> None:
    """The wire seeds follow the current format (a rejected seed would only fuzz the version check)."""
    from evstream.transport.wire import decode

    kinds = [decode(split_frames(seed), 1 << 20).kind for seed in campaign.seeds_of("wire")]
    assert kinds == ["events", "frames", "tensor", "labels", "eos"]


def test_a_failing_input_becomes_a_shrunk_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that fails on inputs holding byte 0xEE is reported once, with Hypothesis's shrunk input."""
    monkeypatch.setattr(campaign, "CORPUS", tmp_path / "corpus")
    (tmp_path / "corpus" / "toy").mkdir(parents=True)
    (tmp_path / "corpus" / "toy" / "seed.bin").write_bytes(bytes(range(0, 200, 3)))

    def check(data: bytes, workdir: Path) -> None:
        if b"\xee" in data:
            raise KeyError("found 0xEE")

    result = campaign.fuzz(Target("toy", check), 60, tmp_path, tmp_path / "findings", max_cases=3000)
    assert result["cases"] > 0 and len(result["findings"]) == 1
    finding = result["findings"][0]
    assert finding["kind"] == "error" and finding["what"].startswith("KeyError")
    data = Path(finding["input"]).read_bytes()
    assert b"\xee" in data and len(data) <= 68  # shrunk to the 67-byte seed with one byte set or inserted
    assert "found 0xEE" in Path(finding["input"]).with_suffix(".txt").read_text()


@pytest.mark.slow
def test_campaign_command_runs_a_target(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = tmp_path / "log.jsonl"
    assert campaign.main(["--minutes", "0.1", "--targets", "csv", "--findings", str(tmp_path),
                          "--log", str(log)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["target"] == "csv" and result["cases"] > 50 and result["findings"] == []
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["target"] == "csv" and entry["minutes"] == 0.1 and entry["cases"] == result["cases"]
    assert entry["findings"] == [] and entry["commit"] != "unknown"


def test_unknown_target_is_refused(capsys: pytest.CaptureFixture) -> None:
    assert campaign.main(["--targets", "nope"]) == 2
    assert "unknown fuzz target" in capsys.readouterr().err
