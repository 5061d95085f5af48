"""Model checkpoints written by the trainer, and the resumable training state beside them.

A model file (``torch.save`` of plain containers, loaded with ``weights_only``)::

    {"format": "evstream.model", "version": 1,
     "config": net.config,          # rebuilds the network with evstream.nn.zoo.build
     "state_dict": {...},           # weights
     "training": {...}}             # rule, epochs, dataset kind, binning, classes

The training state (``<model>.state.pt``) adds the optimizer, LR schedule,
grad scaler, epoch and metrics so that ``evstream train --resume`` continues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evstream.errors import UserError

__all__ = ["CheckpointError", "load_model", "load_state", "save_model", "save_state", "state_path"]

FORMAT = "evstream.model"
VERSION = 1


class CheckpointError(UserError, ValueError):
    """A model or training-state file is missing, not an evstream checkpoint, or of another version."""


def state_path(model_path: str | Path) -> Path:
    """``<model>.state.pt``: the resumable training state of ``model_path``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".state.pt")


def save_model(net: nn.Module, path: str | Path, training: dict[str, Any] | None = None) -> None:
    """Write ``net`` (a zoo network with ``config``) and ``training`` facts to ``path`` atomically."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "config": dict(net.config),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               "training": dict(training or {})}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file; train one with `evstream train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"{path}: not an evstream model checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an evstream model checkpoint (no {FORMAT!r} header)")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported "
                              f"(this evstream reads version {VERSION})")
    return payload


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network saved in ``path``; returns ``(net, training facts)``."""
    from evstream.nn.zoo import build

    payload = _read(Path(path))
    net = build(payload["config"])
    net.load_state_dict(payload["state_dict"])
    return net.to(device), payload["training"]


def save_state(model_path: str | Path, net: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
               scaler: torch.amp.GradScaler | None, epoch: int, metrics: dict[str, Any]) -> None:
    """Write the resumable training state beside ``model_path``."""
    payload = {"format": FORMAT + ".state", "epoch": epoch, "model": net.state_dict(),
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
    if payload.get("format") != FORMAT + ".state":
        raise CheckpointError(f"{path}: not an evstream training state")
    net.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    if scaler is not None and payload["scaler"] is not None:
        scaler.load_state_dict(payload["scaler"])
    torch.set_rng_state(payload["rng"])
    return int(payload["epoch"]), payload["metrics"]
