"""``evstream train``: train a zoo network on a labelled event dataset with BPTT or S-TLLR."""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "train a spiking network on N-MNIST, DVS Gesture or labelled recordings (BPTT or S-TLLR)"
DESCRIPTION = """Train a network of the evstream zoo on binned event frames.

DATASET is nmnist (a folder of .bs2/.bin samples with a label list such as
train1K.txt), dvsgesture (tonic's DVSGesture layout under --data) or
recordings (files with <stem>_labels.csv beside them: class,start_us,end_us).
A seeded --val-fraction of the samples is held out for validation (DVS
Gesture uses its test users instead). Binned frames are cached on disk.

After every epoch FILE (the model), FILE.state.pt (to --resume), FILE.metrics.json
and FILE.png (training curve) are written.

Data-parallel: --nproc N trains in N local processes (gloo on CPUs, NCCL on
GPUs), each on its shard of every batch of --batch-size samples, gradients
averaged over the processes; `torchrun --nproc-per-node N -m evstream train ...`
does the same under torchrun (also across machines). Process 0 writes the files.

examples:
  evstream train nmnist --data ../shared/datasets/nmnist-small/train --model nmnist-mlp \\
      --neuron stc-lif --rule bptt --epochs 8 --out stc_bptt.pt
  evstream train nmnist --data DIR --model nmnist-mlp --rule stllr --window 5 --out stc_stllr.pt
  evstream train nmnist --data DIR --model nmnist-mlp --neuron tda-lif --out tda.pt --json
  evstream train nmnist --data DIR --model nmnist-mlp --out stc_bptt.pt --epochs 12 --resume
  evstream train nmnist --data DIR --model nmnist-mlp --rule stllr --nproc 2 --threads 1 --out ddp.pt
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from evstream.learning.catalog import DATASETS, MODELS, RULES

    parser.add_argument("dataset", choices=DATASETS, help="dataset kind")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="network architecture")
    parser.add_argument("--neuron", default="stc-lif", help="neuron kind: lif, plif, stc-lif, stc-plif, tda-lif (default stc-lif)")
    parser.add_argument("--rule", choices=RULES, default="bptt", help="learning rule (default bptt)")
    parser.add_argument("--out", required=True, metavar="FILE", help="model checkpoint to write")
    parser.add_argument("--epochs", type=int, default=8, help="epochs (default 8)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per batch (default 32)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    parser.add_argument("--min-lr", type=float, default=1e-5, help="final learning rate of the cosine decay")
    parser.add_argument("--warmup-epochs", type=float, default=1.0, help="linear warm-up length in epochs")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    parser.add_argument("--window", type=int, default=5, help="S-TLLR T_l: final steps that get a loss (default 5)")
    parser.add_argument("--factors", type=float, nargs=4, default=(0.2, 0.75, 0.0, 1.0),
                        metavar=("LPOST", "LPRE", "APOST", "APRE"),
                        help="S-TLLR [lambda_post, lambda_pre, alpha_post, alpha_pre] (default 0.2 0.75 0 1)")
    parser.add_argument("--feedback", choices=("bp", "dfa"), default="bp",
                        help="S-TLLR learning signal: same-step backprop (bp) or direct feedback alignment (dfa)")
    parser.add_argument("--online", action="store_true", help="S-TLLR: optimizer step at every window step")
    parser.add_argument("--window-us", type=int, default=None, help="bin width in µs (default per dataset)")
    parser.add_argument("--steps", type=int, default=None, help="time steps per sample (default per dataset)")
    parser.add_argument("--downsample", type=int, default=None, help="sum-pool frames by this factor (default per model)")
    parser.add_argument("--sensor", type=int, nargs=2, default=(None, None), metavar=("WIDTH", "HEIGHT"),
                        help="sensor size in pixels (needed for the recordings dataset)")
    parser.add_argument("--shift", type=int, default=2, help="augmentation: random shift up to N pixels (default 2)")
    parser.add_argument("--label-smoothing", type=float, default=0.0, metavar="EPS",
                        help="cross-entropy target 1 - EPS on the label, EPS / classes on every class (default 0)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="held-out fraction (default 0.2)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    parser.add_argument("--seed", type=int, default=0, help="random seed (split, init, shuffling)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's)")
    parser.add_argument("--cache", default=None, metavar="DIR", help="frame cache folder (default ~/.cache/evstream/frames)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the frame cache")
    parser.add_argument("--resume", action="store_true", help="continue from FILE and FILE.state.pt")
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train data-parallel in N local processes (default 1); N divides --batch-size")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def run(args: argparse.Namespace) -> int:
    from evstream.learning.session import TrainingRequest, run_training

    request = TrainingRequest(
        dataset=args.dataset, data=args.data, model=args.model, neuron=args.neuron, rule=args.rule, out=args.out,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr,
        warmup_epochs=args.warmup_epochs, weight_decay=args.weight_decay, window=args.window, feedback=args.feedback,
        factors=tuple(args.factors), online=args.online, window_us=args.window_us, steps=args.steps,
        downsample=args.downsample, shift=args.shift, label_smoothing=args.label_smoothing,
        val_fraction=args.val_fraction, limit=args.limit,
        seed=args.seed, device=args.device, threads=args.threads, cache=args.cache, no_cache=args.no_cache,
        resume=args.resume, progress=not args.no_progress and not args.json, nproc=args.nproc,
        width=args.sensor[0], height=args.sensor[1])
    summary = run_training(request, log=None if args.json else lambda line: print(line, file=sys.stderr))
    if os.environ.get("RANK", "0") != "0":      # under torchrun, process 0 reports
        return 0
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['out']}: validation accuracy {summary['val_accuracy']:.4f} on {summary['val_samples']} samples "
              f"after {summary['epochs']} epochs, {summary['train_seconds']:.0f} s")
    return 0
