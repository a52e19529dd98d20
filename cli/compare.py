"""`planner compare`: several machines (or models) side by side for one workload."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_WORKLOAD,
    EngineOpt,
    FormatOpt,
    SetOpt,
    TableJson,
    WorkloadOpt,
    handle_errors,
)
from planner.inputs import io
from planner.whatif.sweep import compare as run_compare


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
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes "
                                                                         "(default: all cores)")] = None,
) -> None:
    """Size one workload on several machines or models, side by side.

    --hardware A,B,C or --model A,B: GPUs, racks, power, TTFT, TPOT, tokens/s per GPU, decode
    bottleneck, feasible.

    Example: planner compare --hardware h200-sxm,b200-hgx,gb200-nvl72,gb300-nvl72 --workload chat
    """
    sets = io.parse_overrides(overrides or [])
    result = run_compare(model=_names(model), hardware=_names(hardware), workload=workload, engine=engine, sets=sets,
                         jobs=jobs)
    if fmt == TableJson.json:
        render.json_out(result.to_dict())
    else:
        render.compare_table(result.axis, result.to_dict(), result.workload)
