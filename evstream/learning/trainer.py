"""Train a step-wise spiking network on binned frames with BPTT or S-TLLR.

One epoch visits the training set in shuffled batches ``(B, T, 2, H, W)``; every
batch starts from a fresh state (:func:`~evstream.learning.networks.reset_sequence`).

* ``bptt``: ``T`` steps with autograd through time, loss ``CE(mean_t logits[t], y)``
  (time-averaged logits, spec neurons.md 4.1), one optimizer step per batch.
* ``stllr``: :func:`~evstream.learning.stllr.stllr_sequence` (per-step loss on the
  last ``window`` steps, learning signal by same-step backprop, no graph across steps).

Optimiser: Adam with a linear warm-up and a cosine decay from ``lr`` to ``min_lr``
per iteration (the STC-LIF recipe's schedule). On CUDA, ``amp`` runs the forward
in float16 autocast with a gradient scaler. Predictions sum the logits over all
steps. After every epoch the trainer writes the model checkpoint (``out``), a
resumable training state (``out`` + ``.state.pt``), the metrics (``out`` +
``.metrics.json``) and a training curve (``out`` + ``.png``).

Data-parallel (a :class:`~evstream.learning.distributed.World` of several
processes): each rank takes its shard of the training set (DistributedSampler)
in batches of ``batch_size / ranks``, gradients are averaged over the ranks
(DDP for BPTT, an all-reduce of the S-TLLR updates), validation is split over
the ranks and summed, and rank 0 alone writes the files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler

from evstream.learning.checkpoint import load_state, save_model, save_state
from evstream.learning.distributed import World
from evstream.learning.networks import reset_sequence, use_rule
from evstream.learning.catalog import RULES
from evstream.learning.stllr import DirectFeedback, STLLRFactors, stllr_sequence

__all__ = ["TrainConfig", "evaluate", "lr_factor", "shift_batch", "train"]


@dataclass
class TrainConfig:
    """Training hyperparameters (times in epochs, learning rates per iteration)."""

    rule: str = "bptt"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    window: int = 5
    """S-TLLR ``T_l``: number of final steps that get a loss."""
    feedback: str = "bp"
    """S-TLLR learning signal: ``"bp"`` (same-step backprop) or ``"dfa"`` (direct feedback alignment)."""
    online: bool = False
    """S-TLLR: optimizer step after every window step instead of once per sequence."""
    factors: STLLRFactors = field(default_factory=lambda: STLLRFactors(0.2, 0.75, 0.0, 1.0))
    shift: int = 0
    """Augmentation: random shift of each training sample by up to this many pixels."""
    label_smoothing: float = 0.0
    """Cross-entropy target: ``1 - label_smoothing`` on the label plus ``label_smoothing / classes`` everywhere."""
    amp: bool = True
    """Mixed precision (float16 autocast + grad scaler); used on CUDA only."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)} (got {self.rule!r})")
        if self.feedback not in ("bp", "dfa"):
            raise ValueError(f"feedback must be 'bp' or 'dfa' (got {self.feedback!r})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing})")
        if isinstance(self.factors, dict):
            self.factors = STLLRFactors(**self.factors)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def lr_factor(iteration: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the base LR at ``iteration``: linear warm-up over ``warmup`` iterations, then cosine to ``min_ratio``."""
    if iteration < warmup:
        return (iteration + 1) / warmup
    progress = (iteration - warmup) / max(1, total - warmup)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def shift_batch(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each sample of ``x`` ``(B, T, C, H, W)`` by up to ``max_shift`` pixels (zero fill).

    One random offset per sample, the same for all its frames: RandomCrop(H, padding=max_shift).
    """
    if max_shift <= 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (x.shape[0], 2), generator=generator)
    return torch.stack([padded[i, ..., dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def _autocast(device: torch.device, enabled: bool):  # noqa: ANN202
    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=enabled and device.type == "cuda")


@torch.no_grad()
def evaluate(net: nn.Module, dataset: Dataset, batch_size: int = 64, device: str | torch.device = "cpu",
             amp: bool = True, world: World = World()) -> dict[str, float]:
    """Accuracy of ``net`` on ``dataset``: ``{"accuracy": fraction correct, "samples": n, "loss": mean CE}``.

    The prediction sums the logits over all steps; the rule a network is under
    does not change its forward pass. With several ranks, each evaluates its
    share of the samples and the counts are summed over the ranks.
    """
    device = torch.device(device)
    net.eval()
    if world.distributed:
        dataset = Subset(dataset, world.shard(len(dataset)))
    correct, seen, loss_sum = 0, 0, 0.0
    for frames, labels in DataLoader(dataset, batch_size=batch_size):
        frames, labels = frames.to(device).transpose(0, 1), labels.to(device)
        reset_sequence(net)
        with _autocast(device, amp):
            logits = sum(net.step(frames[t]).float() for t in range(frames.shape[0]))
        loss_sum += float(F.cross_entropy(logits / frames.shape[0], labels, reduction="sum"))
        correct += int((logits.argmax(1) == labels).sum())
        seen += len(labels)
    reset_sequence(net)
    correct, seen, loss_sum = world.sum([correct, seen, loss_sum])
    return {"accuracy": correct / max(1, seen), "samples": int(seen), "loss": loss_sum / max(1, seen)}


def _bptt_batch(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer,
                scaler: torch.amp.GradScaler | None, device: torch.device, amp: bool,
                label_smoothing: float) -> tuple[torch.Tensor, float]:
    optimizer.zero_grad(set_to_none=True)
    with _autocast(device, amp):
        logits = model(frames).float()
        loss = F.cross_entropy(logits.mean(0), labels, label_smoothing=label_smoothing)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return logits.detach().sum(0), float(loss.detach())


def train(net: nn.Module, train_set: Dataset, val_set: Dataset | None, config: TrainConfig, out: str | Path,
          device: str | torch.device = "cpu", resume: bool = False, progress: bool = True,
          extra: dict[str, Any] | None = None, on_epoch: Callable[[dict[str, Any]], None] | None = None,
          world: World = World()) -> dict[str, Any]:
    """Train ``net`` in place for ``config.epochs`` epochs; returns the metrics dict (also written to disk).

    Args:
        net: a step-wise network (``net.step(frame) -> logits``, ``net.config``).
        train_set, val_set: datasets of ``(frames (T, 2, H, W), label)``.
        out: model checkpoint path; ``.state.pt``, ``.metrics.json`` and ``.png``
            files are written beside it (by rank 0 only).
        resume: continue from ``out`` + ``.state.pt`` (model, optimizer, schedule, epoch).
        extra: saved in the checkpoint (dataset, binning) for ``evstream eval``.
        world: the training processes; ``config.batch_size`` is the batch of all
            ranks together and must divide by their number.
    """
    from tqdm import tqdm

    if config.batch_size % world.size:
        raise ValueError(f"batch size {config.batch_size} does not divide over {world.size} processes")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    torch.manual_seed(config.seed)
    net.to(device)
    world.broadcast_parameters(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = DistributedSampler(train_set, world.size, world.rank, shuffle=True, seed=config.seed) \
        if world.distributed else None
    loader = DataLoader(train_set, batch_size=config.batch_size // world.size, shuffle=sampler is None,
                        sampler=sampler, drop_last=False, generator=torch.Generator().manual_seed(config.seed))
    total = config.epochs * len(loader)
    warmup = round(config.warmup_epochs * len(loader))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, total, warmup, config.min_lr / config.lr))
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    metrics: dict[str, Any] = {"config": config.to_dict(), "model": getattr(net, "config", {}), "epochs": [],
                               "processes": world.size}
    start_epoch = 0
    if resume:
        start_epoch, metrics = load_state(out, net, optimizer, schedule, scaler)
    augment_gen = torch.Generator().manual_seed(config.seed + 1 + world.rank)
    feedback = DirectFeedback(net.config["n_classes"], config.seed) if config.feedback == "dfa" else None
    use_rule(net, config.rule, config.factors, feedback)
    model = world.wrap(net) if config.rule == "bptt" else net

    def sync() -> None:
        world.average_gradients(net.parameters())

    for epoch in range(start_epoch, config.epochs):
        net.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
        began = time.perf_counter()
        correct = seen = 0
        loss_sum = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs} ({config.rule})", unit="batch",
                   leave=False, disable=not (progress and world.is_main))
        for frames, labels in bar:
            frames = shift_batch(frames, config.shift, augment_gen).to(device).transpose(0, 1)
            labels = labels.to(device)
            reset_sequence(net)
            if config.rule == "bptt":
                logits, loss = _bptt_batch(model, frames, labels, optimizer, scaler, device, use_amp,
                                           config.label_smoothing)
            else:
                with _autocast(device, use_amp):
                    result = stllr_sequence(net, frames, labels, optimizer, config.window, config.online, scaler,
                                            sync if world.distributed else None, config.label_smoothing)
                logits, loss = result.logits, result.loss
            schedule.step()
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
            loss_sum += loss * len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        correct, seen, loss_sum = world.sum([correct, seen, loss_sum])
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "train_accuracy": correct / max(1, seen),
                  "lr": schedule.get_last_lr()[0], "seconds": time.perf_counter() - began}
        if val_set is not None:
            val = evaluate(net, val_set, device=device, amp=use_amp, world=world)
            record.update(val_accuracy=val["accuracy"], val_loss=val["loss"], val_samples=val["samples"])
        metrics["epochs"].append(record)
        metrics["train_seconds"] = sum(e["seconds"] for e in metrics["epochs"])
        if world.is_main:
            _write_outputs(net, out, metrics, config, extra, optimizer, schedule, scaler, epoch + 1, feedback)
            if on_epoch is not None:
                on_epoch(record)
    return metrics


def _write_outputs(net: nn.Module, out: Path, metrics: dict[str, Any], config: TrainConfig,
                   extra: dict[str, Any] | None, optimizer: torch.optim.Optimizer, schedule: Any,
                   scaler: torch.amp.GradScaler | None, epoch: int, feedback: DirectFeedback | None) -> None:
    rule = config.rule
    use_rule(net, "bptt")
    save_model(net, out, training={"rule": rule, "epochs": epoch, **(extra or {})})
    save_state(out, net, optimizer, schedule, scaler, epoch, metrics)
    use_rule(net, rule, config.factors, feedback)
    out.with_name(out.name + ".metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_curves(metrics, out.with_name(out.name + ".png"))


def plot_curves(metrics: dict[str, Any], path: Path) -> None:
    """Training curve PNG: loss (left) and accuracy (right) per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e["epoch"] for e in metrics["epochs"]]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [e["train_loss"] for e in metrics["epochs"]], "o-", label="train")
    ax_acc.plot(epochs, [e["train_accuracy"] for e in metrics["epochs"]], "o-", label="train")
    if metrics["epochs"] and "val_accuracy" in metrics["epochs"][0]:
        ax_loss.plot(epochs, [e["val_loss"] for e in metrics["epochs"]], "s-", label="validation")
        ax_acc.plot(epochs, [e["val_accuracy"] for e in metrics["epochs"]], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{metrics['model'].get('neuron', '')} {metrics['model'].get('arch', '')}, "
                 f"rule {metrics['config']['rule']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
