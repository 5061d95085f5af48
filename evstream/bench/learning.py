"""``evstream bench learning``: peak training memory of S-TLLR vs BPTT as the sequence grows.

Each case trains one batch of ``T`` steps of the same network (default: the
zoo's 2 x 256 STC-LIF MLP on 2 x 34 x 34 frames, batch 32) in a fresh process
and reports the peak memory of that iteration above what the process held
before it: peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on CUDA. BPTT
keeps the graph of every step (memory grows with ``T``); S-TLLR keeps only
neuron-shaped traces and the graph of one step (memory flat in ``T``).

Rows: ``case`` (T), ``tool`` (``evstream-stllr`` or ``evstream-bptt``),
``peak_mb``, ``ms_per_step`` and, on S-TLLR rows, ``ratio`` = BPTT peak / S-TLLR
peak (above 1: S-TLLR needs less memory).
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import os
import resource
import time
from typing import Any

HELP = "S-TLLR vs BPTT peak training memory at T = 10 ... 160 steps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 40, 80, 100, 160],
                        help="sequence lengths T to measure (default 10 20 40 80 100 160)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per batch (default 32)")
    parser.add_argument("--arch", default="mlp", help="zoo architecture (default mlp: 2 x 256 on 2x34x34)")
    parser.add_argument("--neuron", default="stc-lif", help="neuron kind (default stc-lif)")
    parser.add_argument("--window", type=int, default=5, help="S-TLLR T_l (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads per case (default 2)")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Hand freed heap pages back to the kernel, then reset its peak-RSS mark (Linux >= 4.0).

    Without the trim, an iteration could reuse pages the warm-up iteration freed
    but the allocator kept, and its peak would read near zero on some runs and
    not on others. ``False`` where the mark cannot be reset.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)      # glibc; elsewhere the peak just includes kept pages
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes(reset_worked: bool) -> int:
    """Peak RSS since :func:`_reset_peak_rss` (``VmHWM``), else since the process started."""
    if reset_worked:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(rule: str, steps: int, batch_size: int, arch: str, neuron: str, window: int, device: str,
            threads: int) -> dict[str, float]:
    """Peak memory (MB above the pre-iteration level) and time of one training iteration of ``steps`` steps."""
    import torch
    import torch.nn.functional as F

    from evstream.learning.networks import reset_sequence, use_rule
    from evstream.learning.stllr import stllr_sequence
    from evstream.nn.zoo import build

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = torch.device(device)
    net = build(arch, neuron=neuron).to(dev)
    use_rule(net, rule)
    c, h, w = net.in_shape
    frames = (torch.rand(steps, batch_size, c, h, w, generator=torch.Generator().manual_seed(1)) < 0.05).float().to(dev)
    labels = torch.randint(0, net.config["n_classes"], (batch_size,)).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def iteration(x: torch.Tensor) -> None:
        reset_sequence(net)
        if rule == "stllr":
            stllr_sequence(net, x, labels, optimizer, window)
            return
        optimizer.zero_grad(set_to_none=True)
        logits = torch.stack([net.step(x[t]) for t in range(x.shape[0])])
        F.cross_entropy(logits.mean(0), labels).backward()
        optimizer.step()

    iteration(frames[:2])          # allocate gradients and optimizer state, warm up kernels
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        reset_worked = _reset_peak_rss()
        base = _rss_bytes()
    began = time.perf_counter()
    iteration(frames)
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = _peak_rss_bytes(reset_worked)
    elapsed = time.perf_counter() - began
    return {"peak_mb": max(0, peak - base) / 2**20, "ms_per_step": elapsed / steps * 1e3}


def _child(queue: Any, kwargs: dict[str, Any]) -> None:
    queue.put(measure(**kwargs))


def _in_fresh_process(**kwargs: Any) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, kwargs))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for steps in args.steps:
        found = {}
        for rule in ("bptt", "stllr"):
            found[rule] = _in_fresh_process(rule=rule, steps=steps, batch_size=args.batch_size, arch=args.arch,
                                            neuron=args.neuron, window=args.window, device=args.device,
                                            threads=args.threads)
        for rule, tool in (("stllr", "evstream-stllr"), ("bptt", "evstream-bptt")):
            row: dict[str, Any] = {"case": f"T={steps}", "tool": tool, "device": args.device,
                                   "peak_mb": round(found[rule]["peak_mb"], 2),
                                   "ms_per_step": round(found[rule]["ms_per_step"], 2)}
            if rule == "stllr":
                row["ratio"] = round(found["bptt"]["peak_mb"] / max(found["stllr"]["peak_mb"], 1e-3), 2)
            rows.append(row)
    return rows
