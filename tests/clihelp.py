"""Shared helpers for CLI tests: run `planner ...` in-process with a fixed width and no colour."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app

ENV = {"COLUMNS": "100", "NO_COLOR": "1"}


def run(*args: str):
    return CliRunner().invoke(app, list(args), env=ENV)


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:        # click < 8.2 mixes stderr into output unless asked not to
        return result.output
