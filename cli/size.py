"""`planner size`: the main job."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.roofline import check_path, write_roofline
from cli.common import (DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_WORKLOAD, HardwareOpt, ModelOpt, SetOpt,
                        WorkloadOpt, handle_errors)
from planner import io
from planner.plan import build_plan, load_plan_inputs, plan_toml, write_atomic
from planner.sizing import size as run_size


class SizeFormat(StrEnum):
    table = "table"
    json = "json"
    toml = "toml"
    markdown = "markdown"


@handle_errors
def size(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    overrides: SetOpt = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Re-evaluate an exported plan (its resolved inputs)")] = None,
    export: Annotated[Path | None, typer.Option("--export", help="Write the plan as TOML (atomic)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --export file")] = False,
    fmt: Annotated[SizeFormat, typer.Option("--format", "-f", help="Output format")] = SizeFormat.table,
    roofline: Annotated[Path | None, typer.Option("--roofline", callback=check_path, help="Draw each phase on the machine's roofline: FILE.svg or FILE.png (needs the plot extra)")] = None,
) -> None:
    """Size HBM, the scale-up domain, KV tiers and the cluster for a workload.

    The cheapest layout that meets the demand and SLOs, why, and what bounds it. Exit 1 when no
    layout meets the targets.

    Example: planner size --model deepseek-v4-pro --hardware gb300-nvl72 --workload agentic
    """
    sets = io.parse_overrides(overrides or [])
    for target in (export, roofline):            # refuse before any work, not after it
        if target is not None and target.exists() and not force:
            raise io.InputError("file exists", source=str(target), hint="use --force to replace it")
    if plan is not None:
        m, hw, w = load_plan_inputs(plan)
        if sets:
            m, hw, w = io.load_inputs(m.model_dump(mode="json"), hw.model_dump(mode="json"),
                                      w.model_dump(mode="json"), sets)
    else:
        m, hw, w = io.load_inputs(model, hardware, workload, sets)
    result = run_size(m, hw, w)
    data = build_plan(result)
    if export is not None:
        write_atomic(export, plan_toml(data), force)
    if fmt == SizeFormat.json:
        render.json_out(data)
    elif fmt == SizeFormat.toml:
        render.text_out(plan_toml(data))
    elif fmt == SizeFormat.markdown:
        render.text_out(render.plan_markdown(data))
    else:
        render.plan(data)
        if export is not None:
            render.note(f"plan written to {export}")
    write_roofline(roofline, data, hw, force)
    raise typer.Exit(0 if result.feasible else 1)
