"""Errors caused by user input, which the CLI reports in one line with exit code 2."""

from __future__ import annotations

__all__ = ["MissingDependency", "UserError", "require"]


class UserError(Exception):
    """Bad input from the user: a file, a parameter, a missing device or peer.

    The message is one line that names the culprit (file, node, parameter) and
    says what to do. The CLI prints it without a traceback and exits with 2.
    """


class MissingDependency(UserError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs {package}: pip install 'evstream[{extra}]'")
        self.package = package
        self.extra = extra


def require(module: str, package: str, extra: str, feature: str):  # noqa: ANN201 - returns a module
    """Import optional ``module`` or raise :class:`MissingDependency` naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(package, extra, feature) from exc
