"""`planner size`: the main job. Sizing arrives with the performance model; until then it
summarises the model it would size."""

from __future__ import annotations

from cli import render
from cli.common import DEFAULT_MODEL, FormatOpt, ModelOpt, SetOpt, TableJson, handle_errors
from planner import io
from planner.summary import summarize


@handle_errors
def size(model: ModelOpt = DEFAULT_MODEL, overrides: SetOpt = None, fmt: FormatOpt = TableJson.table) -> None:
    """Size HBM, the scale-up domain, KV tiers and the cluster for a workload.

    Example: planner size --model deepseek-v4-pro
    """
    m = io.load_model(model, io.parse_overrides(overrides or []))
    data = summarize(m).to_dict()
    if fmt == TableJson.json:
        render.json_out(data)
    else:
        render.model_show(data)
        render.note("note: sizing (layout search, HBM budget, cluster) is not built yet; this is the model it will size.")
