"""`planner compare`: models × machines × option grids, side by side for one workload."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_WORKLOAD,
    EngineOpt,
    JobsOpt,
    SetOpt,
    WorkloadOpt,
    handle_errors,
)
from planner.inputs import io
from planner.whatif.sweep import compare as run_compare
from planner.whatif.sweep import parse_vary


class CompareFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@handle_errors
def compare(
    hardware: Annotated[str, typer.Option("--hardware", "-H", help="Comma-separated presets "
                                                                   "or TOML files")] = DEFAULT_HARDWARE,
    model: Annotated[str, typer.Option("--model", "-m", help="Comma-separated presets, "
                                                             "model TOMLs or HF configs")] = DEFAULT_MODEL,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
    grid: Annotated[list[str] | None, typer.Option(
        "--set-grid", help="KEY=V1,V2 (repeatable): more columns to cross, e.g. "
                           "model.precision.experts=fp8,nvfp4")] = None,
    sort: Annotated[str | None, typer.Option(
        help="Order by a column: usd_per_million_output_tokens (default when priced), gpus, power_w, "
             "tokens_per_s_per_gpu, tpot_s ...")] = None,
    descending: Annotated[bool, typer.Option("--descending", help="Largest first")] = False,
    overrides: SetOpt = None,
    fmt: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.table,
    jobs: JobsOpt = None,
) -> None:
    """Size one workload on every combination of models, machines and --set-grid values.

    One row each: GPUs, racks, power, $/hour and $ per million output tokens (from each machine's
    dated price), TTFT, TPOT, tokens/s per GPU and the binding resource; sorted by $/M tokens when
    priced, else by GPUs.

    Example: planner compare --model llama-3.1-70b --hardware h100-sxm,h200-sxm,b200-hgx --workload chat
    """
    sets = io.parse_overrides(overrides or [])
    result = run_compare(model=_names(model), hardware=_names(hardware), workload=workload, engine=engine, sets=sets,
                         grid=parse_vary(grid or []), jobs=jobs)
    priced = any(r.usd_per_million_output_tokens is not None for r in result.rows)
    result = result.sorted_by(sort or ("usd_per_million_output_tokens" if priced else "gpus"), descending)
    rows = result.to_rows()
    if fmt == CompareFormat.json:
        render.json_out(rows)
    elif fmt == CompareFormat.csv:
        render.text_out(render.sweep_csv(list(rows[0]) if rows else [], rows))
    else:
        render.compare_table(list(result.keys), rows, result.workload, markdown=fmt == CompareFormat.markdown)
