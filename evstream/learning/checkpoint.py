"""Model files written by the trainer, and the resumable training state beside them.

A model file is an :mod:`evstream.nn.checkpoint` file (weights, architecture,
binning), so graph nodes, the gesture app and ``evstream eval`` all read what
``evstream train`` writes; the trainer's facts (rule, epochs, dataset kind,
binning, classes, metrics) go in its ``training`` entry.

The training state (``<model>.state.pt``) adds the optimizer, LR schedule,
grad scaler, epoch and metrics so that ``evstream train --resume`` continues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evstream.nn import checkpoint
from evstream.nn.checkpoint import CheckpointError

__all__ = ["CheckpointError", "load_model", "load_state", "save_model", "save_state", "state_path"]

STATE_FORMAT = "evstream.training-state"


def state_path(model_path: str | Path) -> Path:
    """``<model>.state.pt``: the resumable training state of ``model_path``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".state.pt")


def save_model(net: nn.Module, path: str | Path, training: dict[str, Any] | None = None) -> None:
    """Write ``net`` (a zoo network) and the ``training`` facts as one :mod:`evstream.nn.checkpoint` file.

    The binning the network was trained with (``training["binning"]``) is
    stored where graph nodes and the gesture app read it.
    """
    training = dict(training or {})
    checkpoint.save(path, net, binning=training.get("binning"), class_names=training.get("class_names"),
                    training=training)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network saved in ``path``; returns ``(net, training facts)``."""
    saved = checkpoint.load(path, map_location=device)
    return saved.net, saved.training


def save_state(model_path: str | Path, net: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
               scaler: torch.amp.GradScaler | None, epoch: int, metrics: dict[str, Any]) -> None:
    """Write the resumable training state beside ``model_path``."""
    payload = {"format": STATE_FORMAT, "epoch": epoch, "model": net.state_dict(),
               "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
               "scaler": scaler.state_dict() if scaler is not None else None, "metrics": metrics,
               "rng": torch.get_rng_state()}
    path = state_path(model_path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_state(model_path: str | Path, net: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
               scaler: torch.amp.GradScaler | None) -> tuple[int, dict[str, Any]]:
    """Restore the state written by :func:`save_state`; returns ``(epochs done, metrics so far)``."""
    path = state_path(model_path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no training state to resume; drop --resume to start afresh")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not an evstream training state")
    net.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    if scaler is not None and payload["scaler"] is not None:
        scaler.load_state_dict(payload["scaler"])
    torch.set_rng_state(payload["rng"])
    return int(payload["epoch"]), payload["metrics"]
