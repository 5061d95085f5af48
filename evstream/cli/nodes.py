"""``evstream nodes``: every node type with its ports, parameters and documentation."""

from __future__ import annotations

import argparse
import inspect
import json

HELP = "list node types with their ports and parameters"
DESCRIPTION = """List every node type that graph files can use, with its input and output
port kinds, its parameters (type, default, unit) and its documentation.

examples:
  evstream nodes
  evstream nodes binning          # types whose name contains "binning"
  evstream nodes --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="?", default="", help="show only types whose name contains this text")
    parser.add_argument("--json", action="store_true", help="print as JSON")


def describe(cls: type) -> dict:
    """Ports, parameters and doc of one node class."""
    params = {}
    for name, p in cls.params.items():
        params[name] = {"type": p.type_names(), "required": p.required, "doc": p.doc,
                        "default": None if p.required else p.default}
        if p.choices:
            params[name]["choices"] = list(p.choices)
    return {"inputs": cls.ports(), "output": cls.output_kind, "params": params,
            "doc": inspect.getdoc(cls) or ""}


def run(args: argparse.Namespace) -> int:
    from evstream.graph.registry import all_types

    types = {k: describe(v) for k, v in all_types().items() if args.filter in k}
    if args.json:
        print(json.dumps(types, indent=2, default=str))
        return 0
    for name, d in types.items():
        ins = ", ".join(f"{p}: {k}" for p, k in d["inputs"].items()) or "-"
        print(f"{name}  [in: {ins}; out: {d['output'] or '-'}]")
        print("    " + (d["doc"].splitlines() or [""])[0])
        for pname, p in d["params"].items():
            default = "required" if p["required"] else f"default {p['default']!r}"
            print(f"    {pname} ({p['type']}, {default}): {p['doc']}")
    return 0
