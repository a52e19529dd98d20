"""`planner size`: the main job."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    BatchOpt,
    EngineOpt,
    HardwareOpt,
    JobsOpt,
    LayoutOpt,
    ModelOpt,
    MtpAcceptanceOpt,
    MtpDepthOpt,
    PrefillLayoutOpt,
    ServingOpt,
    SetOpt,
    WorkloadOpt,
    count_option,
    handle_errors,
    path_arg,
    refuse_existing,
    speculative_sets,
)
from cli.roofline import check_path, write_roofline
from planner import api
from planner.files import write_output
from planner.inputs import io
from planner.inputs.limits import MAX_BATCH, MAX_GPUS
from planner.plan.schema import (
    PlanInputs,
    build_plan,
    evaluate_inputs,
    load_plan_inputs,
    plan_integrity,
    plan_toml,
)


class SizeFormat(StrEnum):
    table = "table"
    json = "json"
    toml = "toml"
    markdown = "markdown"


@handle_errors
def size(
    model: ModelOpt = api.DEFAULT_MODEL,
    hardware: HardwareOpt = api.DEFAULT_HARDWARE,
    workload: WorkloadOpt = api.DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
    overrides: SetOpt = None,
    mtp_depth: MtpDepthOpt = None,
    mtp_acceptance: MtpAcceptanceOpt = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Re-evaluate an exported plan "
                                                             "(its resolved inputs)", parser=path_arg)] = None,
    layout: LayoutOpt = None,
    batch: BatchOpt = None,
    serving: ServingOpt = None,
    prefill_layout: PrefillLayoutOpt = None,
    gpus: Annotated[str | None, typer.Option(help="With --layout: pin the cluster to this many GPUs")] = None,
    replicas: Annotated[int | None, typer.Option(min=1, max=1, help="With --layout: 1 = one replica at its capacity "
                                                 "(what `estimate` evaluates)")] = None,
    export: Annotated[Path | None, typer.Option("--export", help="Write the plan as TOML (atomic)",
                                                parser=path_arg)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --export file")] = False,
    top: Annotated[int, typer.Option("--top", min=1, max=50,
                                     help="Also show the next N-1 cheapest layouts, each as pinning it gives")] = 1,
    fmt: Annotated[SizeFormat, typer.Option("--format", "-f", help="Output format")] = SizeFormat.table,
    roofline: Annotated[Path | None, typer.Option("--roofline", callback=check_path, parser=path_arg,
                                                  help="Draw each phase on the machine's roofline: FILE.svg or "
                                                       "FILE.png (needs the plot extra)")] = None,
    jobs: JobsOpt = None,
) -> None:
    """Size HBM, the scale-up domain, KV tiers and the cluster for a workload.

    The cheapest layout that meets the demand and every target, why, and what bounds it; or, with
    --layout and --batch, that layout checked as given (as a proposal's [layout] is). Exit 1 when
    a target is missed (TTFT, TPOT, HBM, the demand), exactly as `planner check` would.

    Example: planner size --model deepseek-v4-pro --hardware gb300-nvl72 --workload agentic
    """
    sets = io.parse_overrides(overrides or [])
    sets.update(speculative_sets(mtp_depth, mtp_acceptance))
    refuse_existing(force, export, roofline)            # before any work, not after it
    pinned = (layout, batch, prefill_layout, gpus, replicas)
    if layout is None and any(v is not None for v in pinned):
        raise io.InputError("--batch, --prefill-layout, --gpus and --replicas pin a layout: give --layout too",
                            hint='e.g. --layout "tp=4" --batch 140')
    if plan is not None:
        if layout is not None:
            raise io.InputError("give --plan or --layout, not both (a plan records its own layout)")
        inputs = load_plan_inputs(plan)
        problem = plan_integrity(plan).problem()
        if sets:
            m, hw, w, e = api.load(inputs.model, inputs.hardware, inputs.workload, sets, inputs.engine)
            inputs = PlanInputs(model=m, hardware=hw, workload=w, engine=e, layout=inputs.layout)
        result = build_plan(evaluate_inputs(inputs))
        if problem is not None:         # not an error: --plan re-evaluates the inputs, it never re-uses results
            render.note(f"warning: {plan}: {problem}; the results shown are re-evaluated from its inputs")
    elif layout is not None:
        if batch is None:
            raise io.InputError("--layout needs --batch (sequences per attention-DP rank)", field="--batch")
        result = api.evaluate(model, hardware, workload, layout, engine=engine,
                              batch=count_option("--batch", batch, maximum=MAX_BATCH),
                              serving=serving, prefill_layout=prefill_layout,
                              gpus=count_option("--gpus", gpus, maximum=MAX_GPUS) if gpus is not None else None,
                              replicas=replicas, sets=sets)
    else:
        result = api.size(model, hardware, workload, engine=engine, sets=sets, serving=serving, top=top,
                          jobs=jobs)
    if export is not None:
        write_output(export, plan_toml(result), force)
    if fmt == SizeFormat.json:
        render.json_out(result.to_json_dict())
    elif fmt == SizeFormat.toml:
        render.text_out(plan_toml(result))
    elif fmt == SizeFormat.markdown:
        render.text_out(render.plan_markdown(result))
    else:
        render.plan(result)
        if export is not None:
            render.note(f"plan written to {export}")
    write_roofline(roofline, result, result.inputs.hardware, force)
    raise typer.Exit(0 if result.feasible else 1)
