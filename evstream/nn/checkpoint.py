"""One-file checkpoints: weights + architecture + neuron type + geometry + binning.

A checkpoint is a ``torch.save`` file of plain containers (no pickled
classes), loaded with ``torch.load(weights_only=True)``, so opening one runs
no code. Keys: ``format`` (``"evstream.nn"``), ``version`` (1), ``config``
(what :func:`evstream.nn.zoo.build` needs: architecture, neuron kind and its
hyperparameters, input geometry ``(C, H, W)``), ``state_dict``, ``binning``
(the frame settings the network was trained with, e.g. ``{"window_us": 10000}``),
``class_names`` and ``training`` (facts written by the trainer: rule, epochs,
dataset, metrics; empty for a network saved by hand). Files are written
atomically (a temporary file renamed into place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from evstream.errors import UserError
from evstream.nn.network import SpikingNet
from evstream.nn.zoo import build

__all__ = ["Checkpoint", "CheckpointError", "load", "save"]

FORMAT = "evstream.nn"
VERSION = 1


class CheckpointError(UserError):
    """A checkpoint file is missing, unreadable or not an evstream network."""


@dataclass
class Checkpoint:
    """A loaded network with the settings saved beside it."""

    net: SpikingNet
    binning: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """Input geometry ``(C, H, W)``: polarities, pixels."""
        return self.net.in_shape


def save(path: str | Path, net: SpikingNet, binning: dict[str, Any] | None = None,
         class_names: list[str] | None = None, training: dict[str, Any] | None = None) -> Path:
    """Write ``net`` (weights and ``net.config``) with its binning settings to ``path``."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "config": dict(net.config),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               "binning": dict(binning or {}), "class_names": list(class_names or []),
               "training": dict(training or {})}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the network saved at ``path`` (in eval mode, state reset)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; save one with evstream.nn.checkpoint.save")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}); "
                              "re-save it with evstream.nn.checkpoint.save") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an evstream network checkpoint (no format {FORMAT!r})")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported "
                              f"(this evstream reads version {VERSION})")
    try:
        net = build(payload["config"])
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: checkpoint does not match its architecture ({exc})".split("\n")[0]) from exc
    net.eval()
    net.reset()
    return Checkpoint(net.to(map_location), payload["binning"], payload["class_names"], payload.get("training", {}))
