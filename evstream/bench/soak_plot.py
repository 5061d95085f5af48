"""The PNG of ``evstream bench soak --plot``: resident memory and frame latency over the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evstream.bench.figures import pyplot, save_figure

__all__ = ["plot_soak"]


def plot_soak(path: str | Path, summary: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    """Write a PNG of RSS (MB) of both processes, latency p50/p99/max (ms) per interval, and counted drops.

    Raises :class:`~evstream.errors.MissingDependency` when matplotlib is not
    installed and :class:`~evstream.errors.UserError` when ``path`` cannot be written.
    """
    plt = pyplot("evstream bench soak --plot")
    minutes = [s["t_s"] / 60 for s in samples]
    fig, (mem, lat, drops) = plt.subplots(3, 1, figsize=(9, 8), sharex=True, height_ratios=(3, 3, 1.4))
    mem.plot(minutes, [s["rss_send_mb"] for s in samples], label="sending process (camera -> network -> ZeroMQ)")
    mem.plot(minutes, [s["rss_recv_mb"] for s in samples], label="receiving process (ZeroMQ -> sink)")
    mem.axvline(summary["warmup_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    mem.set_ylabel("RSS (MB)")
    mem.set_ylim(bottom=0)
    mem.legend(loc="center right", fontsize=8)
    mem.set_title(f"evstream bench soak: {summary['mev_s_target']:g} Mev/s for {summary['minutes']:g} min, "
                  f"unexplained drops {summary['unexplained_drops']}, counted drops {summary['drops_counted']}",
                  fontsize=10)
    timed = [(m, s) for m, s in zip(minutes, samples) if s["interval_frames"]]
    for key, style in (("max_ms", ":"), ("p99_ms", "-"), ("p50_ms", "-")):
        lat.plot([m for m, _ in timed], [s[key] for _, s in timed], style, label=key.replace("_ms", ""))
    lat.set_yscale("log")
    lat.set_ylabel("window end -> sink (ms)")
    lat.legend(loc="upper right", fontsize=8)
    drops.plot(minutes, [s["drops"] for s in samples], color="tab:red")
    drops.set_ylabel("counted drops\n(packets, total)")
    drops.set_xlabel("time (min)")
    save_figure(fig, path)
