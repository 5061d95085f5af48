"""What can be trained: dataset kinds, learning rules and named model setups (no torch import).

``evstream train --model NAME`` picks a setup: a zoo architecture of
:mod:`evstream.nn.zoo`, overrides of its shape, and the default binning (bin
width, steps, downsampling) of the data it is meant for. The neuron kind is
chosen separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["DATASETS", "MODELS", "ModelSpec", "RULES", "build_model"]

DATASETS: tuple[str, ...] = ("nmnist", "dvsgesture", "recordings")
"""Dataset kinds (see :mod:`evstream.learning.datasets`)."""

RULES: tuple[str, ...] = ("bptt", "stllr")
"""Learning rules: backprop through time, or S-TLLR (:mod:`evstream.learning.stllr`)."""


@dataclass(frozen=True)
class ModelSpec:
    """A zoo architecture with overrides and default binning (``window_us`` µs, ``steps``, ``downsample``)."""

    arch: str
    overrides: dict[str, Any] = field(default_factory=dict)
    window_us: int = 20_000
    steps: int = 16
    downsample: int = 1
    doc: str = ""


MODELS: dict[str, ModelSpec] = {
    "nmnist-mlp": ModelSpec("mlp", {"features": [256]}, 20_000, 16, 2,
                            "flatten 2x17x17 -> 256 neurons -> 10; N-MNIST at half resolution, 16 x 20 ms"),
    "nmnist-mlp-li": ModelSpec("mlp", {"features": [256], "readout_leak": 0.9}, 20_000, 16, 2,
                               "nmnist-mlp with a leaky-integrator readout (leak 0.9 per step): the logits "
                               "accumulate the evidence of past steps"),
    "nmnist-conv": ModelSpec("nmnist", {"channels": [32, 32], "kernel": 5, "head_pool": 1}, 20_000, 16, 2,
                             "2 x [conv5 32 -> neuron -> maxpool2] -> linear; N-MNIST at 17x17, 16 x 20 ms"),
    "nmnist": ModelSpec("nmnist", {}, 10_000, 31, 1, "the zoo's N-MNIST conv net at 34x34, 31 x 10 ms"),
    "mlp": ModelSpec("mlp", {}, 10_000, 31, 1, "the zoo's 2 x 256 MLP at 34x34, 31 x 10 ms"),
    "dvsgesture": ModelSpec("dvsgesture", {}, 75_000, 20, 1, "the STC-LIF paper's DVS Gesture net, 128x128"),
}
"""Training setups by name."""


def build_model(name: str, neuron: str, in_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    """A fresh network for setup ``name`` with ``neuron`` layers for ``(C, H, W)`` frames."""
    from evstream.nn.zoo import build

    spec = MODELS[name]
    return build(spec.arch, neuron=neuron, in_shape=list(in_shape), n_classes=n_classes, **spec.overrides)
