"""`planner validate`: the shipped reference cases against our predictions."""

from __future__ import annotations

import typer

from cli import render
from cli.common import FormatOpt, TableJson, handle_errors


@handle_errors
def validate(fmt: FormatOpt = TableJson.table) -> None:
    """Compare predictions with the shipped reference cases, per group.

    Each case: predicted, reference and error for TTFT and TPOT; each group (GPU generation x model
    family): median and worst error. Exit 1 when a group's median exceeds 35% or the overall medians
    exceed 20% (TPOT) or 25% (TTFT).

    Example: planner validate --format json
    """
    from planner.accuracy.validation import validate_all
    report = validate_all()
    data = report.to_dict()
    if fmt == TableJson.json:
        render.json_out(data)
    else:
        render.validation(data)
    raise typer.Exit(0 if report.passed else 1)
