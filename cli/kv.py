"""`planner kv`: the KV-cache tiers alone, as a what-if."""

from __future__ import annotations

import typer

from cli import render
from cli.common import (DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_WORKLOAD, FormatOpt, HardwareOpt, ModelOpt, SetOpt,
                        TableJson, WorkloadOpt, handle_errors)
from planner import io
from planner.kvtier import kv_report


@handle_errors
def kv(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Size the KV-cache tiers (HBM, host memory, NVMe, pod flash, shared storage).

    For the workload's prefix reuse on the cluster `planner size` plans: capacity, read and write
    bandwidth per tier, hit rates, and the break-even bandwidth below which recomputing beats
    loading.

    Example: planner kv --model deepseek-v4-pro --hardware vr200-nvl72 --workload agentic --set workload.context=1Mi
    """
    sets = io.parse_overrides(overrides or [])
    report = kv_report(*io.load_inputs(model, hardware, workload, sets))
    if fmt == TableJson.json:
        render.json_out(report)
    else:
        render.kv(report)
    raise typer.Exit(0 if report.get("feasible", True) else 1)
