"""`planner balance`: what each resource would need to be for the bottleneck to move."""

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
    HardwareOpt,
    JobsOpt,
    ModelOpt,
    SetOpt,
    TableJson,
    WorkloadOpt,
    count_option,
    handle_errors,
)
from planner import api
from planner.inputs import io
from planner.inputs.layout import parse_layout, validate_layout
from planner.inputs.limits import MAX_BATCH
from planner.whatif.balance import balance as run_balance
from planner.whatif.balance import default_batch


@handle_errors
def balance(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
    overrides: SetOpt = None,
    layout: Annotated[str | None, typer.Option(help='Hold this layout instead of the one `size` picks, '
                                               'e.g. "tp=1,dp=8,ep=8"')] = None,
    batch: Annotated[str | None, typer.Option(help="Batch per DP rank with --layout "
                                                   "(default: the largest that fits)")] = None,
    fmt: FormatOpt = TableJson.table,
    jobs: JobsOpt = None,
) -> None:
    """What each resource would need for the bottleneck to move.

    The HBM bandwidth (and pin speed), scale-up bandwidth per GPU, domain size and NVMe bandwidth
    per GPU at which each resource would stop binding, at the layout `planner size` picks for the
    workload (or --layout). Exit 1 when the workload is infeasible.

    Example: planner balance --model deepseek-v4-pro --hardware gb200-nvl72
    --set model.precision.expert_activations=nvfp4
    """
    sets = io.parse_overrides(overrides or [])
    m, hw, w, e = api.load(model, hardware, workload, sets, engine)
    lay = None
    if layout is not None:
        lay = validate_layout(m, hw, parse_layout(layout, routing=w.expert_routing))
        given = count_option("--batch", batch, maximum=MAX_BATCH) if batch is not None else None
        lay = lay.model_copy(update={"batch": given or default_batch(m, hw, w, lay, e)})
    elif batch is not None:
        raise io.InputError("--batch needs --layout", hint='e.g. --layout "tp=1,dp=8,ep=8" --batch 64')
    result = run_balance(m, hw, w, lay, e, jobs=jobs)
    if fmt == TableJson.json:
        render.json_out(result.to_dict())
    else:
        render.balance(result.to_dict())
    raise typer.Exit(0 if result.feasible else 1)
