"""`planner estimate`: times, memory and verdicts for one fixed layout."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.common import FormatOpt, HardwareOpt, ModelOpt, SetOpt, TableJson, handle_errors
from planner import io
from planner.estimate import estimate as run_estimate
from planner.layout import parse_layout
from planner.units import parse_count


def _count(name: str, text: str) -> int:
    try:
        value = parse_count(text)
    except ValueError as exc:
        raise io.InputError(str(exc), field=name) from None
    if value < 1:
        raise io.InputError("must be at least 1", field=name)
    return value


@handle_errors
def estimate(
    model: ModelOpt,
    hardware: HardwareOpt,
    layout: Annotated[str, typer.Option(help='Parallel layout, e.g. "tp=1,dp=8,ep=8,pp=1"')],
    batch: Annotated[str, typer.Option(help="Sequences decoding concurrently per attention-DP rank")],
    isl: Annotated[str, typer.Option(help="Prompt (new) tokens per request, e.g. 4096 or 4k")],
    osl: Annotated[str, typer.Option(help="Output tokens per request")],
    prefix: Annotated[str, typer.Option(help="Reused, already cached prefix tokens per request")] = "0",
    disaggregated: Annotated[bool, typer.Option(help="Prefill and decode in separate pools")] = False,
    overlap: Annotated[bool, typer.Option(help="Dual micro-batch overlap of communication")] = True,
    mtp: Annotated[bool, typer.Option(help="Speculative decoding with the model's MTP layers")] = False,
    routing: Annotated[str, typer.Option(help="MoE expert load: power_law (busiest GPU sets the pace) or balanced (EPLB)")] = "power_law",
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Prefill and decode times, HBM budget and bottlenecks for one fixed layout.

    Exit 1 when the layout is infeasible (weights or KV do not fit).

    Example: planner estimate --model llama-3.1-70b --hardware h200-sxm --layout tp=8 --batch 1 --isl 2048 --osl 256
    """
    sets = io.parse_overrides(overrides or [])
    m = io.load_model(model, sets)
    hw = io.load_hardware(hardware, sets)
    lay = parse_layout(layout, batch=_count("--batch", batch), disaggregated=disaggregated,
                       dual_microbatch=overlap, mtp=mtp, routing=routing)
    result = run_estimate(m, hw, lay, isl=_count("--isl", isl), osl=_count("--osl", osl),
                          prefix=parse_count(prefix))
    if fmt == TableJson.json:
        render.json_out(result.to_dict())
    else:
        render.estimate(result.to_dict())
    raise typer.Exit(0 if result.feasible else 1)
