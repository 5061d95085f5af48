"""Graph nodes of the network room: ``nn.network`` (logits) and ``nn.classifier`` (labels).

Both take frames ``(N, C, H, W)`` (event counts) and run one network step per
frame, keeping the network state across packets until :meth:`reset` (the
graph calls it on a discontinuity). The network comes from a checkpoint file
(:mod:`evstream.nn.checkpoint`) and runs on the torch backend (``cpu`` or
``cuda``) or the Numba streaming program (batch-1, CPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evstream.errors import UserError
from evstream.graph.node import Param, Transform
from evstream.graph.registry import register
from evstream.packets import FramePacket, LabelPacket, TensorPacket

__all__ = ["ClassifierNode", "NetworkNode"]


class _Runner(Transform):
    """Shared part: load the checkpoint, check frame geometry, step per frame."""

    input_kind = "frames"
    params = {
        "checkpoint": Param(str, doc="path of a network checkpoint (evstream.nn.checkpoint.save)"),
        "backend": Param(str, "torch", doc="torch (device below) or numba (batch-1 CPU program)",
                         choices=("torch", "numba")),
        "device": Param(str, "cpu", doc="torch device: cpu, cuda, cuda:1"),
    }

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self._program: Any = None
        self._torch: Any = None
        self.steps = 0

    def start(self) -> None:
        import torch

        from evstream.nn.checkpoint import load

        if self.backend == "numba" and self.device != "cpu":
            raise UserError(f"node {self.name!r}: backend 'numba' runs on the CPU; set device = 'cpu'")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"node {self.name!r}: device {self.device!r} requested but no CUDA GPU is "
                            "available; set device = 'cpu'")
        self._torch = torch
        self.ckpt = load(self.checkpoint, map_location=self.device)
        if self.backend == "numba":
            from evstream.nn.backends.numba import NumbaProgram

            try:
                self._program = NumbaProgram.from_torch(self.ckpt.net)
            except ValueError as exc:
                raise UserError(f"node {self.name!r}: {exc}; use backend = 'torch'") from exc

    def reset(self) -> None:
        if self._program is not None:
            self._program.reset()
        elif self._torch is not None:
            self.ckpt.net.reset()

    def _logits(self, packet: FramePacket) -> np.ndarray:
        if self._torch is None:
            self.start()
        data = np.asarray(packet.data.cpu() if hasattr(packet.data, "cpu") else packet.data, dtype=np.float32)
        want = self.ckpt.in_shape
        if data.ndim != 4 or tuple(data.shape[1:]) != want:
            raise UserError(f"node {self.name!r}: frames of shape {tuple(data.shape[1:])} but the checkpoint "
                            f"{self.checkpoint} expects {want} (C, H, W); bin at the network's geometry")
        out = []
        for frame in data:
            if self._program is not None:
                out.append(self._program.step(frame))
            else:
                with self._torch.no_grad():
                    x = self._torch.from_numpy(frame).to(self.device)[None]
                    out.append(self.ckpt.net.step(x)[0].cpu().numpy())
        self.steps += len(out)
        n_classes = self.ckpt.net.config["n_classes"]
        return np.stack(out) if out else np.zeros((0, n_classes), np.float32)

    def stats_extra(self) -> dict[str, Any]:
        return {"steps": self.steps}


@register
class NetworkNode(_Runner):
    """Run a spiking network one step per frame; emits the logits ``(N, classes)``."""

    type_name = "nn.network"
    output_kind = "tensor"

    def process(self, packet: FramePacket, port: str) -> list[TensorPacket]:
        logits = self._logits(packet)
        return [TensorPacket(logits, packet.t_start, packet.t_end, packet.seq)]


@register
class ClassifierNode(_Runner):
    """Run a spiking network one step per frame; emits the class of the running mean of the logits."""

    type_name = "nn.classifier"
    output_kind = "labels"
    params = {**_Runner.params,
              "average": Param(int, 0, doc="average the logits over this many last steps (0: since reset)")}

    def __init__(self, name: str, **values: Any) -> None:
        super().__init__(name, **values)
        self._history: list[np.ndarray] = []

    def reset(self) -> None:
        super().reset()
        self._history = []

    def process(self, packet: FramePacket, port: str) -> list[LabelPacket]:
        logits = self._logits(packet)
        labels, confidence = [], []
        for row in logits:
            self._history.append(row)
            if self.average > 0:
                self._history = self._history[-self.average:]
            mean = np.mean(self._history, axis=0)
            p = np.exp(mean - mean.max())
            p /= p.sum()
            labels.append(int(np.argmax(p)))
            confidence.append(float(p.max()))
        names = tuple(self.ckpt.class_names) or None
        return [LabelPacket(np.array(labels, np.int64), np.array(confidence, np.float32), packet.t_start,
                            packet.t_end, packet.seq, names)]
