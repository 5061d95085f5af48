"""Data-parallel training over processes with torch.distributed (gloo on CPUs, NCCL on GPUs).

A :class:`World` is this process's place in the process group: its ``rank``,
the number of processes ``size`` and the device it trains on. Each rank trains
on its shard of every batch; gradients are averaged over the ranks before each
optimizer step, so a step with ``size`` ranks of ``B / size`` samples each is
the step of one process on ``B`` samples:

* BPTT wraps the network in :class:`~torch.nn.parallel.DistributedDataParallel`
  (:meth:`World.wrap`), which averages during ``backward``;
* S-TLLR accumulates its own weight updates over the window steps of a
  sequence, then :meth:`World.average_gradients` all-reduces them.

Two ways to start the processes:

* :func:`spawn` (``evstream train ... --nproc N``): N local processes that
  meet through a rendezvous file in a temporary folder (no port to race for);
* ``torchrun --nproc-per-node N -m evstream train ...``: :func:`join` reads the
  ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``MASTER_*`` variables torchrun sets.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "join", "spawn"]

_RENDEZVOUS = "EVSTREAM_RENDEZVOUS"     # environment variable: the file spawned ranks meet at


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` training processes (``size == 1``: no process group)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs and writes files."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda:LOCAL_RANK`` when training on CUDA, else ``device``."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def wrap(self, net: nn.Module) -> nn.Module:
        """``net`` under DistributedDataParallel (gradients averaged in ``backward``); ``net`` itself for one process."""
        if not self.distributed:
            return net
        from torch.nn.parallel import DistributedDataParallel

        device = next(net.parameters()).device
        return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    def broadcast_parameters(self, net: nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers (the same start for every replica)."""
        if self.distributed:
            for tensor in [*net.parameters(), *net.buffers()]:
                dist.broadcast(tensor.data, 0)

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Replace each ``.grad`` by its mean over the ranks (one all-reduce of all gradients).

        A parameter without a gradient on this rank counts as a zero gradient,
        so that every rank reduces the same tensors.
        """
        if not self.distributed:
            return
        params = [p for p in parameters if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.size
        offset = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed element-wise over the ranks (float64 all-reduce); ``values`` for one process."""
        if not self.distributed:
            return list(values)
        device = torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
        total = torch.tensor(list(values), dtype=torch.float64, device=device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.tolist()

    def shard(self, n: int) -> list[int]:
        """Indices of ``range(n)`` this rank takes when the ranks split ``n`` items without repeats."""
        return list(range(self.rank, n, self.size))


def join(device: torch.device) -> World:
    """This process's :class:`World`, from torchrun's environment; joins the process group if there are several.

    Backend: NCCL when training on CUDA, else gloo. Without ``WORLD_SIZE`` (or
    with 1) there is no process group. The ranks meet at ``MASTER_ADDR:MASTER_PORT``
    (torchrun) or, when :func:`spawn` started them, at the file named by
    ``EVSTREAM_RENDEZVOUS``.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(world.local_rank)
        rendezvous = os.environ.get(_RENDEZVOUS)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=size,
                                init_method=f"file://{rendezvous}" if rendezvous else "env://")
    return world


def leave() -> None:
    """Leave the process group (at the end of a distributed run)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _child(rank: int, fn: Callable[..., Any], size: int, rendezvous: str, args: tuple, results: Any) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), LOCAL_WORLD_SIZE=str(size))
    os.environ[_RENDEZVOUS] = rendezvous
    result = fn(*args)
    if rank == 0:
        results.put(pickle.dumps(result))      # plain bytes: no shared memory that dies with this process
    # Leave without the interpreter's finalisation: gloo threads still winding down there have
    # aborted a finished rank (std::terminate, SIGABRT) on a loaded machine. The result is written
    # (SimpleQueue writes synchronously), so only the standard streams need flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn(fn: Callable[..., Any], nproc: int, *args: Any) -> Any:
    """Run ``fn(*args)`` in ``nproc`` new local processes forming one process group; returns rank 0's result.

    ``fn`` and ``args`` must be picklable (``fn`` a module-level function). Each
    child sees torchrun's rank and world-size variables and a fresh rendezvous
    file, so ``fn`` joins with :func:`join`. An exception in any child is raised here.
    """
    import torch.multiprocessing as mp

    results = mp.get_context("spawn").SimpleQueue()
    with tempfile.TemporaryDirectory(prefix="evstream-ddp-") as folder:
        rendezvous = os.path.join(folder, "rendezvous")
        processes = mp.start_processes(_child, args=(fn, nproc, rendezvous, args, results), nprocs=nproc,
                                       start_method="spawn", join=False)
        payload = None
        while not processes.join(timeout=1.0):     # raises when a process fails
            if payload is None and not results.empty():
                payload = results.get()            # read while rank 0 may still block on a full pipe
    return pickle.loads(payload if payload is not None else results.get())
