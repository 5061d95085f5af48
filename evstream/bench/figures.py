"""What the PNG figures of ``evstream bench ... --plot`` share: matplotlib set up off-screen, and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evstream.errors import UserError, require

__all__ = ["pyplot", "save_figure"]


def pyplot(command: str) -> Any:
    """``matplotlib.pyplot`` on the off-screen Agg backend; raises
    :class:`~evstream.errors.MissingDependency` naming ``command`` when matplotlib is missing."""
    require("matplotlib", "matplotlib", "dev", command)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> None:
    """Write ``fig`` as a PNG to ``path`` and close it; :class:`~evstream.errors.UserError` when the
    path cannot be written."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserError(f"--plot {path}: cannot write the figure ({exc.strerror}); choose a writable path") from exc
    finally:
        plt.close(fig)
