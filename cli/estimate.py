"""`planner estimate`: one replica of a fixed layout, through the same engine as `size`."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from cli import render
from cli.common import (
    DEFAULT_ENGINE,
    EngineOpt,
    FormatOpt,
    HardwareOpt,
    ModelOpt,
    MtpAcceptanceOpt,
    MtpDepthOpt,
    PrefillLayoutOpt,
    ServingOpt,
    SetOpt,
    TableJson,
    count_option,
    handle_errors,
    speculative_sets,
)
from planner import api
from planner.inputs import io
from planner.inputs.layout import Layout
from planner.inputs.limits import MAX_BATCH, MAX_SESSIONS


@handle_errors
def estimate(
    model: ModelOpt,
    hardware: HardwareOpt,
    layout: Annotated[str, typer.Option(help='Parallel layout, e.g. "tp=1,dp=8,ep=8,pp=1"')],
    batch: Annotated[str | None, typer.Option(
        help="Sequences decoding concurrently per attention-DP rank (per micro-batch)")] = None,
    concurrency: Annotated[str | None, typer.Option(
        help="Requests in flight across the replica, instead of --batch: batch = concurrency / (dp x pp), "
             "rounded up (a closed-loop benchmark's --concurrency)")] = None,
    isl: Annotated[str | None, typer.Option(help="Prompt (new) tokens per request, e.g. 4096 or 4k")] = None,
    osl: Annotated[str | None, typer.Option(help="Output tokens per request")] = None,
    prefix: Annotated[str | None, typer.Option(help="Reused prefix tokens per request (resident in HBM unless a "
                                               "--workload routes it through the KV tiers)")] = None,
    workload: Annotated[str | None, typer.Option("--workload", "-w", help="Take the request shape, targets and KV "
                                                 "tiers from this workload (preset or TOML)")] = None,
    engine: EngineOpt = DEFAULT_ENGINE,
    serving: ServingOpt = None,
    prefill_layout: PrefillLayoutOpt = None,
    disaggregated: Annotated[bool, typer.Option(help="Same as --serving disaggregated")] = False,
    overlap: Annotated[bool, typer.Option(help="Dual micro-batch overlap of communication")] = True,
    mtp: Annotated[bool, typer.Option(help="Speculative decoding with one MTP draft token (= --mtp-depth 1)")] = False,
    mtp_depth: MtpDepthOpt = None,
    mtp_acceptance: MtpAcceptanceOpt = None,
    routing: Annotated[str | None, typer.Option(
        help="MoE expert load: power_law (no balancer; the busiest GPU sets the pace), eplb (a load balancer, "
             "its residual imbalance left), eplb:redundant=32 (with 32 redundant experts) or balanced")] = None,
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Prefill and decode times, HBM budget, TTFT/TPOT and bottlenecks for one fixed layout.

    One replica of the layout at its capacity, evaluated exactly as `size` and `check` evaluate a
    pinned layout: TTFT includes waiting for a prefill slot, TPOT the decode steps that carry
    co-located prefills (the bare decode step is shown beside it). Exit 1 when the layout is
    infeasible (weights or KV do not fit, or a workload target is missed); exit 2 when the layout
    is impossible on this model or machine.

    Example: planner estimate --model llama-3.1-70b --hardware h200-sxm --layout tp=8 --batch 1 --isl 2048 --osl 256
    """
    sets = io.parse_overrides(overrides or [])
    if disaggregated:
        if serving not in (None, "disaggregated"):
            raise io.InputError("--disaggregated contradicts --serving colocated")
        serving = "disaggregated"
    sets.update(speculative_sets(mtp_depth if mtp_depth is not None else (1 if mtp else None), mtp_acceptance))
    options: dict[str, object] = {"dual_microbatch": overlap}
    if routing is not None:
        from planner.inputs.layout import parse_routing
        name, redundant = parse_routing(routing)
        sets["workload.expert_routing"] = name
        if redundant is not None:
            options["redundant_experts"] = redundant
    from planner.inputs.layout import parse_layout
    lay = parse_layout(layout, serving=serving, **options)
    result = api.estimate(model, hardware, lay, batch=_batch(lay, batch, concurrency),
                          isl=count_option("--isl", isl) if isl is not None else None,
                          osl=count_option("--osl", osl) if osl is not None else None,
                          prefix=count_option("--prefix", prefix, minimum=0) if prefix is not None else None,
                          workload=workload, engine=engine, prefill_layout=prefill_layout, sets=sets)
    if fmt == TableJson.json:
        render.json_out(result.to_json_dict())
    else:
        render.plan(result, estimate=True)
    raise typer.Exit(0 if result.feasible else 1)


def _batch(layout: Layout, batch: str | None, concurrency: str | None) -> int:
    """--batch, or --concurrency spread over the replica's attention-DP ranks and pipeline stages."""
    if batch is not None and concurrency is None:
        return count_option("--batch", batch, maximum=MAX_BATCH)
    if concurrency is not None and batch is None:
        return math.ceil(count_option("--concurrency", concurrency, maximum=MAX_SESSIONS) / (layout.dp * layout.pp))
    raise io.InputError("give --batch or --concurrency (one of them)", field="--batch")
