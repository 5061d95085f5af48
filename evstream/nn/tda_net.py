"""TDA-SNN (mode B, spec §3.3): one TDA-LIF neuron per layer unrolled over N internal nodes.

One :meth:`TDASweep.step` call runs a full sweep of the ``N`` nodes for one
external frame; ``v`` and the spike history carry over to the next frame (one
long trajectory). Node ``t`` (1-indexed in the sweep) computes
``v_t = tau v_{t-1} (1 - s_{t-1}) + I_t + sum_{(d, q) in E(t)} theta[q] s_{t-d}``
and fires ``v_t >= v_th`` (ATan(2) surrogate). The edge sets come from:

* :func:`rc_edges`: RC-like, one weight per (target, delay), delays ``d < t``;
* :func:`mlp_edges`: MLP-like segments, node of ``S_k`` reads all of ``S_{k-1}``;
* :func:`conv_edges`: conv-like 1-D segments with a shared odd kernel.

:class:`TDANet` wraps a sweep with the prototype readout (§3.4) as a zoo network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from evstream.nn.base import MemoryModule
from evstream.nn.functional import tda_step
from evstream.nn.surrogate import ATan, Surrogate
from evstream.nn.network import SpikingNet

__all__ = ["Edges", "PrototypeReadout", "TDANet", "TDASweep", "conv_edges", "mlp_edges", "prototype_loss",
           "rc_edges", "segment_starts"]


class Edges(NamedTuple):
    """Autapse edges of one sweep: ``target``, ``delay``, ``weight`` index per edge (int lists).

    ``target`` is 1-indexed in the sweep; ``n_weights`` is the size of ``theta``.
    """

    target: list[int]
    delay: list[int]
    weight: list[int]
    n_weights: int


def rc_edges(n_nodes: int, delays: Sequence[int] | None = None) -> Edges:
    """RC-like: every node ``t`` reads ``s_{t-d}`` for each ``d`` in ``delays`` with ``d < t``.

    ``delays`` defaults to all of ``1..N-1``; each (target, delay) has its own weight.
    """
    delays = range(1, n_nodes) if delays is None else sorted(set(delays))
    tgt, dly = zip(*[(t, d) for t in range(1, n_nodes + 1) for d in delays if d < t]) or ((), ())
    return Edges(list(tgt), list(dly), list(range(len(tgt))), len(tgt))


def segment_starts(sizes: Sequence[int]) -> list[int]:
    """1-indexed first node ``b_k`` of each segment of ``sizes``."""
    starts, b = [], 1
    for n in sizes:
        starts.append(b)
        b += n
    return starts


def mlp_edges(sizes: Sequence[int]) -> Edges:
    """MLP-like: a node of segment ``S_k`` (k >= 2) reads every node of ``S_{k-1}``, own weight each."""
    starts = segment_starts(sizes)
    tgt, dly = [], []
    for k in range(1, len(sizes)):
        for t in range(starts[k], starts[k] + sizes[k]):
            for src in range(starts[k - 1], starts[k]):
                tgt.append(t)
                dly.append(t - src)
    return Edges(tgt, dly, list(range(len(tgt))), len(tgt))


def conv_edges(n: int, n_segments: int, kernel: int) -> Edges:
    """Conv-like 1-D: equal segments of ``n`` nodes, odd ``kernel``, 'same' padding, stride 1.

    Target ``j`` of ``S_k`` reads source ``i = j + m - p`` of ``S_{k-1}`` (if inside)
    with delay ``n + p - m`` and the weight ``(k, m)`` shared over ``j``
    (cross-correlation, as ``torch.nn.functional.conv1d``).
    """
    if kernel % 2 == 0:
        raise ValueError(f"conv_edges: kernel must be odd (got {kernel})")
    p = (kernel - 1) // 2
    tgt, dly, wid = [], [], []
    for k in range(1, n_segments):
        for j in range(n):
            for m in range(kernel):
                if 0 <= j + m - p < n:
                    tgt.append(k * n + j + 1)
                    dly.append(n + p - m)
                    wid.append((k - 1) * kernel + m)
    return Edges(tgt, dly, wid, (n_segments - 1) * kernel)


class TDASweep(MemoryModule):
    """One TDA-LIF neuron unrolled over ``n_nodes`` internal nodes per external frame.

    Args:
        in_features: size of the flattened external input per frame.
        n_nodes: ``N`` internal nodes per sweep.
        edges: autapse edges (:func:`rc_edges`, :func:`mlp_edges`, :func:`conv_edges`).
        input_nodes: how many leading nodes the input map ``W`` feeds (RC: ``N``;
            MLP/conv: the first segment).
        output_nodes: 0-based node indices whose spikes are the output ``(B, n_out)``.
        tau: leak (0.5, fixed); v_threshold: 1.0.
    State: ``v_prev`` ``(B,)`` and ``history``, the last ``max(delay)`` node spikes.
    """

    def __init__(self, in_features: int, n_nodes: int, edges: Edges, input_nodes: int,
                 output_nodes: Sequence[int], tau: float = 0.5, v_threshold: float = 1.0,
                 surrogate: Surrogate | None = None) -> None:
        super().__init__("s")
        self.n_nodes = n_nodes
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.surrogate = surrogate if surrogate is not None else ATan()
        self.input = nn.Linear(in_features, input_nodes, bias=False)
        self.output_nodes = list(output_nodes)
        per_target: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
        for t, d, q in zip(edges.target, edges.delay, edges.weight):
            per_target[t - 1].append((d, q))
        self.per_target = per_target
        self.d_max = max(edges.delay, default=1)
        fan_in = torch.zeros(edges.n_weights)
        for t, q in zip(edges.target, edges.weight):
            fan_in[q] = max(fan_in[q].item(), len(per_target[t - 1]))
        bound = 1.0 / torch.sqrt(fan_in.clamp(min=1))
        self.theta = nn.Parameter((torch.rand(edges.n_weights) * 2 - 1) * bound)
        self.register_memory("v_prev")
        self.register_memory("history")

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if self.check_shape(x):
            self.v_prev = x.new_zeros(x.shape[0])
            self.history = []
        current = self.input(x.flatten(1))
        hist = list(self.history)
        carried = len(hist)
        v = self.v_prev
        zero = x.new_zeros(x.shape[0])
        for t in range(self.n_nodes):
            autapse = zero
            for d, q in self.per_target[t]:
                idx = carried + t - d
                if idx >= 0:
                    autapse = autapse + self.theta[q] * hist[idx]
            i_t = current[:, t] if t < current.shape[1] else zero
            s_prev = hist[-1] if hist else zero
            s, v = tda_step(i_t, v, s_prev, autapse, self.surrogate, self.tau, self.v_threshold)
            hist.append(s)
        self.v_prev = v
        self.history = hist[-self.d_max:]
        return torch.stack([hist[carried + j] for j in self.output_nodes], dim=1)


class PrototypeReadout(nn.Module):
    """Binary class prototypes ``K = H(P)`` (straight-through) and logits ``-||o - k_i||^2``.

    ``P`` ``(classes, n_out)`` latent reals, U(-1, 1). One prototype row per class
    is compared with each frame's output spikes ``o`` ``(B, n_out)``.
    """

    def __init__(self, n_out: int, n_classes: int) -> None:
        super().__init__()
        self.latent = nn.Parameter(torch.rand(n_classes, n_out) * 2 - 1)

    def prototypes(self) -> torch.Tensor:
        hard = (self.latent >= 0).to(self.latent.dtype)
        return self.latent + (hard - self.latent).detach()

    def forward(self, o: torch.Tensor) -> torch.Tensor:
        return -((o[:, None, :] - self.prototypes()[None]) ** 2).sum(-1)


def prototype_loss(logits: torch.Tensor, target: torch.Tensor, lam: float = 1e-3) -> torch.Tensor:
    """``CE(softmax(z), y) + lam * ||o - k_y||^2`` with ``z_i = -||o - k_i||^2`` (spec §3.4)."""
    return nn.functional.cross_entropy(logits, target) - lam * logits.gather(1, target[:, None]).mean()


class TDANet(SpikingNet):
    """Zoo network of one TDA sweep plus the prototype readout.

    Args:
        in_shape: ``(C, H, W)`` input geometry (flattened into the input map).
        family: ``"rc"`` (``nodes``, optional ``delays``), ``"mlp"`` (segment ``sizes``)
            or ``"conv"`` (``n`` per segment, ``segments``, ``kernel``).
        n_classes: prototype classes.
    """

    def __init__(self, in_shape: tuple[int, int, int], family: str, n_classes: int, nodes: int = 256,
                 delays: list[int] | None = None, sizes: list[int] | None = None, n: int = 64,
                 segments: int = 2, kernel: int = 3, tau: float = 0.5) -> None:
        super().__init__()
        self.config = {"arch": "tda", "in_shape": list(in_shape), "family": family, "n_classes": n_classes,
                       "nodes": nodes, "delays": delays, "sizes": sizes, "n": n, "segments": segments,
                       "kernel": kernel, "tau": tau}
        in_features = math.prod(in_shape)
        if family == "rc":
            edges, n_nodes, n_in, out = rc_edges(nodes, delays), nodes, nodes, list(range(nodes))
        elif family == "mlp":
            sizes = sizes or [192, 64]
            n_nodes = sum(sizes)
            edges, n_in, out = mlp_edges(sizes), sizes[0], list(range(n_nodes - sizes[-1], n_nodes))
        elif family == "conv":
            n_nodes = n * segments
            edges, n_in, out = conv_edges(n, segments, kernel), n, list(range(n_nodes - n, n_nodes))
        else:
            raise ValueError(f"unknown TDA family {family!r} (known: rc, mlp, conv)")
        self.sweep = TDASweep(in_features, n_nodes, edges, n_in, out, tau=tau)
        self.readout = PrototypeReadout(len(out), n_classes)

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        return self.readout(self.sweep.step(frame))
