"""Pictures (the optional `plot` extra): the option check every picture option shares, and the
frontier drawing. matplotlib is imported only when a picture is asked for."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from planner.whatif.frontier import Frontier

INSTALL = "install the plot extra: pip install 'llm-capacity-planner[plot]'"
SUFFIXES = (".svg", ".png")


def picture_path(option: str) -> Callable[[Path | None], Path | None]:
    """An option callback: fail before any work when the picture cannot be written."""
    def check(value: Path | None) -> Path | None:
        if value is None:
            return None
        from cli import render
        if value.suffix.lower() not in SUFFIXES:
            render.error(f"{option} {value}: the file must end in .svg or .png")
            raise typer.Exit(2)
        if importlib.util.find_spec("matplotlib") is None:
            render.error(INSTALL)
            raise typer.Exit(2)
        return value
    return check


def save_figure(fig: Any, path: Path, force: bool) -> None:
    """Write a figure (SVG or PNG by extension) through the one writer of user files."""
    from planner.files import write_output
    write_output(path, lambda handle: fig.savefig(handle, format=path.suffix.lower().lstrip(".")), force)


def write_frontier_picture(path: Path | None, f: Frontier, force: bool = False) -> None:
    """Every point, grey, and the frontier on top, each frontier point labelled with its layout."""
    if path is None:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cli import render
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    try:
        ax.scatter([p.tokens_per_s_per_user for p in f.points], [p.tokens_per_s_per_gpu for p in f.points],
                   s=10, color="#bbbbbb", label=f"{len(f.points)} options evaluated")
        xs = [p.tokens_per_s_per_user for p in f.pareto]
        ys = [p.tokens_per_s_per_gpu for p in f.pareto]
        ax.plot(xs, ys, "o-", color="#d62728", lw=2, ms=5, label="Pareto frontier")
        for p in f.pareto[:: max(1, len(f.pareto) // 8)]:
            ax.annotate(f"{p.layout.label()} b={p.layout.batch}" + (" disagg" if p.prefill_layout else ""),
                        (p.tokens_per_s_per_user, p.tokens_per_s_per_gpu), fontsize=6, xytext=(4, 4),
                        textcoords="offset points")
        if f.tpot_target_s:
            ax.axvline(1 / f.tpot_target_s, color="#1f77b4", ls="--", lw=1,
                       label=f"TPOT target {f.tpot_target_s * 1e3:g} ms")
        ax.set_xlabel("output tokens/s per user (1 / TPOT)")
        ax.set_ylabel("output tokens/s per GPU")
        ax.set_title(f"{f.model} on {f.hardware} ({f.workload})")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=8)
        fig.tight_layout()
        save_figure(fig, path, force)
    finally:
        plt.close(fig)
    render.note(f"frontier written to {path}")
