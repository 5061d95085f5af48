"""Load a graph from a TOML file, validating everything before anything runs.

File layout (one ``[[node]]`` table per node)::

    [[node]]
    name = "src"                 # unique name
    type = "io.replay"           # registered node type (`evstream nodes` lists them)
    path = "recordings/demo.aedat4"

    [[node]]
    name = "frames"
    type = "binning.count"
    input = "src"                # upstream name, a list of names, or {port = name(s)}
    policy = "block"             # this node's input edges: block | drop-oldest
    queue = 8                    # capacity of each input edge, packets
    window_us = 10000            # every other key is a parameter of the node type

Every error (bad TOML, unknown type or parameter, missing or mistyped
parameter, unknown input, port-type mismatch, cycle) is a one-line
:class:`GraphError` that starts with the file name and names the node and the
fix.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evstream.errors import UserError
from evstream.graph import registry
from evstream.graph.node import suggest
from evstream.graph.runtime import Graph, GraphError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RESERVED_KEYS", "load_graph", "graph_from_tables", "parse_override"]

RESERVED_KEYS: tuple[str, ...] = ("name", "type", "input", "policy", "queue")
"""Keys of a ``[[node]]`` table that are wiring, not node parameters."""


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split ``"node.param=value"``; the value is read as TOML (``10``, ``true``, ``"x"``) or kept as text."""
    key, sep, raw = text.partition("=")
    node, dot, param = key.strip().partition(".")
    if not sep or not dot or not node or not param:
        raise UserError(f"--set {text!r}: expected NODE.PARAM=VALUE, e.g. --set src.path=recording.raw")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return node, param, value


def load_graph(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Graph:
    """Build the :class:`Graph` described by the TOML file ``path``.

    Args:
        path: a graph file, e.g. ``nodes/replay.toml``.
        overrides: ``{"node.param": value}`` applied on top of the file (the
            CLI's ``--set``); string values are parsed as TOML where possible.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GraphError(f"{path}: cannot read graph file ({exc.strerror})") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GraphError(f"{path}: not valid TOML: {exc}") from exc
    tables = doc.get("node")
    unknown = set(doc) - {"node", "description"}
    if unknown:
        raise GraphError(f"{path}: unknown top-level key(s) {sorted(unknown)}; a graph file holds [[node]] tables")
    if not isinstance(tables, list) or not tables:
        raise GraphError(f"{path}: no [[node]] tables; see `evstream run --help` for the file layout")
    try:
        return graph_from_tables(tables, overrides or {})
    except UserError as exc:
        raise GraphError(f"{path}: {exc}") from exc


def graph_from_tables(tables: list[dict[str, Any]], overrides: Mapping[str, Any]) -> Graph:
    """Build a graph from ``[[node]]`` tables (see the module docstring)."""
    by_name: dict[str, dict[str, Any]] = {}
    for i, table in enumerate(tables):
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise GraphError(f"node #{i + 1} has no 'name' (a unique string)")
        if name in by_name:
            raise GraphError(f"node name {name!r} is used twice")
        if not isinstance(table.get("type"), str):
            raise GraphError(f"node {name!r} has no 'type'; `evstream nodes` lists the types")
        by_name[name] = dict(table)
    for key, value in overrides.items():
        node, _, param = key.partition(".")
        if node not in by_name:
            raise GraphError(f"--set {key}: no node {node!r}{suggest(node, by_name)}")
        if isinstance(value, str):
            value = parse_override(f"{key}={value}")[2]
        by_name[node][param] = value
    upstream = {name: _upstream_names(name, t.get("input"), by_name) for name, t in by_name.items()}
    graph = Graph()
    for name in _topological_order(upstream):
        table = by_name[name]
        cls = _node_class(name, table["type"])
        params = {k: v for k, v in table.items() if k not in RESERVED_KEYS}
        node = cls(name, **params)
        graph.add(node, input=table.get("input"), policy=table.get("policy", "block"),
                  queue=table.get("queue", 8))
    return graph


def _node_class(name: str, type_name: str) -> type:
    try:
        return registry.get(type_name)
    except registry.NodeTypeError as exc:
        raise GraphError(f"node {name!r}: {exc}") from exc


def _upstream_names(name: str, spec: Any, by_name: Mapping[str, Any]) -> list[str]:
    if spec is None:
        return []
    groups = spec.values() if isinstance(spec, dict) else [spec]
    names: list[str] = []
    for group in groups:
        items = [group] if isinstance(group, str) else group
        if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
            raise GraphError(f"node {name!r}: 'input' must be a node name, a list of names or "
                             f"a table port = name(s) (got {spec!r})")
        for up in items:
            if up not in by_name:
                raise GraphError(f"node {name!r}: input {up!r} is not a node of this graph{suggest(up, by_name)}")
            names.append(up)
    return names


def _topological_order(upstream: Mapping[str, list[str]]) -> list[str]:
    """Names ordered so that every node comes after its inputs; a cycle is a :class:`GraphError`."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = (path[path.index(name):] + [name])[::-1]  # in data-flow order
            raise GraphError(f"the graph has a cycle: {' -> '.join(cycle)}; data must flow one way")
        state[name] = 1
        for up in upstream[name]:
            visit(up, path + [name])
        state[name] = 2
        order.append(name)

    for name in upstream:
        visit(name, [])
    return order
