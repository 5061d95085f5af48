"""Stateful module base: declared state, single-step and multi-step calls.

A :class:`MemoryModule` declares its state with :meth:`register_memory`; the
state is allocated lazily on the first :meth:`step` from the input's shape,
device and dtype, checked on every later step (a batch change without
:meth:`reset` raises :class:`StateShapeError`), and cleared by :meth:`reset`.

Calling conventions (SpikingJelly's step modes):

* ``layer.step(x_t)``: one time step, ``x_t`` of shape ``(N, ...)``; state kept.
* ``layer.multi_step(x_seq)``: ``T`` steps, ``x_seq`` of shape ``(T, N, ...)``;
  identical to ``T`` calls of ``step`` (it continues from the current state).
* ``layer(x)``: ``step`` when ``step_mode == "s"`` (the default for layers),
  ``multi_step`` when ``"m"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from evstream.errors import UserError

__all__ = ["MemoryModule", "StateShapeError", "memory_modules", "reset_net"]


class StateShapeError(UserError, ValueError):
    """A step's input shape differs from the shape of the state held by a layer."""


class MemoryModule(nn.Module):
    """Base of every stateful layer; subclasses implement :meth:`_step`."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        if step_mode not in ("s", "m"):
            raise ValueError(f"step_mode must be 's' or 'm' (got {step_mode!r})")
        self.step_mode = step_mode
        self._memory_names: list[str] = []
        self._state_shape: tuple[int, ...] | None = None

    def register_memory(self, name: str) -> None:
        """Declare a state attribute; it is ``None`` until the first step and after :meth:`reset`."""
        self._memory_names.append(name)
        setattr(self, name, None)

    # -- state ---------------------------------------------------------------------
    def reset(self) -> None:
        """Clear all state (call before every new sequence or batch)."""
        for name in self._memory_names:
            setattr(self, name, None)
        self._state_shape = None

    reset_state = reset

    def detach_state(self) -> None:
        """Cut the autograd graph of every state tensor (truncated BPTT, S-TLLR)."""
        for name in self._memory_names:
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.detach())
            elif isinstance(value, list):
                setattr(self, name, [t.detach() for t in value])

    def state_dict_runtime(self) -> dict[str, object]:
        """The declared state by name (tensors, lists of tensors or ``None``)."""
        return {name: getattr(self, name) for name in self._memory_names}

    def check_shape(self, x: torch.Tensor) -> bool:
        """Record or verify the per-step input shape; ``True`` when the state is fresh."""
        shape = tuple(x.shape)
        if self._state_shape is None:
            self._state_shape = shape
            return True
        if shape != self._state_shape:
            raise StateShapeError(
                f"{type(self).__name__}: step input of shape {shape} does not match the state "
                f"shape {self._state_shape}; call reset() before changing the batch or geometry")
        return False

    # -- calls ---------------------------------------------------------------------
    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One time step on ``x`` of shape ``(N, ...)``; returns spikes of the output shape."""
        return self._step(x)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``T`` steps on ``x_seq`` of shape ``(T, N, ...)``; returns ``(T, N, ...)``."""
        return torch.stack([self.step(x_seq[t]) for t in range(x_seq.shape[0])])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(x) if self.step_mode == "s" else self.multi_step(x)


def memory_modules(net: nn.Module) -> Iterator[MemoryModule]:
    """Every :class:`MemoryModule` inside ``net`` (including itself)."""
    return (m for m in net.modules() if isinstance(m, MemoryModule))


def reset_net(net: nn.Module) -> None:
    """Reset the state of every stateful layer in ``net``."""
    for m in memory_modules(net):
        m.reset()
