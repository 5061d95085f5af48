"""Model zoo: the papers' architectures as stateful networks.

Every network is a :class:`SpikingNet`: ``net.step(frame)`` runs one time step
on ``(N, C, H, W)`` frames (event counts per pixel and polarity) and returns
logits ``(N, classes)``; ``net(x_seq)`` runs ``(T, N, C, H, W)`` and returns
``(T, N, classes)``; ``net.reset()`` clears every layer's state. ``net.config``
holds what :func:`build` needs to rebuild it (saved in checkpoints).

Architectures (:data:`ARCHITECTURES`):

* ``dvsgesture``: 3 x [Conv5x5 -> GN16 -> neuron -> MaxPool2], channels
  [64, 64, 64], AvgPool2, Linear(64*8*8 -> 11) on (2, 128, 128) input
  (STC-LIF paper, App. A; spec §4.1).
* ``nmnist``: the same stack with [32, 32] channels on (2, 34, 34) -> 10 classes.
* ``mlp``: 2 x [Linear -> GN16 -> neuron] with [256, 256] features on flattened
  input, then Linear -> classes (the FC forms, e.g. STC-LIF FC or TDA-LIF mode A).
  ``readout_leak > 0`` makes the readout a non-spiking leaky integrator
  (:class:`Integrator`), whose logits accumulate the evidence of past steps.
* ``tda-mlp`` / ``tda-rc``: TDA-SNN (mode B) with 256 nodes, MLP-like segments
  [192, 64] or RC-like delays {1, 2, 4, ..., 128}, prototype readout
  (:mod:`evstream.nn.tda_net`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.cells import ConvCell, LinearCell
from evstream.nn.network import SpikingNet
from evstream.nn.tda_net import TDANet

__all__ = ["ARCHITECTURES", "ConvStackNet", "Integrator", "MLPNet", "build"]


class Integrator(MemoryModule):
    """Non-spiking leaky integrator: ``u[t] = leak * u[t-1] + I[t]``, returns ``u`` (``(N, classes)`` logits).

    ``leak`` 0 passes the current through. ``truncated`` (set while the network
    trains with S-TLLR) makes ``u[t-1]`` a constant, so a step's loss reaches
    only that step's current.
    """

    def __init__(self, leak: float) -> None:
        super().__init__()
        if not 0.0 <= leak < 1.0:
            raise ValueError(f"readout leak must be in [0, 1) (got {leak})")
        self.leak = leak
        self.truncated = False
        self.register_memory("u")

    def _step(self, current: torch.Tensor) -> torch.Tensor:
        if self.check_shape(current) or self.leak == 0.0:
            self.u = current
        else:
            self.u = self.leak * (self.u.detach() if self.truncated else self.u) + current
        return self.u


class ConvStackNet(SpikingNet):
    """``[ConvCell -> MaxPool2] x L -> AvgPool(head_pool) -> flatten -> Linear``.

    Args:
        in_shape: ``(C, H, W)`` input geometry (channels = polarities, pixels).
        channels: output channels per cell (each divisible by ``groups``).
        n_classes: logits per step.
        neuron: a kind of :data:`evstream.nn.neurons.NEURON_KINDS`.
        kernel: conv kernel (odd), also the STC circuit kernel.
        head_pool: average-pool window before the linear readout (1: none).
        neuron_options: passed to each neuron layer.
    """

    def __init__(self, in_shape: tuple[int, int, int], channels: list[int], n_classes: int,
                 neuron: str = "stc-lif", kernel: int = 5, groups: int = 16, head_pool: int = 2,
                 neuron_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        neuron_options = dict(neuron_options or {})
        self.config = {"arch": "conv-stack", "in_shape": list(in_shape), "channels": list(channels),
                       "n_classes": n_classes, "neuron": neuron, "kernel": kernel, "groups": groups,
                       "head_pool": head_pool, "neuron_options": copy.deepcopy(neuron_options)}
        c, h, w = in_shape
        cells = []
        for ch in channels:
            cells.append(ConvCell(c, ch, neuron, kernel, groups, **neuron_options))
            c, h, w = ch, h // 2, w // 2
        self.cells = nn.ModuleList(cells)
        self.head_pool = head_pool
        self.fc = nn.Linear(c * (h // head_pool) * (w // head_pool), n_classes)

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        x = frame
        for cell in self.cells:
            x = nn.functional.max_pool2d(cell.step(x), 2)
        if self.head_pool > 1:
            x = nn.functional.avg_pool2d(x, self.head_pool)
        return self.fc(x.flatten(1))


class MLPNet(SpikingNet):
    """``flatten -> [LinearCell] x L -> Linear -> Integrator``: FC forms of the neurons.

    ``readout_leak``: decay per step of the readout integrator (0: the logits
    of a step are the linear map of that step's spikes).
    """

    def __init__(self, in_shape: tuple[int, int, int], features: list[int], n_classes: int,
                 neuron: str = "stc-lif", groups: int = 16,
                 neuron_options: dict[str, Any] | None = None, readout_leak: float = 0.0) -> None:
        super().__init__()
        neuron_options = dict(neuron_options or {})
        self.config = {"arch": "mlp", "in_shape": list(in_shape), "features": list(features),
                       "n_classes": n_classes, "neuron": neuron, "groups": groups,
                       "neuron_options": copy.deepcopy(neuron_options), "readout_leak": readout_leak}
        n = in_shape[0] * in_shape[1] * in_shape[2]
        cells = []
        for f in features:
            cells.append(LinearCell(n, f, neuron, groups, **neuron_options))
            n = f
        self.cells = nn.ModuleList(cells)
        self.fc = nn.Linear(n, n_classes)
        self.integrator = Integrator(readout_leak)

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        x = frame.flatten(1)
        for cell in self.cells:
            x = cell.step(x)
        return self.integrator.step(self.fc(x))


_CLASSES: dict[str, type[SpikingNet]] = {"conv-stack": ConvStackNet, "mlp": MLPNet, "tda": TDANet}

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "dvsgesture": {"arch": "conv-stack", "in_shape": [2, 128, 128], "channels": [64, 64, 64],
                   "n_classes": 11, "kernel": 5, "head_pool": 2},
    "nmnist": {"arch": "conv-stack", "in_shape": [2, 34, 34], "channels": [32, 32],
               "n_classes": 10, "kernel": 5, "head_pool": 1},
    "mlp": {"arch": "mlp", "in_shape": [2, 34, 34], "features": [256, 256], "n_classes": 10},
    "tda-mlp": {"arch": "tda", "in_shape": [2, 34, 34], "family": "mlp", "sizes": [192, 64],
                "n_classes": 10},
    "tda-rc": {"arch": "tda", "in_shape": [2, 34, 34], "family": "rc", "nodes": 256,
               "delays": [1, 2, 4, 8, 16, 32, 64, 128], "n_classes": 10},
}
"""Named architectures: keyword arguments of their class, ``arch`` naming the class."""


def build(name_or_config: str | dict[str, Any], **overrides: Any) -> SpikingNet:
    """A new network from a zoo name (``"dvsgesture"``) or a saved ``config``, with overrides.

    >>> net = build("nmnist", neuron="stc-plif")
    """
    if isinstance(name_or_config, str):
        if name_or_config not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {name_or_config!r} (known: {', '.join(ARCHITECTURES)})")
        config = dict(ARCHITECTURES[name_or_config])
    else:
        config = dict(name_or_config)
    config.update(overrides)
    cls = _CLASSES[config.pop("arch")]
    return cls(**config)
