"""`planner kv`: the KV-cache tiers alone, as a what-if."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    ModelOpt,
    SetOpt,
    TableJson,
    WorkloadOpt,
    handle_errors,
)
from planner import api
from planner.inputs import io

if TYPE_CHECKING:
    from planner.plan.schema import Plan


@handle_errors
def kv(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    workload: WorkloadOpt = DEFAULT_WORKLOAD,
    engine: EngineOpt = DEFAULT_ENGINE,
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
    result = api.size(model, hardware, workload, engine=engine, sets=sets, compare_domains=False)
    if fmt == TableJson.json:
        render.json_out(kv_json(result))
    else:
        render.kv(result)
    raise typer.Exit(0 if result.feasible else 1)


def kv_json(p: Plan) -> dict:
    """The KV part of the plan `size` makes: its tier entries, the reuse figures, the cluster."""
    head = {"model": p.model, "hardware": p.hardware, "workload": p.workload, "feasible": p.feasible,
            "verdicts": [v.model_dump(mode="json") for v in p.verdicts]}
    if p.kv is None or p.cluster is None:
        return head | {"kv_tiers": []}
    c = p.cluster
    return head | {"cluster": {"gpus": c.gpus, "nodes": c.nodes, "racks": c.racks}, "requests_per_s": p.requests_per_s,
                   **p.kv.model_dump(mode="json"), "kv_tiers": [t.model_dump(mode="json") for t in p.kv_tiers]}
