"""Graph nodes of the learning room: online S-TLLR learning while streaming, and label files.

* ``learning.stllr`` (:class:`OnlineSTLLR`): frames + labels in, predictions out.
  Each frame is one network step; frames covered by a label are learned from
  at once (S-TLLR, per-step loss, the learning signal of that step only), the
  others only run forward (their activity still enters the traces). The state
  (neurons, traces) persists across packets and is cleared when a new labelled
  segment starts; memory does not grow with the stream.
* ``learning.labels`` (:class:`LabelFile`): emits the rows of a
  ``class,start_us,end_us`` label CSV (DVS Gesture's ``*_labels.csv``) as one
  label packet, so a labelled replay is ``io`` replay + binning + this source.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from evstream.errors import UserError
from evstream.graph.node import Param, Source, Transform
from evstream.graph.registry import register
from evstream.packets import FramePacket, LabelPacket

__all__ = ["LabelFile", "OnlineSTLLR"]


@register
class LabelFile(Source):
    """Label rows of a ``class,start_us,end_us`` CSV as one :class:`LabelPacket` (class - ``first_class``)."""

    type_name = "learning.labels"
    output_kind = "labels"
    params = {
        "path": Param(str, doc="label CSV (class,start_us,end_us rows; a header line is skipped)"),
        "first_class": Param(int, 1, doc="number of the first class in the file (becomes label 0)"),
    }

    def generate(self) -> Iterator[LabelPacket]:
        from evstream.learning.datasets import _read_label_csv

        path = Path(self.path)
        if not path.is_file():
            raise UserError(f"node {self.name!r}: label file {path} does not exist")
        rows = np.array(_read_label_csv(path, self.first_class), dtype=np.int64).reshape(-1, 3)
        yield LabelPacket(rows[:, 0], np.ones(len(rows), np.float32), rows[:, 1], rows[:, 2])


@register
class OnlineSTLLR(Transform):
    """Online S-TLLR learning on a frame stream with a label stream; outputs per-frame predictions."""

    type_name = "learning.stllr"
    input_ports = {"frames": "frames", "labels": "labels"}
    output_kind = "labels"
    params = {
        "model": Param(str, "", doc="checkpoint to start from (empty: a fresh net from arch/neuron)"),
        "arch": Param(str, "nmnist-mlp", doc="model setup of `evstream train --model` for a fresh net"),
        "neuron": Param(str, "stc-lif", doc="neuron kind of a fresh net"),
        "classes": Param(int, 10, doc="number of classes of a fresh net"),
        "lr": Param(float, 1e-3, doc="Adam learning rate"),
        "factors": Param(list, [0.2, 0.75, 0.0, 1.0], doc="S-TLLR [lambda_post, lambda_pre, alpha_post, alpha_pre]"),
        "update_every": Param(int, 1, doc="optimizer step every N learned frames (1: stllr_online)"),
        "reset_on_label": Param(bool, True, doc="clear the network state when a new labelled segment starts"),
        "hold_frames": Param(int, 64, doc="frames held while waiting for labels that may cover them"),
        "save": Param(str, "", doc="write the updated model here when the stream ends"),
        "device": Param(str, "cpu", doc="torch device"),
        "seed": Param(int, 0, doc="seed of a fresh net"),
    }

    def start(self) -> None:
        import torch

        from evstream.learning.catalog import MODELS
        from evstream.learning.checkpoint import load_model
        from evstream.learning.networks import use_rule
        from evstream.learning.stllr import STLLRFactors

        if len(self.factors) != 4:
            raise UserError(f"node {self.name!r}: factors must be 4 numbers [lambda_post, lambda_pre, alpha_post, alpha_pre]")
        self._torch = torch
        if self.model:
            self.net, facts = load_model(self.model, self.device)
            self._training = dict(facts)
        else:
            if self.arch not in MODELS:
                raise UserError(f"node {self.name!r}: unknown arch {self.arch!r} (known: {', '.join(MODELS)})")
            self.net = None  # built on the first frame, whose shape it needs
            self._training = {"model": self.arch, "neuron": self.neuron}
        self._factors = STLLRFactors(*map(float, self.factors))
        self._use_rule = use_rule
        self._optimizer = None
        if self.net is not None:
            self._prepare()
        self._labels: list[tuple[int, int, int]] = []
        self._label_time = -1
        self._pending: collections.deque[tuple[Any, int, int]] = collections.deque()
        self._segment: tuple[int, int, int] | None = None
        self._logit_sum = None
        self._counts = {"steps": 0, "learned_steps": 0, "segments": 0, "updates": 0}
        self._history: collections.deque[int] = collections.deque(maxlen=200)
        self._correct = self._scored = 0
        self._since_update = 0

    def _prepare(self) -> None:
        self.net.to(self.device)
        self._use_rule(self.net, "stllr", self._factors)
        self.net.train()
        self._optimizer = self._torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self._optimizer.zero_grad(set_to_none=True)

    def _fresh_net(self, frame_shape: tuple[int, int, int]) -> None:
        from evstream.learning.catalog import build_model

        self._torch.manual_seed(self.seed)
        self.net = build_model(self.arch, self.neuron, frame_shape, self.classes)
        self._prepare()

    # -- ports -----------------------------------------------------------------------
    def process(self, packet: Any, port: str) -> list[LabelPacket]:
        if port == "labels":
            for label, t0, t1 in zip(packet.label.tolist(), packet.t_start.tolist(), packet.t_end.tolist()):
                self._labels.append((label, t0, t1))
            if len(packet):
                self._label_time = max(self._label_time, int(packet.t_start.max()))
            self._labels = self._labels[-1024:]
            return self._drain(force=False)
        if not isinstance(packet, FramePacket):
            raise UserError(f"node {self.name!r}: port 'frames' expects frame packets, got {type(packet).__name__}")
        for i in range(len(packet)):
            self._pending.append((packet.data[i], int(packet.t_start[i]), int(packet.t_end[i])))
        return self._drain(force=False)

    def flush(self) -> list[LabelPacket]:
        out = self._drain(force=True)
        self._finish_segment()
        self._segment = None
        if self.save and self.net is not None:
            from evstream.learning.checkpoint import save_model

            self._use_rule(self.net, "bptt")
            save_model(self.net, self.save, training={**self._training, "rule": "stllr-online", **self._counts})
            self._use_rule(self.net, "stllr", self._factors)
        return out

    def _label_at(self, t0: int, t1: int) -> tuple[int, int, int] | None:
        for label in reversed(self._labels):
            if label[1] <= t0 and t1 <= label[2]:
                return label
        return None

    def _drain(self, force: bool) -> list[LabelPacket]:
        labels, conf, starts, ends = [], [], [], []
        while self._pending:
            frame, t0, t1 = self._pending[0]
            segment = self._label_at(t0, t1)
            if segment is None and not force and self._label_time < t1 and len(self._pending) <= self.hold_frames:
                break
            self._pending.popleft()
            label, confidence = self._step(frame, segment)
            labels.append(label)
            conf.append(confidence)
            starts.append(t0)
            ends.append(t1)
        if not labels:
            return []
        return [LabelPacket(np.array(labels), np.array(conf, np.float32), np.array(starts), np.array(ends),
                            seq=self._counts["steps"])]

    def _step(self, frame: Any, segment: tuple[int, int, int] | None) -> tuple[int, float]:
        torch = self._torch
        from evstream.learning.networks import reset_sequence

        x = torch.as_tensor(np.asarray(frame) if not isinstance(frame, torch.Tensor) else frame)
        x = x.to(self.device, torch.float32).unsqueeze(0)
        if self.net is None:
            self._fresh_net(tuple(x.shape[1:]))
        if segment != self._segment:
            self._finish_segment()
            if self.reset_on_label:
                reset_sequence(self.net)
            self._segment = segment
            self._logit_sum = None
            self._counts["segments"] += segment is not None
        learn = segment is not None
        with torch.set_grad_enabled(learn):
            logits = self.net.step(x)
            if learn:
                torch.nn.functional.cross_entropy(logits.float(), torch.tensor([segment[0]], device=self.device)).backward()
                self._counts["learned_steps"] += 1
                self._since_update += 1
                if self._since_update >= self.update_every:
                    self._optimizer.step()
                    self._optimizer.zero_grad(set_to_none=True)
                    self._counts["updates"] += 1
                    self._since_update = 0
        logits = logits.detach().float()[0]
        self._logit_sum = logits if self._logit_sum is None else self._logit_sum + logits
        self._counts["steps"] += 1
        probs = torch.softmax(self._logit_sum, 0)
        return int(probs.argmax()), float(probs.max())

    def _finish_segment(self) -> None:
        """Score the segment that just ended: its prediction is the argmax of the summed logits."""
        if self._segment is None or self._logit_sum is None:
            return
        hit = int(int(self._logit_sum.argmax()) == self._segment[0])
        self._history.append(hit)
        self._correct += hit
        self._scored += 1

    def reset(self) -> None:
        from evstream.learning.networks import reset_sequence

        if self.net is not None:
            reset_sequence(self.net)
        self._pending.clear()
        self._segment = None
        self._logit_sum = None

    def stats_extra(self) -> dict[str, Any]:
        recent = sum(self._history) / len(self._history) if self._history else None
        overall = self._correct / self._scored if self._scored else None
        return {**self._counts, "accuracy": overall, "recent_accuracy": recent, "scored_segments": self._scored,
                "correct_segments": self._correct}
