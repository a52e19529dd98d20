"""`planner check`: the CI gate for infrastructure proposals."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import render
from cli.common import handle_errors, path_arg, refuse_existing
from planner.api import check_files
from planner.errors import InputError
from planner.files import write_output
from planner.inputs.io import to_json
from planner.plan import report
from planner.plan.check import exit_code, parse_max_increase


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    comment = "comment"
    github = "github"
    junit = "junit"
    sarif = "sarif"


@handle_errors
def check(
    files: Annotated[list[Path], typer.Argument(help="Proposal TOML files (or exported plans)", parser=path_arg)],
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format")] = CheckFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE (atomic)",
                                                parser=path_arg)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file")] = False,
    base: Annotated[str | None, typer.Option(
        help="Compare each file with its version in this folder or git revision (e.g. origin/main)")] = None,
    max_increase: Annotated[str | None, typer.Option(
        "--max-increase", help="With --base: fail when a number rises more, e.g. gpus=10%,racks=0%,power=5%,cost=5%")
    ] = None,
) -> None:
    """Check proposals against their assertions (the CI gate). Every file gets a verdict.

    Exit 0 when all pass, 1 when any fails, 2 when any file could not be read or evaluated (the
    worst of all files). Formats for CI: github (workflow annotations on the failing line), junit,
    sarif (code scanning), comment (a PR-comment body with a stable marker), markdown. When
    $GITHUB_STEP_SUMMARY is set the markdown report is appended to it.

    Example: planner check proposals/*.toml --base origin/main --max-increase gpus=10%,cost=5% -f github
    """
    refuse_existing(force, output)                      # before any work, not after it
    limits = parse_max_increase(max_increase) if max_increase else None
    if limits and base is None:
        raise InputError("--max-increase compares with a base: give --base too", field="--max-increase")
    results = check_files(files, base=base, max_increase=limits)
    for r in results:
        if r.error is not None:
            render.error(r.error)          # one line per file that could not be checked, as every error
    text = {CheckFormat.json: lambda: to_json([r.to_dict() for r in results]) + "\n",
            CheckFormat.markdown: lambda: report.markdown(results),
            CheckFormat.comment: lambda: report.markdown(results, comment=True),
            CheckFormat.github: lambda: report.github(results),
            CheckFormat.junit: lambda: report.junit(results),
            CheckFormat.sarif: lambda: report.sarif(results)}.get(fmt, lambda: None)()
    if output is not None:
        write_output(output, text if text is not None else report.markdown(results), force)
    elif text is not None:
        render.text_out(text)
    if fmt == CheckFormat.table and output is None:
        render.check_results(results)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:      # GitHub's own file, appended as it expects
            handle.write(report.markdown(results) + "\n")
    raise typer.Exit(exit_code(results))
