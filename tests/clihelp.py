"""Shared helpers for CLI tests: run `planner ...` in-process with a fixed width and no colour."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from cli.main import app

ENV = {"COLUMNS": "100", "NO_COLOR": "1"}


def runner() -> CliRunner:
    """A runner that keeps stderr apart from stdout: Click ≥ 8.2 always does; older Clicks (the
    dependency floor) need mix_stderr=False, an argument newer ones no longer take."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


class Outcome:
    """A Click `Result` whose `output` holds stdout and stderr on every Click version (as Click ≥ 8.2
    gives it), with `stdout` and `stderr` apart."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.stderr = stderr_of(result)
        out = result.output
        self.output = out if self.stderr and self.stderr in out else out + self.stderr

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)


def run(*args: str) -> Outcome:
    return Outcome(runner().invoke(app, list(args), env=ENV))


def stderr_of(result: Any) -> str:
    try:
        return result.stderr
    except ValueError:        # click < 8.2 mixes stderr into output unless asked not to
        return result.output
