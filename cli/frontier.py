"""`planner frontier`: the Pareto set of tokens/s per GPU against tokens/s per user."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_WORKLOAD,
    EngineOpt,
    HardwareOpt,
    ModelOpt,
    SetOpt,
    WorkloadOpt,
    handle_errors,
    refuse_existing,
)
from cli.pictures import picture_path, write_frontier_picture
from planner.errors import InputError
from planner.inputs import io
from planner.whatif.frontier import MODES
from planner.whatif.frontier import frontier as run_frontier
from planner.whatif.sweep import parse_vary


class FrontierFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


@handle_errors
def frontier(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", help="KEY=V1,V2,... (repeatable): options to cross, e.g. engine.mtp_depth=0,1,3 or "
                       "model.precision.experts=fp8,nvfp4")] = None,
    mode: Annotated[str, typer.Option(help="Serving modes: colocated, disaggregated or both")] = ",".join(MODES),
    price: Annotated[float | None, typer.Option(
        "--price", min=0.0, max=1e4, help="US$ per GPU-hour (default: the machine's dated price)")] = None,
    all_points: Annotated[bool, typer.Option("--all", help="List every point, not only the frontier")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", callback=picture_path("--plot"),
                                              help="Draw the frontier: FILE.svg or FILE.png (plot extra)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --plot file")] = False,
    overrides: SetOpt = None,
    fmt: Annotated[FrontierFormat, typer.Option("--format", "-f")] = FrontierFormat.table,
) -> None:
    """The throughput–interactivity frontier: every layout, serving mode and batch (and each --vary
    option), and the Pareto set of tokens/s per GPU against tokens/s per user.

    Each point names its layout: `planner size --layout ... --serving ...` (or `estimate`) reproduces
    it and `--export` saves it as a plan.

    Example: planner frontier -m llama-3.1-70b -H h200-sxm -w chat --vary engine.mtp_depth=0,1,3
    """
    refuse_existing(force, plot)
    modes = list(MODES) if mode.strip() == "both" else [m.strip() for m in mode.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise InputError(f"{mode!r}: expected colocated, disaggregated or both, comma-separated", field="--mode")
    result = run_frontier(model, hardware, workload, engine=engine, sets=io.parse_overrides(overrides or []),
                          vary=parse_vary(vary or []), modes=modes, price_per_gpu_hour=price)
    rows = result.to_rows(frontier_only=not all_points)
    if fmt == FrontierFormat.json:
        render.json_out({**result.to_dict(), "frontier": result.to_rows(), **({"points": rows} if all_points else {})})
    elif fmt == FrontierFormat.csv:
        render.text_out(render.sweep_csv(list(rows[0]) if rows else [], rows))
    else:
        render.frontier_table(result, rows, markdown=fmt == FrontierFormat.markdown, all_points=all_points)
    write_frontier_picture(plot, result, force)
