"""`planner models`: list presets and show one model's facts."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.common import FormatOpt, ListFormat, ListFormatOpt, SetOpt, TableJson, handle_errors
from planner.inputs import io, presets
from planner.inputs.workload import check_context
from planner.model.summary import summarize
from planner.units import parse_count

app = typer.Typer(help="Model presets and model facts (parameters, bytes, KV, FLOPs).", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(fmt: ListFormatOpt = ListFormat.table) -> None:
    """List the model presets.

    Example: planner models list --format json
    """
    rows = []
    for name in presets.names("models"):
        s = summarize(io.load_model(name))
        rows.append({"name": name, "aliases": list(s.model.aliases), "attention": s.model.attention.kind,
                     "total": s.params.total, "active": s.params.active,
                     "kv_bytes_per_token": s.kv_bytes_per_token, "description": s.model.description})
    render.model_list(rows, fmt.value)


@app.command("show")
@handle_errors
def show(
    model: Annotated[str, typer.Argument(help="Preset name, model TOML, HF config.json (or its folder), or a "
                                              "hub id ORG/NAME in the local Hugging Face cache")],
    context: Annotated[str | None, typer.Option(help="Context in tokens for KV and FLOPs (default: the model's max), "
                                                     "e.g. 128k, 1Mi")] = None,
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Show parameters, weight bytes, KV cache, FLOPs and EP intensity of one model.

    Example: planner models show deepseek-v4-pro --context 1048576 --format json
    """
    m = io.load_model(model, io.parse_overrides(overrides or []))
    try:
        ctx = parse_count(context) if context is not None else None
    except ValueError as exc:
        raise io.InputError(str(exc), field="--context") from None
    if ctx is not None and ctx < 1:
        raise io.InputError("context must be at least 1 token", field="--context")
    if ctx is not None:
        check_context(m.name, m.max_context, ctx, "--context")
    # DESIGN: training FLOPs at --context (default 4096); KV and decode FLOPs at --context (default: max)
    data = summarize(m, ctx, train_sequence=ctx or 4096).to_dict()
    report = io.import_report(model) if not (overrides and io.parse_overrides(overrides).get("model")) else None
    if report is not None:
        data["import"] = report.to_dict()
    if fmt == TableJson.json:
        render.json_out(data)
    else:
        render.model_show(data)
