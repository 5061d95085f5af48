"""``evstream eval``: accuracy of a trained model on a labelled dataset folder."""

from __future__ import annotations

import argparse
import json

HELP = "measure the accuracy of a trained model on a dataset folder"
DESCRIPTION = """Rebuild a model saved by `evstream train`, bin DIR the way it was trained
(same bin width, steps and downsampling) and report its accuracy.

When DIR is the folder the model was trained on, only the validation samples
held out during training are used (--split val); any other folder is
evaluated entirely (--split all).

examples:
  evstream eval --model stc_bptt.pt --data ../shared/datasets/nmnist-small/train --json
  evstream eval --model stc_bptt.pt --data nmnist/test --split all
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="FILE", help="model checkpoint from `evstream train`")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--dataset", default=None, help="dataset kind (default: the one the model was trained on)")
    parser.add_argument("--split", choices=("auto", "val", "all"), default="auto", help="which samples (default auto)")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--cache", default=None, metavar="DIR", help="frame cache folder")
    parser.add_argument("--no-cache", action="store_true", help="do not use the frame cache")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from evstream.learning.session import evaluate_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    result = evaluate_checkpoint(args.model, args.data, args.dataset, args.split, args.device, args.cache,
                                 args.no_cache, args.batch_size)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['model']}: accuracy {result['accuracy']:.4f} on {result['samples']} samples ({result['split']})")
    return 0
