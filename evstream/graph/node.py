"""Node base classes: :class:`Source`, :class:`Transform`, :class:`Sink`.

A node type is a subclass that declares, as class attributes,

* ``type_name``: the registry name used in graph files (``"binning.count"``),
* ``input_kind`` / ``output_kind``: the port type it consumes / produces, one
  of :data:`evstream.packets.PORT_KINDS` or ``"any"`` (``None`` where the node
  has no such port: sources have no input, sinks no output),
* ``params``: a dict ``name -> Param`` describing its parameters,

and implements the hooks below. The runtime (:mod:`evstream.graph.runtime`)
calls every hook of one node from that node's own thread, so a node needs no
locking for its own state.

Hooks:

* ``start()``: open files, devices, sockets (called once before the first packet).
* Source: ``generate()`` yields packets until the stream ends; it should return
  promptly once :attr:`Node.stopping` is set (the runtime sets it on Ctrl-C).
  ``progress()`` may return ``(done, total)`` for a progress bar.
* Transform: ``process(packet, port)`` returns an iterable (often a list) of
  output packets; ``flush()`` returns the packets still held at end of stream.
* Sink: ``consume(packet, port)``.
* ``close()``: release resources (always called, also after errors).
* ``reset()``: clear stream state (called on discontinuities such as a seek).
* ``stats_extra()``: a dict merged into the node's stats (e.g. drops counted
  by a camera or a socket).

A node with more than one input port declares ``input_ports = {"frames":
"frames", "labels": "labels"}``; the first port is the default one. Nodes are
built with validated parameters: ``MyNode("name", window_us=10_000)``.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from evstream.errors import UserError

__all__ = ["Node", "Param", "ParamError", "Sink", "Source", "Transform", "suggest"]

_MISSING: Any = object()


class ParamError(UserError, ValueError):
    """A node parameter is unknown, missing or of the wrong type (a user error)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Param:
    """One node parameter.

    Args:
        type: expected Python type (``int``, ``float``, ``str``, ``bool``, ``list``,
            ``dict``) or a tuple of types. ``float`` parameters accept ints.
        default: value used when the parameter is not given; leave it out to
            make the parameter required.
        doc: one line for ``evstream nodes``; say the unit (µs, pixels, Hz).
        choices: allowed values, if the parameter is an enumeration.
    """

    type: type | tuple[type, ...]
    default: Any = _MISSING
    doc: str = ""
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def type_names(self) -> str:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " or ".join(t.__name__ for t in types)

    def check(self, node: str, name: str, value: Any) -> Any:
        """Return ``value`` converted where lossless (int -> float), else raise :class:`ParamError`."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if value is None and self.default is None:
            return value
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise ParamError(f"node {node!r}: parameter {name!r} must be {self.type_names()} "
                             f"(got {type(value).__name__} {value!r})")
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"node {node!r}: parameter {name!r} must be one of "
                             f"{', '.join(map(repr, self.choices))} (got {value!r}){suggest(str(value), map(str, self.choices))}")
        return value


class Node:
    """Base of every node type; see the module docstring for the contract."""

    type_name: ClassVar[str] = ""
    input_kind: ClassVar[str | None] = None
    output_kind: ClassVar[str | None] = None
    input_ports: ClassVar[dict[str, str] | None] = None
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, name: str, **values: Any) -> None:
        self.name = name
        self.stopping = threading.Event()
        for key, value in values.items():
            if key not in self.params:
                raise ParamError(f"node {name!r} ({self.type_name}): unknown parameter {key!r}"
                                 f"{suggest(key, self.params)} (known: {', '.join(self.params) or 'none'})")
        for key, spec in self.params.items():
            if key in values:
                value = spec.check(name, key, values[key])
            elif spec.required:
                raise ParamError(f"node {name!r} ({self.type_name}): missing required parameter {key!r} "
                                 f"({spec.type_names()}: {spec.doc})")
            else:
                value = spec.default
            setattr(self, key, value)

    @classmethod
    def ports(cls) -> dict[str, str]:
        """Input port name -> port kind (empty for sources)."""
        if cls.input_ports is not None:
            return dict(cls.input_ports)
        return {} if cls.input_kind is None else {"in": cls.input_kind}

    def param_values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.params}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.param_values()})"

    # -- hooks shared by all kinds -------------------------------------------------
    def start(self) -> None:
        """Open resources; called once from the node's thread before any packet."""

    def close(self) -> None:
        """Release resources; always called, also after an error."""

    def reset(self) -> None:
        """Clear stream state (on a discontinuity)."""

    def stats_extra(self) -> dict[str, Any]:
        """Node-specific counters merged into the runtime's stats."""
        return {}


class Source(Node):
    """A node with no input that produces packets."""

    def generate(self) -> Iterator[Any]:
        raise NotImplementedError

    def progress(self) -> tuple[float, float] | None:
        """``(done, total)`` in any unit for a progress bar, or ``None`` when unbounded."""
        return None


class Transform(Node):
    """A node that turns each input packet into zero or more output packets."""

    def process(self, packet: Any, port: str) -> Iterable[Any]:
        raise NotImplementedError

    def flush(self) -> Iterable[Any]:
        """Packets still held when every input has ended."""
        return ()


class Sink(Node):
    """A node that consumes packets and produces none."""

    def consume(self, packet: Any, port: str) -> None:
        raise NotImplementedError


@dataclass
class NodeSpec:
    """How a node is wired: its upstream node names per input port and the edge policy."""

    inputs: dict[str, list[str]] = field(default_factory=dict)
    policy: str = "block"
    queue: int = 8
