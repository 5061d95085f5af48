"""The app's classifier: the network stepping once per binned frame, a smoothed label with confidence.

:class:`GestureNet` runs a checkpoint's network on the Numba streaming program
(``numba``, batch 1, CPU) or on torch (``torch`` on the CPU, ``cuda``), one
``(C, H, W)`` frame per step, and exposes the spikes of one layer for the
viewer's raster. :class:`HorizonVote` turns two staggered copies of it into a
label with confidence.
:class:`ClassifyNode` is the graph node: frames in, :class:`GestureLabels` out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evstream.errors import UserError
from evstream.graph.node import Transform
from evstream.packets import FramePacket, LabelPacket

from apps.gesture.latency import ArrivalLog

__all__ = ["BACKENDS", "ClassifyNode", "GestureLabels", "GestureNet", "HorizonVote"]

BACKENDS: tuple[str, ...] = ("numba", "torch", "cuda")
"""Where the network runs: the Numba program (CPU), torch on the CPU, torch on the GPU."""


class GestureLabels(LabelPacket):
    """Labels of ``N`` frames plus, per frame, when its events entered (``arrival_ns``,
    ``perf_counter_ns``, -1 if unknown) and the spikes of the viewed layer (``spikes``
    uint8 ``(N, neurons)``, or ``None``)."""

    __slots__ = ("arrival_ns", "spikes")

    def __init__(self, label: np.ndarray, confidence: np.ndarray, t_start: np.ndarray, t_end: np.ndarray,
                 seq: int, names: tuple[str, ...] | None, arrival_ns: np.ndarray,
                 spikes: np.ndarray | None) -> None:
        super().__init__(label, confidence, t_start, t_end, seq, names)
        self.arrival_ns = arrival_ns
        self.spikes = spikes


class GestureNet:
    """A checkpoint's network stepped one frame at a time on ``backend`` (see :data:`BACKENDS`).

    ``raster_layer`` picks the conv cell whose spikes :meth:`spikes` returns
    (flattened ``C*H*W`` uint8, channel-major).
    """

    def __init__(self, path: str, backend: str = "numba", raster_layer: int = 0) -> None:
        import torch

        from evstream.nn.checkpoint import load

        if backend not in BACKENDS:
            raise UserError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if backend == "cuda" and not torch.cuda.is_available():
            raise UserError("--backend cuda: no CUDA GPU is available; use --backend numba or torch")
        self.ckpt = load(path, map_location="cuda" if backend == "cuda" else "cpu")
        net = self.ckpt.net
        n_layers = len(getattr(net, "cells", ()))
        if not 0 <= raster_layer < max(1, n_layers):
            raise UserError(f"--layer {raster_layer}: the network has {n_layers} spiking layers (0..{n_layers - 1})")
        self.backend = backend
        self.raster_layer = raster_layer
        self._torch = torch
        self._device = torch.device("cuda" if backend == "cuda" else "cpu")
        self._last_spikes: Any = None
        if backend == "numba":
            from evstream.nn.backends.numba import NumbaProgram

            try:
                self._program = NumbaProgram.from_torch(net)
            except ValueError as exc:
                raise UserError(f"{path}: {exc}; use --backend torch") from exc
        else:
            self._program = None
            self._probe(net.cells[raster_layer].neuron) if n_layers else None

    def _probe(self, neuron: Any) -> None:
        """Keep the output of ``neuron.step`` (the raster layer's spikes) at every step."""
        step = neuron.step

        def recording_step(x: Any) -> Any:
            self._last_spikes = out = step(x)
            return out

        neuron.step = recording_step

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` frames the network takes."""
        return self.ckpt.in_shape

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.ckpt.class_names)

    def reset(self) -> None:
        if self._program is not None:
            self._program.reset()
        else:
            self.ckpt.net.reset()

    def step(self, frame: np.ndarray) -> np.ndarray:
        """One step on a ``(C, H, W)`` frame of event counts; returns the logits ``(classes,)`` float32."""
        if self._program is not None:
            return self._program.step(frame)
        with self._torch.no_grad():
            x = self._torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32)).to(self._device)[None]
            return self.ckpt.net.step(x)[0].float().cpu().numpy()

    def spikes(self) -> np.ndarray:
        """Spikes of the raster layer at the last step, flattened ``(C*H*W,)`` uint8."""
        if self._program is not None:
            return self._program.spikes(self.raster_layer).reshape(-1)
        if self._last_spikes is None:
            return np.zeros(0, np.uint8)
        return (self._last_spikes[0] > 0).to(self._torch.uint8).cpu().numpy().reshape(-1)


class HorizonVote:
    """Labels from two copies of the network, each reset every ``horizon`` steps, staggered by half.

    The network was trained on sequences of ``horizon`` frames from a reset state,
    its decision being the mean of the logits over the sequence. Streaming, the
    copy that has run longer since its reset (``horizon / 2`` to ``horizon`` steps)
    decides: softmax of its mean logits since the reset gives ``(label, confidence)``.
    """

    def __init__(self, nets: list[GestureNet], horizon: int) -> None:
        if horizon < 2:
            raise UserError(f"--horizon {horizon}: at least 2 frames")
        if len(nets) != 2:
            raise ValueError("HorizonVote takes two copies of the network")
        self.nets = nets
        self.horizon = horizon
        n_classes = len(nets[0].class_names) or 1
        self._sums = np.zeros((2, n_classes), np.float64)
        self.reset()

    def reset(self) -> None:
        for net in self.nets:
            net.reset()
        self._sums[:] = 0.0
        self._ages = [0, 0]  # steps since each copy's reset
        self._k = 0  # steps since the vote's reset

    def add(self, frame: np.ndarray) -> tuple[int, float]:
        for i, net in enumerate(self.nets):
            # copy 0 resets at steps H, 2H, ...; copy 1 at H/2, H/2 + H, ...
            if self._k > 0 and (self._k + i * (self.horizon // 2)) % self.horizon == 0:
                net.reset()
                self._sums[i] = 0.0
                self._ages[i] = 0
            self._sums[i] += net.step(frame)
            self._ages[i] += 1
        self._k += 1
        i = 0 if self._ages[0] >= self._ages[1] else 1
        mean = self._sums[i] / self._ages[i]
        p = np.exp(mean - mean.max())
        p /= p.sum()
        label = int(np.argmax(p))
        return label, float(p[label])


class ClassifyNode(Transform):
    """Frames ``(N, C, H, W)`` in, one smoothed label per frame out (:class:`GestureLabels`).

    ``log`` (an :class:`~apps.gesture.latency.ArrivalLog`) gives each label the
    arrival time of the events that closed its frame; ``raster`` adds the
    viewed layer's spikes to every packet.
    """

    type_name = "gesture.classify"
    input_kind = "frames"
    output_kind = "labels"

    def __init__(self, name: str, nets: list[GestureNet], horizon: int, log: ArrivalLog | None = None,
                 raster: bool = False) -> None:
        super().__init__(name)
        self.net = nets[0]
        self.vote = HorizonVote(nets, horizon)
        self.log = log
        self.raster = raster
        self.steps = 0

    def reset(self) -> None:
        self.vote.reset()

    def process(self, packet: FramePacket, port: str) -> list[GestureLabels]:
        data = packet.data.cpu().numpy() if hasattr(packet.data, "cpu") else np.asarray(packet.data)
        if data.ndim != 4 or tuple(data.shape[1:]) != self.net.in_shape:
            raise UserError(f"frames of shape {tuple(data.shape[1:])} but the model expects {self.net.in_shape} "
                            "(C, H, W); bin with the model's window and downsampling")
        n = len(data)
        labels = np.zeros(n, np.int64)
        confidence = np.zeros(n, np.float32)
        arrival = np.full(n, -1, np.int64)
        spikes = []
        for i, frame in enumerate(data):
            labels[i], confidence[i] = self.vote.add(frame)
            if self.raster:
                spikes.append(self.net.spikes())
            if self.log is not None:
                arrival[i] = self.log.arrival_of(int(packet.t_end[i])) or -1
        self.steps += n
        return [GestureLabels(labels, confidence, packet.t_start, packet.t_end, packet.seq,
                              self.net.class_names or None, arrival, np.stack(spikes) if spikes else None)]

    def stats_extra(self) -> dict[str, Any]:
        return {"steps": self.steps, "backend": self.net.backend}
