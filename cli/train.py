"""`planner train`: memory, step time, MFU, time to train and cluster size for a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import tomli_w
import typer

from cli import render
from cli.common import (
    FormatOpt,
    HardwareOpt,
    ModelOpt,
    SetOpt,
    TableJson,
    count_option,
    handle_errors,
    path_arg,
    refuse_existing,
)
from planner.files import write_output
from planner.inputs import io
from planner.inputs.limits import MAX_BATCH, MAX_DAYS, MAX_GPUS, MAX_TRAIN_TOKENS
from planner.training.proposal import export_toml
from planner.training.run import Recompute, TrainPrecision, train_layout
from planner.training.run import train as run_train
from planner.training.schedule import Schedule
from planner.training.search import search_days, search_layout

TOKEN_SUFFIXES = ("tokens", "token", "tok")


def _global_batch(text: str | None, seq: int) -> int | None:
    """Sequences ('15360') or tokens ('16M tokens', '16Mtok'), rounded to whole sequences."""
    if text is None:
        return None
    low = text.strip().lower()
    for suffix in TOKEN_SUFFIXES:
        if low.endswith(suffix):
            tokens = count_option("--global-batch", low[: -len(suffix)].strip())
            return max(1, round(tokens / seq))
    return count_option("--global-batch", text)


@handle_errors
def train(
    model: ModelOpt,
    hardware: HardwareOpt,
    tokens: Annotated[str, typer.Option(help="Training tokens, e.g. 14.8T")],
    days: Annotated[float | None, typer.Option(help="Time budget in days: pick the GPUs (DP) to meet it")] = None,
    gpus: Annotated[str | None, typer.Option(help="GPUs to use: DP = GPUs / (tp·cp·pp)")] = None,
    layout: Annotated[str, typer.Option(help='Parallelism, e.g. "tp=8,pp=16,vp=2,dp=128,ep=1,cp=1"; '
                                             'absent: searched')] = "",
    zero: Annotated[str | None, typer.Option(
        help="ZeRO stage 0, 1, 2, 3, or fsdp (= 3) [default: 1, or searched]")] = None,
    recompute: Annotated[Recompute | None, typer.Option(
        help="Activation recompute [default: selective, or searched]")] = None,
    micro_batch: Annotated[str | None, typer.Option(
        "--micro-batch", help="Sequences per micro-batch [default: 1, or searched]")] = None,
    schedule: Annotated[Schedule | None, typer.Option(
        help="Pipeline schedule [default: 1f1b, or searched]")] = None,
    activations: Annotated[str, typer.Option(help="Activation precision of the expert GEMMs: bf16 or fp8")] = "bf16",
    route_nodes: Annotated[str | None, typer.Option(
        "--route-nodes", help="Node-limited routing: scale-up domains a token may reach (DeepSeek-V3: 4)")] = None,
    comm_sms: Annotated[str | None, typer.Option(
        "--comm-sms", help="SMs per GPU driving the overlapped EP all-to-all, taken from compute "
                           "(DeepSeek-V3: 20 of 132) [default: 20 when ep > 1]")] = None,
    top: Annotated[str, typer.Option(help="Alternatives shown when the layout is searched")] = "5",
    global_batch: Annotated[str | None, typer.Option(
        "--global-batch", help="Sequences per step, or tokens with a suffix: '16M tokens' "
                               "[default: 1024 sequences]")] = None,
    seq: Annotated[str, typer.Option(help="Sequence length, tokens")] = "4096",
    precision: Annotated[TrainPrecision, typer.Option(help="GEMM precision "
                                                           "(attention core stays BF16)")] = TrainPrecision.bf16,
    overrides: SetOpt = None,
    export: Annotated[Path | None, typer.Option("--export", parser=path_arg,
                                                help="Write the run as a training proposal (layout pinned) "
                                                     "that planner check re-evaluates")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --export file")] = False,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Size a training run: memory, step time, MFU, GPUs and time to train.

    Memory per GPU (weights, gradients, optimizer, activations under ZeRO/FSDP, TP, PP, EP, CP and
    recompute), step time by resource, MFU, time to train, GPUs, racks, power and energy, and
    whether MoE expert GEMMs turn HBM-bound. Give --gpus or --days (neither: a 30-day budget).
    Without --layout the layout is searched (TP, CP, PP, virtual stages, schedule, EP, ZeRO,
    recompute, micro-batch) for the highest MFU that fits; options given explicitly stay pinned.

    Example: planner train --model deepseek-v3 --hardware h800-sxm --tokens 14.8T --gpus 2048 --set ...
    """
    refuse_existing(force, export)                      # before any work, not after it
    if days is not None and gpus is not None:
        raise io.InputError("give --days or --gpus, not both")
    if days is not None and not 0 < days <= MAX_DAYS:       # also refuses nan and inf
        raise io.InputError(f"must be more than 0 and at most {MAX_DAYS:,.0f}", field="--days")
    sets = io.parse_overrides(overrides or [])
    seq_n = count_option("--seq", seq)
    mb = count_option("--micro-batch", micro_batch, maximum=MAX_BATCH) if micro_batch is not None else None
    lay = train_layout(layout, zero=zero.strip() if zero is not None else None, recompute=recompute,
                       micro_batch=mb, schedule=schedule, activations=activations.strip().lower(),
                       route_nodes=count_option("--route-nodes", route_nodes) if route_nodes is not None else None,
                       comm_sms=count_option("--comm-sms", comm_sms, minimum=0) if comm_sms is not None else None,
                       global_batch=_global_batch(global_batch, seq_n), seq=seq_n, precision=precision)
    m = io.load_model(model, sets)
    hw = io.load_hardware(hardware, sets)
    n_tokens = count_option("--tokens", tokens, maximum=MAX_TRAIN_TOKENS)
    n_gpus = count_option("--gpus", gpus, maximum=MAX_GPUS) if gpus is not None else None
    if layout.strip():
        result = run_train(m, hw, lay, n_tokens, gpus=n_gpus, days=days)
        d = result.to_dict()
    else:
        pinned = {k: v for k, v in (("zero", lay.zero if zero is not None else None), ("recompute", recompute),
                                    ("micro_batch", mb), ("schedule", schedule)) if v is not None}
        n_top = count_option("--top", top)
        found = (search_layout(m, hw, lay, n_tokens, n_gpus, pinned=pinned, top=n_top) if n_gpus is not None
                 else search_days(m, hw, lay, n_tokens, days, pinned=pinned, top=n_top))
        result, d = found.best, found.to_dict()
    if days is None and gpus is None:
        render.note(f"note: GPUs chosen for {result.gpus_from}")
    if export is not None:
        proposal = export_toml(result, model, hardware, n_tokens, dict(sets))
        write_output(export, tomli_w.dumps(proposal), force)
    if fmt == TableJson.json:
        render.json_out(d)
    else:
        render.train(d, result.verdicts)
        if export is not None:
            render.note(f"training proposal written to {export} (planner check re-evaluates it)")
    raise typer.Exit(0 if result.feasible else 1)
