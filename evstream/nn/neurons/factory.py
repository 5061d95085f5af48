"""Build a neuron layer by kind name (used by the zoo and by checkpoints)."""

from __future__ import annotations

from typing import Any

from evstream.nn.base import MemoryModule
from evstream.nn.neurons.lif import LIF, PLIF
from evstream.nn.neurons.stc import STCNeuron, stc_conv_branch, stc_linear_branch
from evstream.nn.neurons.tda import TDALIF

__all__ = ["NEURON_KINDS", "make_neuron"]

NEURON_KINDS: tuple[str, ...] = ("lif", "plif", "stc-lif", "stc-plif", "tda-lif")
"""Neuron kinds: SJ LIF / PLIF, STC-LIF / STC-PLIF (with circuits), TDA-LIF (mode A)."""


def make_neuron(kind: str, features: int, conv: bool, kernel: int = 5, groups: int = 16,
                **options: Any) -> MemoryModule:
    """A new neuron layer of ``kind`` for ``features`` channels (``conv``) or features (FC).

    ``kernel`` and ``groups`` size the STC circuits; ``options`` go to the layer
    (e.g. ``tau``, ``reset``, ``gradient_detach``, ``delays``, ``fused``).
    """
    if kind == "lif":
        return LIF(**options)
    if kind == "plif":
        return PLIF(**options)
    if kind in ("stc-lif", "stc-plif"):
        if conv:
            bh, bv = stc_conv_branch(features, kernel, groups), stc_conv_branch(features, kernel, groups)
        else:
            bh, bv = stc_linear_branch(features, groups), stc_linear_branch(features, groups)
        return STCNeuron(bh, bv, plif=kind == "stc-plif", **options)
    if kind == "tda-lif":
        return TDALIF(features, **options)
    raise ValueError(f"unknown neuron kind {kind!r} (known: {', '.join(NEURON_KINDS)})")
