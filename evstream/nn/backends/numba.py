"""Numba streaming program: batch-1 inference compiled from a trained zoo network.

:meth:`NumbaProgram.from_torch` exports the weights of a
:class:`evstream.nn.zoo.ConvStackNet` (LIF, PLIF, STC-LIF or STC-PLIF cells)
into plain arrays; :meth:`NumbaProgram.step` then runs one time step on a
``(C, H, W)`` frame without torch:

* the first conv is event-driven: only non-zero input pixels are convolved;
* spikes travel as uint8 maps ``(P, C)``; every conv of a binary map (the
  next layer's conv after max pooling, the STC circuits' grouped convs of the
  previous spikes) is a :class:`BinaryConv`: a sparse scatter through pattern
  tables (one table row per non-zero 4-channel chunk) while the map is
  sparse; above a measured density, the circuits of 64-channel layers gather
  the same tables per output pixel (eight outputs in one SIMD register) and
  other convs run torch's dense channels-last conv;
* GroupNorm statistics and buffer clearing cost only the touched pixels; the
  membrane update is one vectorised pass per layer (GN affine, both circuits'
  tanh, charge, fire, reset).

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


def _chunk_width(n: int, widest: int) -> int:
    """The widest chunk ``<= widest`` channels that divides ``n``."""
    return next(w for w in range(widest, 0, -1) if n % w == 0)


def _interleave(h: np.ndarray, g: np.ndarray, groups: int) -> np.ndarray:
    """Per-channel ``(C,)`` values of both circuits in the circuit buffer's layout ``(2 C,)``."""
    return np.stack([h.reshape(groups, -1), g.reshape(groups, -1)], axis=1).reshape(-1)


@dataclass
class BinaryConv:
    """A stride-1 'same' conv of a binary ``(P, C_in)`` map: sparse pattern tables or dense conv.

    ``weight`` is the torch conv weight ``(C_out, C_in / groups, k, k)``. Below
    ``dense_above`` spike density, or on maps of fewer than ``dense_min_inputs``
    values (where torch's per-call cost dominates), the conv runs as a sparse scatter through
    pattern tables of ``w``-channel chunks (``w`` the widest divisor of
    ``C_in / groups`` up to ``widest``): :func:`~evstream.nn.backends._numba_kernels.scatter_patterns`.
    Above it, a grouped conv with one 4-channel chunk and 8 outputs per group (the STC
    circuits of 64 channels) reads the same tables output-stationary
    (:func:`~evstream.nn.backends._numba_kernels.gather_groups`); any other dense input costs
    less through torch's channels-last conv
    (oneDNN, one thread like the rest of the step: with more, a busy machine
    stalls the pool's threads, e.g. 1.2 -> 90 ms p50 per step of the shipped
    gesture model at load 11 on 2 cores). Both add to ``out`` ``(P, C_out)``.
    """

    weight: torch.Tensor
    groups: int
    dense_above: float
    widest: int = 4
    dense_min_inputs: int = 0
    table: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        c_out, unit, k, _ = self.weight.shape
        c_in, length = unit * self.groups, c_out // self.groups
        self.width = w = _chunk_width(unit, self.widest)
        # rows[ci, tap, :]: what input channel ci adds at a tap to the outputs of its group
        rows = _np(self.weight).reshape(self.groups, length, unit, k * k).transpose(0, 2, 3, 1)
        bits = (np.arange(2 ** w)[:, None] >> np.arange(w)) & 1  # (pattern, bit)
        chunked = rows.astype(np.float64).reshape(c_in // w, w, k * k, length)
        table = np.einsum("pb,ibtl->tipl", bits, chunked).reshape(k * k, -1, length)
        self.table = np.ascontiguousarray(table, dtype=_F32)
        first = np.arange(c_in) // unit * length  # first output channel of each input channel's group
        self.offsets = np.repeat(first[::w].astype(np.int64), 2 ** w)  # per code i * 2**w + pattern
        self.dense_weight = self.weight.detach().to(torch.float32).contiguous(memory_format=torch.channels_last)
        # one 4-channel chunk and 8 outputs per group (the STC circuits of 64 channels): dense through gather_groups
        gatherable = w == unit == 4 and length == 8 and self.groups % 4 == 0
        self.gather_table = (np.ascontiguousarray(self.table.reshape(k * k, self.groups, 16, 8).transpose(1, 0, 2, 3))
                             if gatherable else None)
        self.padded_codes = np.zeros((0, 0), np.uint8)
        self.active = self.starts = self.codes = np.zeros(0, np.int32)
        self.x = np.zeros((0, c_in), _F32)
        self.dense = False

    @classmethod
    def circuits(cls, w_h: torch.Tensor, w_v: torch.Tensor, groups: int) -> BinaryConv:
        """Both grouped STC circuit convs ``(C, C/g, k, k)`` as one grouped conv into ``(P, 2 C)``, in
        :func:`~evstream.nn.backends._numba_kernels.neuron_update`'s layout: group ``g``
        owns ``[2 g C/g, 2 (g + 1) C/g)``, its beta inputs then its gamma inputs."""
        c, cg, k, _ = w_h.shape
        both = torch.cat([w_h.reshape(groups, cg, cg, k, k), w_v.reshape(groups, cg, cg, k, k)], dim=1)
        conv = cls(both.reshape(2 * c, cg, k, k), groups, CIRCUITS_DENSE_ABOVE, dense_min_inputs=DENSE_MIN_INPUTS)
        if conv.gather_table is not None:
            conv.dense_above, conv.dense_min_inputs = CIRCUITS_GATHER_ABOVE, 0
        return conv

    def scatter(self, bits: np.ndarray, n_spikes: int, height: int, width: int, out: np.ndarray,
                touched: np.ndarray, tlist: np.ndarray, nt: int) -> int:
        """Add the conv of ``bits`` (``(height * width, C_in)`` uint8, ``n_spikes`` ones) to ``out``;
        returns the new touched count (tracking per pixel when the input is sparse)."""
        k = self.weight.shape[-1]
        if self.active.shape[0] != bits.shape[0]:  # scratch sized on the first step
            self.active = np.zeros(bits.shape[0], np.int32)
            self.starts = np.zeros(bits.shape[0] + 1, np.int32)
            self.codes = np.zeros(bits.size, np.int32)
            self.x = np.zeros(bits.shape, _F32)
            if self.gather_table is not None:  # its border stays 0
                self.padded_codes = np.zeros(((height + k - 1) * (width + k - 1), self.groups), np.uint8)
        self.dense = bits.size >= self.dense_min_inputs and n_spikes > self.dense_above * bits.size
        if self.dense and self.gather_table is not None:
            K.pattern_codes(bits, height, width, k // 2, self.width, self.padded_codes)
            K.gather_groups(self.padded_codes, height, width, k, self.gather_table, out)
            return K.touch_all(touched, tlist, nt)
        if self.dense:
            np.copyto(self.x, bits)
            x = torch.from_numpy(self.x).view(1, height, width, -1).permute(0, 3, 1, 2)  # channels-last view
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # a batch-1 step is single-threaded: pool threads stall on a busy machine
            try:
                y = torch.nn.functional.conv2d(x, self.dense_weight, padding=k // 2,
                                               groups=self.groups)
            finally:
                torch.set_num_threads(threads)
            out += y.permute(0, 2, 3, 1).reshape(out.shape).numpy()
            return K.touch_all(touched, tlist, nt)
        n_active = K.chunk_patterns(bits, self.width, self.active, self.starts, self.codes)
        track = n_active * self.table.shape[0] < height * width
        nt = nt if track else K.touch_all(touched, tlist, nt)
        return K.scatter_patterns(self.active, n_active, self.starts, self.codes, height, width, self.table,
                                  self.offsets, out, touched, tlist, nt, track)


CONV_DENSE_ABOVE = 0.14
"""Spike density above which a binary conv runs dense: between the measured crossovers of the
pattern-table scatter and torch's conv (1 thread), 64 -> 64 channels, 5x5, 32x32 and 64x64 maps,
on two 2-core machines: 0.2 on the older one, 0.09 on an AVX-512 Xeon (2026-12-02), whose oneDNN
convs are relatively faster."""
CIRCUITS_GATHER_ABOVE = 0.03
"""Spike density above which the STC circuits of 64-channel layers (one 4-channel chunk and 8 outputs
per group) run through :func:`~evstream.nn.backends._numba_kernels.gather_groups` instead of the
sparse scatter: crossovers 0.02-0.03 on random maps of 32x32, 64x64 and 128x128 (2-core AMD EPYC,
2026-12-03); the gather ran 1.8-3x faster than torch's grouped conv at every size."""
CIRCUITS_DENSE_ABOVE = 0.09
"""The same for the grouped STC circuit convs that the gather does not take (torch's grouped conv
above it), measured when every circuit ran through torch (16 groups, 4 -> 8 channels each): crossovers 0.06
and 0.11 (random maps at 64x64 and 128x128; on real spike maps of the 128x128 layer the scatter
still won at 0.08, 6.0-6.7 vs 8.5 ms)."""
DENSE_MIN_INPUTS = 32 * 32 * 64
"""Smallest map (pixels x channels) that may run dense: on the shipped gesture model's 32x32x16
and 16x16x16 maps the sparse path is faster at any rate (0.9 vs 1.2-1.6 ms p50 per step)."""


@dataclass
class _Layer:
    """Weights, state and scratch of one conv cell (channels-last ``(P, C)`` arrays)."""

    channels: int
    height: int
    width: int
    groups: int
    conv: BinaryConv | np.ndarray  # binary input: pattern tables; first layer: (C_in, k, k, C)
    gn_x: np.ndarray  # (2, C): weight, bias of the input GN
    gn_h: np.ndarray  # (2, 2C): weight, bias of both circuit GNs in hbuf's layout
    eps: float
    mode: int
    av: np.float32
    ax: np.float32
    k: np.float32
    v_th: np.float32
    soft: bool
    circuit_conv: BinaryConv | None
    v: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        p, c = self.height * self.width, self.channels
        self.v = np.zeros((p, c), _F32)
        self.cbuf = np.zeros((p, c), _F32)
        self.hbuf = np.zeros((p, 2 * c), _F32)
        self.touched = np.zeros(p, np.uint8)
        self.tlist = np.zeros(p, np.int32)
        self.aff_x = np.zeros((2, c), _F32)
        self.aff_h = np.zeros((2, 2 * c), _F32)
        self.sums = np.zeros((2, 2 * c))
        self.th = np.zeros((3, 2 * c), _F32)
        self.bits = np.zeros((p, c), np.uint8)
        self.n_spikes = 0
        self.pooled = np.zeros((self.height // 2 * (self.width // 2), c), np.uint8)

    def reset(self) -> None:
        self.v[:] = 0.0
        self.bits[:] = 0
        self.n_spikes = 0

    def update(self, nt: int) -> int:
        """Circuits, GN and the membrane update after the input conv touched ``nt`` pixels."""
        n_pix = self.height * self.width
        K.group_norm_affine(self.cbuf, self.tlist, nt, n_pix, self.groups, self.gn_x[0], self.gn_x[1],
                            self.eps, self.sums, self.aff_x[0], self.aff_x[1])
        if self.circuit_conv is not None:
            nt = self.circuit_conv.scatter(self.bits, self.n_spikes, self.height, self.width, self.hbuf,
                                           self.touched, self.tlist, nt)
            K.group_norm_affine(self.hbuf, self.tlist, nt, n_pix, 2 * self.groups, self.gn_h[0],
                                self.gn_h[1], self.eps, self.sums, self.aff_h[0], self.aff_h[1])
        self.n_spikes = K.neuron_update(self.v, self.cbuf, self.hbuf, self.touched, self.tlist, nt,
                                        self.aff_x, self.aff_h, self.groups, self.mode, self.av, self.ax,
                                        self.k, self.v_th, self.soft, self.th, self.bits)
        return self.n_spikes

    def pool(self) -> int:
        """2x2 max pool of this step's spikes into :attr:`pooled`; returns its count."""
        return K.max_pool_map(self.bits, self.height, self.width, self.pooled)


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


def _export_cell(cell: ConvCell, height: int, width: int, first: bool) -> _Layer:
    neuron = cell.neuron
    mode, av, ax, k, soft = _neuron_constants(neuron)
    c = cell.conv.out_channels
    groups = cell.norm.num_groups
    gn_x = np.stack([_np(cell.norm.weight), _np(cell.norm.bias)])
    circuit_conv = None
    gn_h = np.zeros((2, 2 * c), _F32)
    if isinstance(neuron, STCNeuron):
        conv_h, gn_hn = neuron.branch_h
        conv_v, gn_v = neuron.branch_v
        if not (gn_hn.num_groups == gn_v.num_groups == conv_h.groups == conv_v.groups == groups
                and gn_hn.eps == gn_v.eps == cell.norm.eps):
            raise ValueError("the Numba program needs the same groups and eps in the cell GN and both circuits")
        circuit_conv = BinaryConv.circuits(conv_h.weight, conv_v.weight, groups)
        gn_h = np.stack([_interleave(_np(gn_hn.weight), _np(gn_v.weight), groups),
                         _interleave(_np(gn_hn.bias), _np(gn_v.bias), groups)])
    conv = (_scatter_weights(cell.conv.weight) if first
            else BinaryConv(cell.conv.weight, 1, CONV_DENSE_ABOVE, dense_min_inputs=DENSE_MIN_INPUTS))
    return _Layer(c, height, width, groups, conv, gn_x, gn_h, float(cell.norm.eps), mode, _F32(av), _F32(ax),
                  _F32(k), _F32(neuron.v_threshold), soft, circuit_conv)


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
        for i, cell in enumerate(net.cells):
            layers.append(_export_cell(cell, h, w, first=i == 0))
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
        nt = K.scatter_frame(np.ascontiguousarray(frame), first.conv, first.cbuf, first.width, first.touched,
                             first.tlist, 0)
        first.update(nt)
        below = first
        for layer in self.layers[1:]:
            n = below.pool()
            nt = layer.conv.scatter(below.pooled, n, layer.height, layer.width, layer.cbuf, layer.touched,
                                    layer.tlist, 0)
            layer.update(nt)
            below = layer
        below.pool()
        self.logits[:] = self.fc_bias
        K.readout(below.pooled, below.width // 2, self.head_pool, self._head_hw[0], self._head_hw[1],
                  self.fc_wt, self.logits)
        return self.logits.copy()

    # -- state access (tests, diagnostics) -------------------------------------------
    def spike_rates(self) -> list[float]:
        """Fraction of each layer's neurons that fired at the last step."""
        return [layer.n_spikes / layer.v.size for layer in self.layers]

    def dense_convs(self) -> list[str]:
        """Which binary convs ran dense at the last step, per layer: ``"conv"``, ``"circuits"``, both or ``"-"``."""
        return ["+".join(name for name, conv in (("conv", layer.conv), ("circuits", layer.circuit_conv))
                         if isinstance(conv, BinaryConv) and conv.dense) or "-" for layer in self.layers]

    def membrane(self, layer: int) -> np.ndarray:
        """Post-reset membrane of ``layer`` as ``(C, H, W)`` (a copy)."""
        lay = self.layers[layer]
        return lay.v.reshape(lay.height, lay.width, lay.channels).transpose(2, 0, 1).copy()

    def spikes(self, layer: int) -> np.ndarray:
        """Spikes of ``layer`` at the last step as a ``(C, H, W)`` uint8 map."""
        lay = self.layers[layer]
        return lay.bits.reshape(lay.height, lay.width, lay.channels).transpose(2, 0, 1).copy()

    def set_state(self, layer: int, v: np.ndarray, spikes: np.ndarray) -> None:
        """Overwrite ``layer``'s membrane and previous spikes from ``(C, H, W)`` maps."""
        lay = self.layers[layer]
        lay.v[:] = np.asarray(v, _F32).transpose(1, 2, 0).reshape(lay.v.shape)
        lay.bits[:] = (np.asarray(spikes) != 0).transpose(1, 2, 0).reshape(lay.bits.shape)
        lay.n_spikes = int(lay.bits.sum())
