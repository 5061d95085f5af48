"""Train the gesture app's network with the project's trainer and export it as the app's model file.

Data: a folder of recordings with ``<stem>_labels.csv`` beside each (DVS
Gesture's ``class,startTime_usec,endTime_usec`` rows), e.g. made by
``apps/gesture/make_data.sh``, or DVS Gesture itself in tonic's layout
(``--dataset dvsgesture``). Training is :func:`evstream.learning.trainer.train`
(BPTT or S-TLLR) of a compact STC-LIF conv net of the zoo ([16, 16] channels at
32x32, :data:`ARCHITECTURE`); it is saved as an :mod:`evstream.nn.checkpoint`
(weights, architecture, binning and class names), which the app loads. With
``--heldout DIR`` the exported model is also scored on a second folder of
labelled recordings that training never saw; the figures go to ``OUT.json``.

Run from the repository root::

    python -m apps.gesture.train_model --data DATA/train --heldout DATA/heldout \\
        --out apps/gesture/models/gesture32.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evstream.cameras.gestures import GESTURES

SENSOR = (128, 128)
"""Width and height of the synthetic DVS and of DVS Gesture, pixels."""

ARCHITECTURE = {"arch": "conv-stack", "channels": [16, 16], "kernel": 3, "groups": 16, "head_pool": 2}
"""The shipped network: 2 x [conv3 16 -> GN -> STC-LIF -> maxpool2] -> avgpool2 -> linear (32x32 input)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m apps.gesture.train_model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training folder (labelled recordings, or tonic's save_to)")
    p.add_argument("--dataset", choices=("recordings", "dvsgesture"), default="recordings",
                   help="recordings with *_labels.csv (default) or DVS Gesture in tonic's layout")
    p.add_argument("--heldout", default=None, help="folder of labelled recordings to score the model on")
    p.add_argument("--out", required=True, help="model file to write (evstream.nn checkpoint)")
    p.add_argument("--channels", type=int, nargs="+", default=ARCHITECTURE["channels"],
                   help="channels per conv cell, multiples of 16 (default 16 16)")
    p.add_argument("--init", default=None, metavar="MODEL", help="start from this model's weights (continue training)")
    p.add_argument("--neuron", default="stc-lif", help="stc-lif (default), stc-plif, lif, plif")
    p.add_argument("--rule", default="bptt", choices=("bptt", "stllr"), help="learning rule (default bptt)")
    p.add_argument("--window-us", type=int, default=50_000, help="bin width, µs (default 50000)")
    p.add_argument("--steps", type=int, default=20, help="bins per training sample (default 20 = 1 s)")
    p.add_argument("--downsample", type=int, default=4, help="128x128 -> 32x32 by default")
    p.add_argument("--offsets-ms", type=int, nargs="+", default=[0], metavar="MS",
                   help="training windows start at each labelled start plus each of these offsets, ms "
                        "(e.g. -400 -200 0 200 400: the phases at which the app's network copies are reset; "
                        "default 0; recordings only, validation and held-out samples start at the gesture)")
    p.add_argument("--horizon", type=int, default=None,
                   help="frames a network copy of the app runs between resets, stored in the model "
                        "(default: --steps; choose it on held-out recordings with `evstream gesture --horizon`)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    return p


def _datasets(args: argparse.Namespace, binning: Any) -> tuple[Any, Any, Any]:
    """``(train, validation, held-out or None)`` frame datasets (held-out: every sample of ``--heldout``)."""
    from torch.utils.data import Subset

    from evstream.learning import datasets as ds

    cache = ds.default_cache_dir()
    if args.dataset == "dvsgesture":
        train_set, val_set = ds.dvs_gesture(args.data, True, binning, cache), ds.dvs_gesture(args.data, False, binning, cache)
    else:
        offsets = [ms * 1000 for ms in args.offsets_ms]
        train_set, val_set = ds.split(ds.labelled_recordings(args.data, binning, cache), args.val_fraction, args.seed)
        if offsets != [0]:  # the same split of the gestures, each training one at every offset
            shifted = ds.labelled_recordings(args.data, binning, cache, offsets_us=offsets)
            train_set = Subset(shifted, [i * len(offsets) + k for i in train_set.indices for k in range(len(offsets))])
    heldout = ds.labelled_recordings(args.heldout, binning, cache) if args.heldout else None
    return train_set, val_set, heldout


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train, export the nn checkpoint to ``args.out``, score it; returns the summary written to ``OUT.json``."""
    import torch

    from evstream.learning.datasets import Binning
    from evstream.learning.session import pick_device
    from evstream.learning.trainer import TrainConfig, evaluate
    from evstream.learning.trainer import train as fit
    from evstream.nn import checkpoint
    from evstream.nn.zoo import build

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    binning = Binning(window_us=args.window_us, steps=args.steps, width=SENSOR[0], height=SENSOR[1],
                      downsample=args.downsample)
    train_set, val_set, heldout = _datasets(args, binning)
    torch.manual_seed(args.seed)
    if args.init:
        net = checkpoint.load(args.init).net
        net.train()
    else:
        net = build({**ARCHITECTURE, "channels": args.channels}, in_shape=list(binning.frame_shape),
                    n_classes=len(GESTURES), neuron=args.neuron)
    config = TrainConfig(rule=args.rule, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         shift=2, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        metrics = fit(net, train_set, val_set, config, Path(work) / "trained.pt", device=device,
                      on_epoch=lambda r: print(" ".join(f"{k}={v:.4g}" for k, v in r.items()), file=sys.stderr))
    scored = evaluate(net, heldout, device=device) if heldout is not None else None
    saved = {"window_us": binning.window_us, "downsample": binning.downsample, "width": binning.width,
             "height": binning.height, "representation": "count", "steps": binning.steps,
             "horizon": args.horizon or binning.steps}
    checkpoint.save(out, net.cpu(), binning=saved, class_names=list(GESTURES))
    last = metrics["epochs"][-1]
    result = {
        "model": str(out), "architecture": net.config, "rule": args.rule, "binning": saved, "init": args.init,
        "train_steps": binning.steps, "train_offsets_ms": args.offsets_ms, "train_data": str(args.data),
        "epochs": len(metrics["epochs"]),
        "train_seconds": round(time.perf_counter() - t0), "train_accuracy": last["train_accuracy"],
        "val_accuracy": last.get("val_accuracy"), "val_samples": last.get("val_samples"),
        "heldout_accuracy": scored["accuracy"] if scored else None,
        "heldout_samples": scored["samples"] if scored else None,
        "heldout_data": str(args.heldout) if args.heldout else None,
    }
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(train(build_parser().parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
