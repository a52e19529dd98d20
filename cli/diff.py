"""`planner diff`: compare two plans or proposals."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.common import handle_errors, path_arg
from planner.plan.diff import diff_plans, load_plan_like


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@handle_errors
def diff(
    old: Annotated[Path, typer.Argument(help="The old plan or proposal", parser=path_arg)],
    new: Annotated[Path, typer.Argument(help="The new plan or proposal", parser=path_arg)],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format")] = DiffFormat.table,
    all_fields: Annotated[bool, typer.Option("--all", help="Show unchanged fields too")] = False,
) -> None:
    """What changed between two plans or proposals.

    Plans are compared by their recorded results, proposals are evaluated now: GPUs, racks, power,
    cost, TTFT, TPOT, KV tiers and bottlenecks.

    Example: planner diff old-plan.toml new-plan.toml --format markdown
    """
    changes = diff_plans(load_plan_like(old), load_plan_like(new))
    rows = [c.to_dict() for c in changes if all_fields or c.changed]
    if fmt == DiffFormat.json:
        render.json_out({"old": str(old), "new": str(new), "changes": rows})
    elif fmt == DiffFormat.markdown:
        render.text_out(render.diff_markdown(str(old), str(new), rows))
    else:
        render.diff_table(str(old), str(new), rows)
