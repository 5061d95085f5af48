"""What ``evstream train`` and ``evstream eval`` do, callable without the CLI.

:func:`run_training` loads and bins the dataset, holds out a validation split,
builds the model and trains it; :func:`evaluate_checkpoint` rebuilds a saved
model with the binning it was trained on and measures its accuracy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from evstream.errors import UserError
from evstream.learning import datasets as ds
from evstream.learning.checkpoint import load_model
from evstream.learning.distributed import join, leave, spawn
from evstream.learning.catalog import MODELS, build_model
from evstream.learning.stllr import STLLRFactors
from evstream.learning.trainer import TrainConfig, evaluate, train

__all__ = ["TrainingRequest", "evaluate_checkpoint", "pick_device", "run_training"]

_SENSOR = {"nmnist": (34, 34), "dvsgesture": (128, 128), "recordings": None}


@dataclass
class TrainingRequest:
    """Everything ``evstream train`` takes (see its ``--help``); ``None`` means the model's default."""

    dataset: str
    data: str
    model: str
    out: str
    neuron: str = "stc-lif"
    rule: str = "bptt"
    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float = 1e-5
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    window: int = 5
    feedback: str = "bp"
    factors: tuple[float, float, float, float] = (0.2, 0.75, 0.0, 1.0)
    online: bool = False
    window_us: int | None = None
    steps: int | None = None
    downsample: int | None = None
    shift: int = 2
    label_smoothing: float = 0.0
    val_fraction: float = 0.2
    limit: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    cache: str | None = None
    no_cache: bool = False
    resume: bool = False
    progress: bool = True
    nproc: int = 1
    width: int | None = None
    height: int | None = None


def pick_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device {name!r}: not a torch device (cpu, cuda, cuda:1, auto)") from exc


def _binning(request: TrainingRequest) -> ds.Binning:
    spec = MODELS[request.model]
    sensor = _SENSOR[request.dataset] or (request.width, request.height)
    if sensor[0] is None or sensor[1] is None:
        raise UserError("the recordings dataset needs the sensor size: pass --sensor WIDTH HEIGHT")
    return ds.Binning(window_us=request.window_us or spec.window_us, steps=request.steps or spec.steps,
                      width=sensor[0], height=sensor[1], downsample=request.downsample or spec.downsample)


def _cache_dir(cache: str | None, no_cache: bool) -> Path | None:
    return None if no_cache else Path(cache) if cache else ds.default_cache_dir()


def _datasets(request: TrainingRequest, binning: ds.Binning) -> tuple[Dataset, Dataset, int]:
    """``(train set, validation set, classes)`` of ``request`` (binned through the frame cache)."""
    cache = _cache_dir(request.cache, request.no_cache)
    if request.dataset == "dvsgesture":
        train_set = ds.dvs_gesture(request.data, True, binning, cache)
        return train_set, ds.dvs_gesture(request.data, False, binning, cache), train_set.n_classes
    full = ds.load(request.dataset, request.data, binning, cache, limit=request.limit)
    train_set, val_set = ds.split(full, request.val_fraction, request.seed)
    return train_set, val_set, full.n_classes


def run_training(request: TrainingRequest, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train as ``request`` says; returns a summary (final validation accuracy, paths, seconds).

    With ``request.nproc > 1`` the training runs data-parallel in that many new
    local processes (:func:`evstream.learning.distributed.spawn`); under
    ``torchrun`` this process joins the process group torchrun set up.
    """
    if request.model not in MODELS:
        raise UserError(f"--model {request.model!r}: unknown (known: {', '.join(MODELS)})")
    if request.dataset not in _SENSOR:
        raise UserError(f"dataset {request.dataset!r}: unknown (known: {', '.join(_SENSOR)})")
    if request.nproc < 1 or request.batch_size % request.nproc:
        raise UserError(f"--nproc {request.nproc}: needs to be >= 1 and divide --batch-size {request.batch_size} "
                        "(the batch of all processes together)")
    if request.nproc == 1:
        return _train_here(request, log)
    pick_device(request.device)
    _datasets(request, _binning(request))     # bad folders fail here in one line; fills the frame cache
    return spawn(_training_process, request.nproc, request, log is not None)


def _training_process(request: TrainingRequest, verbose: bool) -> dict[str, Any]:
    return _train_here(request, _print_stderr if verbose else None)


def _print_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train_here(request: TrainingRequest, log: Callable[[str], None] | None) -> dict[str, Any]:
    if request.threads:
        torch.set_num_threads(request.threads)
    device = pick_device(request.device)
    world = join(device)
    device = world.device(device)
    binning = _binning(request)
    if not world.is_main:
        world.barrier()                       # rank 0 fills the frame cache first
    train_set, val_set, n_classes = _datasets(request, binning)
    if world.is_main:
        world.barrier()
    torch.manual_seed(request.seed)
    try:
        net = build_model(request.model, request.neuron, binning.frame_shape, n_classes)
    except ValueError as exc:
        raise UserError(f"--model {request.model} --neuron {request.neuron}: {exc}") from exc
    if not 0.0 <= request.label_smoothing < 1.0:
        raise UserError(f"--label-smoothing {request.label_smoothing}: must be in [0, 1)")
    config = TrainConfig(rule=request.rule, epochs=request.epochs, batch_size=request.batch_size, lr=request.lr,
                         min_lr=request.min_lr, warmup_epochs=request.warmup_epochs,
                         weight_decay=request.weight_decay, window=request.window, feedback=request.feedback,
                         factors=STLLRFactors(*request.factors), online=request.online, shift=request.shift,
                         label_smoothing=request.label_smoothing, seed=request.seed)
    extra = {"dataset": request.dataset, "data": str(Path(request.data).resolve()), "binning": asdict(binning),
             "val_fraction": request.val_fraction, "seed": request.seed, "limit": request.limit,
             "n_classes": n_classes, "neuron": request.neuron, "model": request.model}

    def report(record: dict[str, Any]) -> None:
        if log is not None:
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    try:
        metrics = train(net, train_set, val_set, config, request.out, device=device, resume=request.resume,
                        progress=request.progress, extra=extra, on_epoch=report, world=world)
        world.barrier()                       # no rank tears the group down while rank 0 still writes its files
    finally:
        leave()
    last = metrics["epochs"][-1] if metrics["epochs"] else {}
    return {"out": str(request.out), "rule": request.rule, "model": request.model, "neuron": request.neuron,
            "epochs": len(metrics["epochs"]), "val_accuracy": last.get("val_accuracy", float("nan")),
            "val_samples": last.get("val_samples", 0), "train_accuracy": last.get("train_accuracy", float("nan")),
            "train_seconds": metrics.get("train_seconds", 0.0), "device": str(device), "processes": world.size}


def evaluate_checkpoint(model_path: str | Path, data: str | Path, dataset: str | None = None, split: str = "auto",
                        device: str = "auto", cache: str | None = None, no_cache: bool = False,
                        batch_size: int = 64) -> dict[str, Any]:
    """Accuracy of the model in ``model_path`` on the samples of ``data``.

    ``split``: ``"all"`` samples, ``"val"`` (the validation part held out when
    training on this same folder), or ``"auto"``: ``"val"`` when ``data`` is the
    training folder, else ``"all"``. DVS Gesture always uses its test users.
    """
    dev = pick_device(device)
    net, facts = load_model(model_path, dev)
    kind = dataset or facts.get("dataset")
    if kind is None:
        raise UserError(f"{model_path}: the checkpoint does not name its dataset; pass --dataset")
    binning = ds.Binning(**facts["binning"])
    cache_dir = _cache_dir(cache, no_cache)
    same_folder = Path(data).resolve() == Path(facts.get("data", "")).resolve()
    if split == "auto":
        split = "val" if same_folder else "all"
    if kind == "dvsgesture":
        samples = ds.dvs_gesture(data, False, binning, cache_dir)
    else:
        full = ds.load(kind, data, binning, cache_dir, limit=facts.get("limit") if split == "val" else None)
        samples = ds.split(full, facts["val_fraction"], facts["seed"])[1] if split == "val" else full
    result = evaluate(net, samples, batch_size=batch_size, device=dev)
    return {"accuracy": result["accuracy"], "samples": result["samples"], "loss": result["loss"],
            "split": split if kind != "dvsgesture" else "test", "model": str(model_path),
            "rule": facts.get("rule"), "neuron": facts.get("neuron")}
