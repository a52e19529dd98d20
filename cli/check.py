"""`planner check`: the CI gate for infrastructure proposals."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.common import handle_errors, path_arg
from planner.files import write_output
from planner.inputs.io import to_json
from planner.plan import report
from planner.plan.check import check_file


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    github = "github"
    junit = "junit"


@handle_errors
def check(
    files: Annotated[list[Path], typer.Argument(help="Proposal TOML files (or exported plans)", parser=path_arg)],
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format")] = CheckFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE (atomic)",
                                                parser=path_arg)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file")] = False,
) -> None:
    """Check proposals against their assertions (the CI gate).

    Exit 0 when all pass, 1 when any fails, 2 on bad input. Formats for CI: github (workflow
    annotations on the failing line), junit, markdown.

    Example: planner check examples/proposals/*.toml --format github
    """
    results = [check_file(f) for f in files]
    if fmt == CheckFormat.json:
        text = to_json([r.to_dict() for r in results]) + "\n"
    elif fmt == CheckFormat.markdown:
        text = report.markdown(results)
    elif fmt == CheckFormat.github:
        text = report.github(results)
    elif fmt == CheckFormat.junit:
        text = report.junit(results)
    else:
        text = None
    if output is not None:
        write_output(output, text if text is not None else report.markdown(results), force)
    elif text is not None:
        render.text_out(text)
    if fmt == CheckFormat.table and output is None:
        render.check_results(results)
    raise typer.Exit(0 if all(r.passed for r in results) else 1)
