"""`planner validate`: the shipped reference cases against our predictions."""

from __future__ import annotations

import typer

from cli import render
from cli.common import FormatOpt, TableJson, handle_errors


@handle_errors
def validate(fmt: FormatOpt = TableJson.table) -> None:
    """Compare predictions with the shipped reference sets: published measurements and aiconfigurator.

    Published measurements (presets/validation/measured/): each case's measured and predicted
    figure, the signed error and the dominant term; per group (prefill, decode, latency, end-to-end,
    capacity) the median error and its q10-q90 band. aiconfigurator (kernel sums): TTFT and TPOT
    per case and per GPU generation x model family. Exit 1 when the published set misses its bounds
    (median |error| over 20% overall or 25% in a group, or fewer than 80% of the measured values
    inside their bands) or aiconfigurator's (a group median over 35%, overall TPOT over 20% or TTFT
    over 25%).

    Example: planner validate --format json
    """
    from planner.accuracy.published import validate_published
    from planner.accuracy.validation import validate_all
    kernel_sums, published = validate_all(), validate_published()
    passed = kernel_sums.passed and published.passed
    data = {"passed": passed, "published": published.to_dict(), "aiconfigurator": kernel_sums.to_dict()}
    if fmt == TableJson.json:
        render.json_out(data)
    else:
        render.validation(data)
    raise typer.Exit(0 if passed else 1)
