"""A tiny end-to-end training run on real N-MNIST samples: CLI, checkpoints, resume, eval."""

from __future__ import annotations

import json

import pytest
import torch

from evstream.cli.main import main
from evstream.learning.checkpoint import load_model, state_path
from evstream.nn import checkpoint as nn_checkpoint
from evstream.learning.networks import STLLRCell, current_rule, use_rule
from evstream.learning.trainer import lr_factor, shift_batch
from evstream.nn.zoo import build


@pytest.mark.parametrize("rule, feedback", [("bptt", "bp"), ("stllr", "dfa")])
def test_train_resume_and_eval_on_real_samples(rule, feedback, nmnist_train_dir, tmp_path, capsys):
    out = tmp_path / f"{rule}.pt"
    common = ["train", "nmnist", "--data", str(nmnist_train_dir), "--model", "nmnist-mlp", "--rule", rule,
              "--feedback", feedback,
              "--out", str(out), "--limit", "40", "--steps", "4", "--batch-size", "10", "--window", "2",
              "--cache", str(tmp_path / "cache"), "--device", "cpu", "--json", "--label-smoothing", "0.1"]
    assert main(common + ["--epochs", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["epochs"] == 1 and first["val_samples"] == 8
    assert main(common + ["--epochs", "2", "--resume"]) == 0
    summary = json.loads(capsys.readouterr().out)
    metrics = json.loads(out.with_name(out.name + ".metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["config"]["label_smoothing"] == 0.1
    assert out.with_name(out.name + ".png").stat().st_size > 1000 and state_path(out).exists()
    net, facts = load_model(out)
    assert facts["rule"] == rule and facts["binning"]["steps"] == 4 and facts["epochs"] == 2
    assert not any(isinstance(m, STLLRCell) for m in net.modules())
    saved = nn_checkpoint.load(out)     # the same file serves graph nodes and the gesture app
    assert saved.binning["window_us"] == facts["binning"]["window_us"] and saved.training["rule"] == rule
    assert main(["eval", "--model", str(out), "--data", str(nmnist_train_dir), "--json",
                 "--cache", str(tmp_path / "cache")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 8 and result["split"] == "val"
    assert result["accuracy"] == pytest.approx(summary["val_accuracy"])


def test_training_reduces_the_loss_on_real_samples(nmnist_train_dir, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["train", "nmnist", "--data", str(nmnist_train_dir), "--model", "nmnist-mlp", "--out", str(out),
                 "--limit", "60", "--steps", "8", "--epochs", "4", "--batch-size", "15", "--shift", "0",
                 "--no-cache", "--json", "--device", "cpu"]) == 0
    epochs = json.loads(out.with_name(out.name + ".metrics.json").read_text())["epochs"]
    assert epochs[-1]["train_loss"] < 0.8 * epochs[0]["train_loss"]


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path / "none.pt"), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "none.pt" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["eval", "--model", str(tmp_path / "junk.pt"), "--data", str(tmp_path)]) == 2
    assert "junk.pt: not a readable checkpoint" in capsys.readouterr().err
    assert main(["train", "nmnist", "--data", str(tmp_path / "nope"), "--model", "nmnist-mlp",
                 "--out", str(tmp_path / "x.pt"), "--no-cache"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_label_smoothing_out_of_range_is_a_user_error(nmnist_train_dir, tmp_path, capsys):
    assert main(["train", "nmnist", "--data", str(nmnist_train_dir), "--model", "nmnist-mlp", "--limit", "10",
                 "--steps", "2", "--out", str(tmp_path / "x.pt"), "--no-cache", "--label-smoothing", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "--label-smoothing 1.5: must be in [0, 1)" in err and len(err.strip().splitlines()) == 1


def test_use_rule_wraps_and_unwraps_cells_sharing_parameters():
    net = build("mlp", features=[32], in_shape=[2, 4, 4])
    before = {id(p) for p in net.parameters()}
    use_rule(net, "stllr")
    assert current_rule(net) == "stllr" and isinstance(net.cells[0], STLLRCell)
    assert {id(p) for p in net.parameters()} == before
    use_rule(net, "bptt")
    assert current_rule(net) == "bptt" and not isinstance(net.cells[0], STLLRCell)


def test_schedule_warms_up_then_decays_to_min():
    factors = [lr_factor(i, 100, 10, 0.01) for i in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert lr_factor(100, 100, 10, 0.01) == pytest.approx(0.01)


def test_shift_batch_moves_whole_samples():
    x = torch.zeros(3, 2, 1, 8, 8)
    x[:, :, 0, 4, 4] = 1
    shifted = shift_batch(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    for sample in shifted:
        assert sample.sum() == 2 and torch.equal(sample[0], sample[1])  # same offset for every frame
