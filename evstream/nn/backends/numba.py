"""Numba streaming program: batch-1 inference compiled from a trained zoo network.

:meth:`NumbaProgram.from_torch` exports the weights of a
:class:`evstream.nn.zoo.ConvStackNet` (LIF, PLIF, STC-LIF or STC-PLIF cells)
into plain arrays; :meth:`NumbaProgram.step` then runs one time step on a
``(C, H, W)`` frame without torch:

* the first conv is event-driven: only non-zero input pixels are convolved;
* spikes travel as index lists: max pooling, the next layer's conv, the STC
  circuits (grouped convs of the previous spikes) and the readout scatter
  only from neurons that fired;
* GroupNorm statistics and buffer clearing cost only the touched pixels; the
  one dense pass per layer is the membrane update itself.

The numbers match the torch network (float32, tested to 1e-5 relative on the
membranes, spikes identical away from the threshold). Kernels:
:mod:`evstream.nn.backends._numba_kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from evstream.nn.backends import _numba_kernels as K
from evstream.nn.cells import ConvCell
from evstream.nn.neurons import LIF, STCNeuron

__all__ = ["NumbaProgram"]

_F32 = np.float32


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy()


def _scatter_weights(w: torch.Tensor) -> np.ndarray:
    """``(C_out, C_in, k, k)`` torch conv weight -> ``(C_in, k, k, C_out)`` scatter layout."""
    return np.ascontiguousarray(_np(w).transpose(1, 2, 3, 0))


def _circuit_weights(w_h: torch.Tensor, w_v: torch.Tensor, groups: int) -> np.ndarray:
    """Grouped ``(C, C/g, k, k)`` weights of both circuits -> ``(C, k, k, 2 C/g)`` scatter rows.

    Row ``c`` holds what input channel ``c`` adds to its group's beta inputs,
    then to its gamma inputs (layout of ``scatter_circuits``).
    """
    c, cg, k, _ = w_h.shape
    rows = [_np(w).reshape(groups, cg, cg, k, k).transpose(0, 2, 3, 4, 1).reshape(c, k, k, cg)
            for w in (w_h, w_v)]  # (group, out j, in i, ky, kx) -> (group * in i, ky, kx, out j)
    return np.ascontiguousarray(np.concatenate(rows, axis=3))


def _interleave(h: np.ndarray, g: np.ndarray, groups: int) -> np.ndarray:
    """Per-channel ``(C,)`` values of both circuits in ``hg``'s layout ``(2 C,)``."""
    return np.stack([h.reshape(groups, -1), g.reshape(groups, -1)], axis=1).reshape(-1)


@dataclass
class _Layer:
    """Weights, state and scratch of one conv cell (channels-last ``(P, C)`` arrays)."""

    channels: int
    height: int
    width: int
    groups: int
    wt: np.ndarray
    gn_x: np.ndarray  # (2, C): weight, bias of the input GN
    gn_hg: np.ndarray  # (2, 2C): weight, bias of both circuit GNs in hg's layout
    eps: float
    mode: int
    av: np.float32
    ax: np.float32
    k: np.float32
    v_th: np.float32
    soft: bool
    w_hg: np.ndarray
    v: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        p, c = self.height * self.width, self.channels
        self.v = np.zeros((p, c), _F32)
        self.cbuf = np.zeros((p, c), _F32)
        self.hg = np.zeros((p, 2 * c), _F32)
        self.touched = np.zeros(p, np.uint8)
        self.tlist = np.zeros(p, np.int32)
        self.aff_x = np.zeros((2, c), _F32)
        self.aff_hg = np.zeros((2, 2 * c), _F32)
        self.const = np.zeros((2, c), _F32)
        self.spikes = np.zeros(p * c, np.int32)
        self.prev = np.zeros(p * c, np.int32)
        self.n_prev = 0
        ph, pw = self.height // 2, self.width // 2
        self.seen = np.zeros(ph * pw * c, np.uint8)
        self.pooled = np.zeros(ph * pw * c, np.int32)

    @property
    def circuits(self) -> bool:
        return self.mode == K.STC

    def reset(self) -> None:
        self.v[:] = 0.0
        self.n_prev = 0

    def dense_track(self, n_inputs: int) -> bool:
        """Track touched pixels per write when ``n_inputs`` spikes reach fewer writes than pixels."""
        k = self.wt.shape[1]
        return n_inputs * k * k < self.height * self.width

    def update(self, nt: int) -> int:
        """Circuits, GN and the membrane update after the input conv touched ``nt`` pixels."""
        n_pix = self.height * self.width
        K.group_norm_affine(self.cbuf, self.tlist, nt, n_pix, self.groups, self.gn_x[0], self.gn_x[1],
                            self.eps, self.aff_x[0], self.aff_x[1])
        if self.circuits:
            track = self.dense_track(self.n_prev)
            nt = nt if track else K.touch_all(self.touched, self.tlist, nt)
            nt = K.scatter_circuits(self.prev, self.n_prev, self.height, self.width, self.w_hg, self.hg,
                                    self.touched, self.tlist, nt, track)
            K.group_norm_affine(self.hg, self.tlist, nt, n_pix, 2 * self.groups, self.gn_hg[0],
                                self.gn_hg[1], self.eps, self.aff_hg[0], self.aff_hg[1])
        n = K.neuron_update(self.v, self.cbuf, self.hg, self.touched, self.tlist, nt, self.aff_x,
                            self.aff_hg, self.const, self.channels // self.groups, self.mode, self.av,
                            self.ax, self.k, self.v_th, self.soft, self.spikes)
        self.spikes, self.prev, self.n_prev = self.prev, self.spikes, n
        return n

    def pool(self) -> int:
        """2x2 max pool of this step's spikes into :attr:`pooled`; returns the count."""
        return K.max_pool_spikes(self.prev, self.n_prev, self.channels, self.width, self.height // 2,
                                 self.width // 2, self.seen, self.pooled)


def _neuron_constants(neuron: torch.nn.Module) -> tuple[int, float, float, float, bool]:
    """``(mode, av, ax, k, soft)`` of a supported neuron layer."""
    if isinstance(neuron, STCNeuron):
        a = neuron.leak()
        if a is None:
            return K.STC, 1.0, 1.0, 0.0, True
        a = float(a.detach())
        return K.STC, a, 1.0 - a, 0.0, True
    if isinstance(neuron, LIF):
        if neuron.v_reset != 0.0:
            raise ValueError("the Numba program supports LIF with v_reset = 0 only")
        mode = K.LIF_DECAY_INPUT if neuron.decay_input else K.LIF_PLAIN_INPUT
        return mode, 1.0, 1.0, float(torch.as_tensor(neuron.k()).detach()), neuron.reset_mode == "soft"
    raise ValueError(f"the Numba program does not support {type(neuron).__name__} layers "
                     "(supported: LIF, PLIF, STC-LIF, STC-PLIF)")


def _export_cell(cell: ConvCell, height: int, width: int) -> _Layer:
    neuron = cell.neuron
    mode, av, ax, k, soft = _neuron_constants(neuron)
    c = cell.conv.out_channels
    groups = cell.norm.num_groups
    gn_x = np.stack([_np(cell.norm.weight), _np(cell.norm.bias)])
    w_hg = np.zeros((1, 1, 1, 1), _F32)
    gn_hg = np.zeros((2, 2 * c), _F32)
    if isinstance(neuron, STCNeuron):
        conv_h, gn_h = neuron.branch_h
        conv_v, gn_v = neuron.branch_v
        if not (gn_h.num_groups == gn_v.num_groups == conv_h.groups == conv_v.groups == groups
                and gn_h.eps == gn_v.eps == cell.norm.eps):
            raise ValueError("the Numba program needs the same groups and eps in the cell GN and both circuits")
        w_hg = _circuit_weights(conv_h.weight, conv_v.weight, groups)
        gn_hg = np.stack([_interleave(_np(gn_h.weight), _np(gn_v.weight), groups),
                          _interleave(_np(gn_h.bias), _np(gn_v.bias), groups)])
    return _Layer(c, height, width, groups, _scatter_weights(cell.conv.weight), gn_x, gn_hg,
                  float(cell.norm.eps), mode, _F32(av), _F32(ax), _F32(k), _F32(neuron.v_threshold), soft,
                  w_hg)


class NumbaProgram:
    """Batch-1 streaming inference of a :class:`~evstream.nn.zoo.ConvStackNet`; state kept between steps.

    ``step(frame)`` takes ``(C, H, W)`` (or ``(1, C, H, W)``) event counts and
    returns the logits ``(classes,)`` float32; ``reset()`` clears the state.
    """

    def __init__(self, in_shape: tuple[int, int, int], layers: list[_Layer], head_pool: int,
                 fc_weight: np.ndarray, fc_bias: np.ndarray) -> None:
        self.in_shape = in_shape
        self.layers = layers
        self.head_pool = head_pool
        self.fc_wt = np.ascontiguousarray(fc_weight.T)
        self.fc_bias = fc_bias
        last = layers[-1]
        self._head_hw = (last.height // 2 // head_pool, last.width // 2 // head_pool)
        self.logits = np.zeros(fc_bias.shape[0], _F32)

    @classmethod
    def from_torch(cls, net: torch.nn.Module) -> NumbaProgram:
        """Export a zoo ``ConvStackNet`` (its current weights) into a new program."""
        config = getattr(net, "config", {})
        if config.get("arch") != "conv-stack":
            raise ValueError("the Numba program runs conv-stack networks (zoo 'dvsgesture', 'nmnist')")
        _, h, w = config["in_shape"]
        layers = []
        for cell in net.cells:
            layers.append(_export_cell(cell, h, w))
            h, w = h // 2, w // 2
        return cls(tuple(config["in_shape"]), layers, config["head_pool"], _np(net.fc.weight), _np(net.fc.bias))

    def reset(self) -> None:
        """Clear the state of every layer (a new stream)."""
        for layer in self.layers:
            layer.reset()

    def step(self, frame: np.ndarray) -> np.ndarray:
        """One time step on ``(C, H, W)`` event counts; returns a copy of the logits ``(classes,)``."""
        frame = np.asarray(frame, dtype=_F32)
        if frame.ndim == 4 and frame.shape[0] == 1:
            frame = frame[0]
        if frame.shape != self.in_shape:
            raise ValueError(f"NumbaProgram: frame of shape {frame.shape}, expected {self.in_shape} (C, H, W)")
        first = self.layers[0]
        nt = K.scatter_frame(np.ascontiguousarray(frame), first.wt, first.cbuf, first.width, first.touched,
                             first.tlist, 0)
        first.update(nt)
        below = first
        for layer in self.layers[1:]:
            n = below.pool()
            track = layer.dense_track(n)
            nt = 0 if track else K.touch_all(layer.touched, layer.tlist, 0)
            nt = K.scatter_spikes(below.pooled, n, below.channels, layer.height, layer.width, layer.wt,
                                  layer.cbuf, layer.touched, layer.tlist, nt, track)
            layer.update(nt)
            below = layer
        n = below.pool()
        self.logits[:] = self.fc_bias
        K.readout(below.pooled, n, below.channels, below.width // 2, self.head_pool, self._head_hw[0],
                  self._head_hw[1], self.fc_wt, self.logits)
        return self.logits.copy()

    # -- state access (tests, diagnostics) -------------------------------------------
    def membrane(self, layer: int) -> np.ndarray:
        """Post-reset membrane of ``layer`` as ``(C, H, W)`` (a copy)."""
        lay = self.layers[layer]
        return lay.v.reshape(lay.height, lay.width, lay.channels).transpose(2, 0, 1).copy()

    def spikes(self, layer: int) -> np.ndarray:
        """Spikes of ``layer`` at the last step as a ``(C, H, W)`` uint8 map."""
        lay = self.layers[layer]
        out = np.zeros(lay.height * lay.width * lay.channels, np.uint8)
        out[lay.prev[:lay.n_prev]] = 1
        return out.reshape(lay.height, lay.width, lay.channels).transpose(2, 0, 1)

    def set_state(self, layer: int, v: np.ndarray, spikes: np.ndarray) -> None:
        """Overwrite ``layer``'s membrane and previous spikes from ``(C, H, W)`` maps."""
        lay = self.layers[layer]
        lay.v[:] = np.asarray(v, _F32).transpose(1, 2, 0).reshape(lay.v.shape)
        flat = np.flatnonzero(np.asarray(spikes).transpose(1, 2, 0).reshape(-1)).astype(np.int32)
        lay.prev[:flat.size] = flat
        lay.n_prev = flat.size
