"""Data-parallel training in 2 gloo processes: gradient averaging, one checkpoint, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evstream.cli.main import main
from evstream.learning.checkpoint import load_model, state_path
from evstream.learning.distributed import World, spawn
from tests.learning.distributed_workers import full_batch_gradients, shard_gradients


@pytest.mark.parametrize("rule", ["bptt", "stllr"])
def test_two_processes_average_to_the_full_batch_gradient(rule):
    """Each rank sees half the batch; after DDP (BPTT) or the all-reduce (S-TLLR) its gradient is the full batch's."""
    averaged = spawn(shard_gradients, 2, rule)
    reference = full_batch_gradients(rule)
    assert len(averaged) == len(reference)
    assert any(float(g.abs().max()) > 1e-6 for g in reference)
    for got, want in zip(averaged, reference):
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_one_process_world_changes_nothing():
    world = World()
    grads = [torch.ones(3)]
    params = [torch.nn.Parameter(torch.zeros(3))]
    params[0].grad = grads[0]
    world.average_gradients(params)
    assert torch.equal(params[0].grad, torch.ones(3))
    assert world.sum([1.0, 2.0]) == [1.0, 2.0] and world.shard(3) == [0, 1, 2]
    assert World(1, 3).shard(7) == [1, 4]


@pytest.mark.parametrize("rule", ["bptt", "stllr"])
def test_two_process_run_writes_one_checkpoint_and_resumes(rule, nmnist_train_dir, tmp_path, capsys):
    out = tmp_path / "ddp.pt"
    common = ["train", "nmnist", "--data", str(nmnist_train_dir), "--model", "nmnist-mlp", "--rule", rule,
              "--out", str(out), "--limit", "40", "--steps", "4", "--batch-size", "10", "--window", "2",
              "--cache", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1", "--nproc", "2", "--json"]
    assert main(common + ["--epochs", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["processes"] == 2 and first["epochs"] == 1 and first["val_samples"] == 8
    written = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert written == ["ddp.pt", "ddp.pt.metrics.json", "ddp.pt.png", "ddp.pt.state.pt"]
    assert main(common + ["--epochs", "2", "--resume"]) == 0
    summary = json.loads(capsys.readouterr().out)
    metrics = json.loads(out.with_name(out.name + ".metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["processes"] == 2
    assert all(e["val_samples"] == 8 for e in metrics["epochs"])   # validation shards summed over the ranks
    net, facts = load_model(out)
    assert facts["epochs"] == 2 and facts["rule"] == rule and state_path(out).exists()
    assert main(["eval", "--model", str(out), "--data", str(nmnist_train_dir), "--json",
                 "--cache", str(tmp_path / "cache"), "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 8 and result["accuracy"] == pytest.approx(summary["val_accuracy"])


def test_nproc_must_divide_the_batch(nmnist_train_dir, tmp_path, capsys):
    assert main(["train", "nmnist", "--data", str(nmnist_train_dir), "--model", "nmnist-mlp", "--out",
                 str(tmp_path / "m.pt"), "--batch-size", "10", "--nproc", "3"]) == 2
    err = capsys.readouterr().err
    assert "--nproc 3" in err and len(err.strip().splitlines()) == 1


def test_torchrun_launch_trains_and_reports_once(nmnist_train_dir, tmp_path):
    """``torchrun --nproc-per-node 2 -m evstream train``: the processes join torchrun's group, process 0 reports."""
    out = tmp_path / "tr.pt"
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run(
        [str(torchrun), "--nproc-per-node", "2", "-m", "evstream", "train", "nmnist", "--data", str(nmnist_train_dir),
         "--model", "nmnist-mlp-li", "--out", str(out), "--limit", "40", "--steps", "4", "--batch-size", "10",
         "--epochs", "1", "--cache", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)            # one JSON document: only process 0 printed
    assert summary["processes"] == 2 and summary["val_samples"] == 8
    assert load_model(out)[1]["epochs"] == 1
