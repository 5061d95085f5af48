"""Registry of node types, filled by the ``@register`` decorator.

Built-in node types live in one module per room, listed in :data:`BUILTIN_MODULES`
by the prefix of their type name (``"binning.count"`` lives in
``evstream.binning.nodes``). Modules are imported only when a graph uses one
of their types, so a graph of file readers never imports torch. Other
packages add node types through the ``evstream.nodes`` entry-point group
(each entry point names a module that calls ``@register`` on import).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from evstream.graph.node import Node, ParamError, suggest

__all__ = ["BUILTIN_MODULES", "NodeTypeError", "all_types", "get", "register"]

BUILTIN_MODULES: dict[str, str] = {
    "core": "evstream.graph.builtin",
    "io": "evstream.io.nodes",
    "binning": "evstream.binning.nodes",
    "filters": "evstream.binning.nodes",
    "nn": "evstream.nn.nodes",
    "learning": "evstream.learning.nodes",
    "transport": "evstream.transport.nodes",
    "fanout": "evstream.transport.fanout_nodes",
    "cameras": "evstream.cameras.nodes",
    "viz": "evstream.viz.nodes",
    "tonic": "evstream.binning.tonic_nodes",
}
"""Type-name prefix -> module that registers those node types."""

_TYPES: dict[str, type[Node]] = {}
_plugins_loaded = False


class NodeTypeError(ParamError):
    """A graph names a node type that no module registers."""


def register(cls: type[Node]) -> type[Node]:
    """Class decorator: make ``cls`` available under ``cls.type_name``."""
    if not cls.type_name:
        raise ValueError(f"{cls.__name__} has no type_name")
    other = _TYPES.get(cls.type_name)
    if other is not None and other is not cls:
        raise ValueError(f"node type {cls.type_name!r} registered twice ({other.__name__} and {cls.__name__})")
    _TYPES[cls.type_name] = cls
    return cls


def _import_builtin(module: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # A room that does not exist yet, or whose optional dependency is missing,
        # simply registers no types; a missing *evstream* module is not an error.
        if exc.name is None or not (exc.name == module or module.startswith(exc.name + ".")):
            raise


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="evstream.nodes"):
        importlib.import_module(ep.value.split(":")[0])


def get(type_name: str) -> type[Node]:
    """The node class registered as ``type_name``; raises :class:`NodeTypeError` with a suggestion."""
    if type_name in _TYPES:
        return _TYPES[type_name]
    prefix = type_name.split(".", 1)[0]
    if prefix in BUILTIN_MODULES:
        _import_builtin(BUILTIN_MODULES[prefix])
    if type_name not in _TYPES:
        _load_plugins()
    if type_name not in _TYPES:
        known = all_types()
        raise NodeTypeError(f"unknown node type {type_name!r}{suggest(type_name, known)} "
                            "(`evstream nodes` lists them all)")
    return _TYPES[type_name]


def all_types() -> dict[str, type[Node]]:
    """Every registered node type (imports all built-in rooms and plugins)."""
    for module in dict.fromkeys(BUILTIN_MODULES.values()):
        _import_builtin(module)
    _load_plugins()
    return dict(sorted(_TYPES.items()))
