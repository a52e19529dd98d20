"""`planner sweep`: evaluate every combination of `--vary` values; one row per point."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_WORKLOAD,
    EngineOpt,
    HardwareOpt,
    JobsOpt,
    ModelOpt,
    MtpAcceptanceOpt,
    MtpDepthOpt,
    ServingOpt,
    SetOpt,
    WorkloadOpt,
    count_option,
    handle_errors,
    path_arg,
    refuse_existing,
    speculative_sets,
)
from planner.errors import InputError
from planner.files import write_output
from planner.inputs import io
from planner.inputs.limits import MAX_BATCH
from planner.whatif.sweep import SweepResult, iter_plan, make_plan, parse_vary, point_records, sweep_columns


class Executor(StrEnum):
    local = "local"
    dask = "dask"


class SweepFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    table = "table"


@handle_errors
def sweep(
    vary: Annotated[list[str], typer.Option("--vary", help="KEY=V1,V2,... or KEY=START:STOP:STEP (repeatable); "
                                            "keys as in --set, plus batch and layout.tp/dp/ep/pp with --fixed-layout")],
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
    overrides: SetOpt = None,
    mtp_depth: MtpDepthOpt = None,
    mtp_acceptance: MtpAcceptanceOpt = None,
    zipped: Annotated[bool, typer.Option("--zip", help="Pair the --vary lists element by element (equal lengths) "
                                         "instead of taking every combination")] = False,
    fixed_layout: Annotated[str | None, typer.Option("--fixed-layout", help='Evaluate `estimate` at this layout '
                                                     'instead of sizing, e.g. "tp=1,dp=8,ep=8" '
                                                     '(fast: ~10^4 points/s)')] = None,
    batch: Annotated[str | None, typer.Option(help="Sequences per attention-DP rank with --fixed-layout")] = None,
    serving: ServingOpt = None,
    fmt: Annotated[SweepFormat, typer.Option("--format", "-f", help="Output format")] = SweepFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout "
                                                                       "(atomic)", parser=path_arg)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file")] = False,
    jobs: JobsOpt = None,
    executor: Annotated[Executor, typer.Option("--executor", help="local: worker processes on this machine; "
                                               "dask: the cluster at --scheduler (needs the dask extra)")]
    = Executor.local,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address with --executor "
                                                  "dask, e.g. tcp://10.0.0.5:8786")] = None,
) -> None:
    """Evaluate a what-if grid over any input fields.

    Every combination of the --vary values (or, with --zip, the lists side by side) on top of the
    inputs and --set. Each point is sized like `planner size`, or with --fixed-layout and --batch
    evaluated exactly like `planner estimate` (one replica of the layout at its capacity).
    CSV and JSON lines are written as the points complete, in point order, so memory stays flat
    however large the grid; --executor dask runs the same points on a Dask cluster.
    An invalid value or an infeasible point is a row with
    feasible=false and its reason; the sweep never stops at one.

    Example: planner sweep --hardware gb200-nvl72 --fixed-layout "tp=1,dp=8,ep=8" --batch 64
    --vary hardware.hbm.pin_speed_gbps=8:12:1 --vary workload.isl=2048,8192
    """
    sets = io.parse_overrides(overrides or [])
    sets.update(speculative_sets(mtp_depth, mtp_acceptance))
    plan = make_plan(parse_vary(vary), model=model, hardware=hardware, workload=workload, engine=engine, sets=sets,
                     zipped=zipped,
                     layout=fixed_layout,
                     batch=count_option("--batch", batch, maximum=MAX_BATCH) if batch is not None else None,
                     serving=serving)
    if (executor == Executor.dask) != (scheduler is not None):
        raise InputError("--executor dask and --scheduler ADDRESS go together",
                         hint="e.g. --executor dask --scheduler tcp://10.0.0.5:8786")
    refuse_existing(force, output)
    if fmt == SweepFormat.table and output is None:     # a table needs every row before it draws
        with render.progress(plan.count) as tick:
            result = SweepResult(keys=plan.keys, mode="estimate" if plan.layout is not None else "size",
                                 rows=tuple(iter_plan(plan, jobs, tick, scheduler)))
        render.sweep_table(list(result.keys), list(result.records()),
                           f"{len(result):,} points ({result.mode}); {sum(r.feasible for r in result)} feasible")
        return
    with render.progress(plan.count) as tick:
        rows = iter_plan(plan, jobs, tick, scheduler)
        records = point_records(plan.keys, rows)
        # a table into a file: CSV is the useful form
        pieces = (render.sweep_jsonl_pieces(records) if fmt == SweepFormat.jsonl
                  else render.sweep_csv_pieces(sweep_columns(plan.keys), records))
        if output is None:
            render.text_stream(pieces)
            return

        def emit(handle: IO[bytes]) -> None:
            for piece in pieces:
                handle.write(piece.encode("utf-8"))

        write_output(output, emit, force)
    render.note(f"{plan.count:,} points written to {output}")
