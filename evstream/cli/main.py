"""``evstream`` command line: one sub-command per module of :mod:`evstream.cli`.

Each command module defines ``HELP`` (one line), ``DESCRIPTION`` (the
``--help`` text, with examples), ``add_arguments(parser)`` and
``run(args) -> int``. Heavy imports (torch, Qt, camera SDKs) happen inside
``run``, so ``evstream --help`` stays fast. User errors
(:class:`evstream.errors.UserError`) print one line and exit with 2; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from evstream import __version__
from evstream.errors import UserError

COMMANDS: tuple[str, ...] = (
    "run", "nodes", "info", "convert", "play", "record", "cameras", "simulate",
    "bench", "train", "eval", "view", "keys", "gesture",
)
"""Sub-commands in ``--help`` order; a module missing from :mod:`evstream.cli` is skipped."""


def import_present(package: str, names: Sequence[str]) -> dict[str, object]:
    """``{name: module}`` for the modules ``package.name`` that exist (missing ones are skipped)."""
    modules = {}
    for name in names:
        try:
            modules[name] = importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evstream",
        description="Stream event-camera data into stateful spiking neural networks.",
        epilog="Run `evstream COMMAND --help` for the options and examples of one command.",
    )
    parser.add_argument("--version", action="version", version=f"evstream {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in import_present("evstream.cli", COMMANDS).items():
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logging")
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="evstream: %(levelname)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except UserError as exc:
        if debug:
            raise
        print(f"evstream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"evstream {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
