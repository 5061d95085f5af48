"""What each process of the distributed tests runs (module-level, so spawned processes can import it).

:func:`shard_gradients` gives one rank's gradients of a tiny float64 STC-LIF net
on its half of a fixed batch, averaged over the ranks by the trainer's
mechanisms; :func:`full_batch_gradients` is the one-process reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evstream.learning.distributed import World, join, leave
from evstream.learning.networks import reset_sequence, use_rule
from evstream.learning.stllr import STLLRFactors, stllr_sequence
from evstream.nn.zoo import build

BATCH = 8
STEPS = 4
WINDOW = 2


def _problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny float64 STC-LIF MLP and a batch ``(T, B, 2, 4, 4)`` of event counts with labels, seeded."""
    torch.manual_seed(0)
    net = build("mlp", in_shape=[2, 4, 4], features=[32], n_classes=3, neuron="stc-lif").double()
    frames = torch.poisson(torch.full((STEPS, BATCH, 2, 4, 4), 0.8, dtype=torch.float64))
    labels = torch.randint(0, 3, (BATCH,))
    return net, frames, labels


def _gradients(net: torch.nn.Module, frames: torch.Tensor, labels: torch.Tensor, rule: str,
               world: World) -> list[torch.Tensor]:
    reset_sequence(net)
    if rule == "bptt":
        model = world.wrap(net)
        F.cross_entropy(model(frames).mean(0), labels).backward()
    else:
        use_rule(net, "stllr", STLLRFactors(0.2, 0.75, 0.0, 1.0))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
        stllr_sequence(net, frames, labels, optimizer, WINDOW,
                       sync=lambda: world.average_gradients(net.parameters()))
    return [p.grad.clone() for p in net.parameters()]


def shard_gradients(rule: str) -> list[torch.Tensor]:
    """This rank's averaged gradients after a BPTT (DDP) or S-TLLR (all-reduce) step on its half of the batch."""
    world = join(torch.device("cpu"))
    try:
        net, frames, labels = _problem()
        half = slice(world.rank * BATCH // world.size, (world.rank + 1) * BATCH // world.size)
        return _gradients(net, frames[:, half], labels[half], rule, world)
    finally:
        leave()


def full_batch_gradients(rule: str) -> list[torch.Tensor]:
    """The gradients of one process on the whole batch."""
    net, frames, labels = _problem()
    return _gradients(net, frames, labels, rule, World())
