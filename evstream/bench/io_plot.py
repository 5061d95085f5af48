"""The PNG of ``evstream bench io --plot``: decode speed per format, evstream beside each peer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evstream.bench.figures import pyplot, save_figure

__all__ = ["plot_io"]


def plot_io(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write horizontal bars of Mev/s per case (format) and tool, with each case's goal as a tick.

    Peers that were skipped are left out; peers whose events are wrong are hatched. Raises
    :class:`~evstream.errors.MissingDependency` without matplotlib and
    :class:`~evstream.errors.UserError` when ``path`` cannot be written.
    """
    plt = pyplot("evstream bench io --plot")
    cases = list(dict.fromkeys(r["case"] for r in rows if "mev_s" in r and r["case"] != "rss"))
    fig, ax = plt.subplots(figsize=(9, 0.75 + 0.9 * len(cases)))
    labels, positions = [], []
    y = 0.0
    for case in reversed(cases):
        measured = [r for r in rows if r["case"] == case and "mev_s" in r]
        for row in reversed(measured):
            ours = row["tool"] == "evstream"
            ax.barh(y, row["mev_s"], height=0.8, color="tab:blue" if ours else "tab:grey",
                    hatch="//" if "wrong" in row.get("note", "") else None, edgecolor="white")
            ax.text(row["mev_s"], y, f" {row['mev_s']:.0f}", va="center", fontsize=7)
            labels.append(f"{case}: {row['tool']}")
            positions.append(y)
            if ours and row.get("goal_mev_s"):
                ax.plot([row["goal_mev_s"]] * 2, [y - 0.45, y + 0.45], color="tab:red", linewidth=2)
            y += 1
        y += 0.6
    ax.set_yticks(positions, labels, fontsize=7)
    ax.set_xlabel("decoded events per second (Mev/s, best of the runs; red tick: goal)")
    ax.set_title(f"evstream bench io: {rows[0].get('events', 0) / 1e6:g} M events per case, "
                 f"{rows[0].get('cpus', '?')} CPU cores (hatched: peer's events are wrong)", fontsize=9)
    save_figure(fig, path)
