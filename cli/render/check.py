"""`planner check` results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.render.console import bold, line, out, table

if TYPE_CHECKING:
    from planner.plan.check import CheckResult


def check_results(results: list[CheckResult]) -> None:
    for r in results:
        if r.error is not None:
            continue                        # its one-line error is on stderr
        mark = ("pass", "green") if r.passed else ("fail", "bold red")
        line(bold(r.source), f" ({r.kind}): ", mark)
        rows = [(c.name, c.expected, c.actual, "pass" if c.passed else "FAIL", str(c.line)) for c in r.checks]
        out.print(table(None, ["check", "expected", "actual", "result", "line"], rows))
        for c in r.checks:
            if not c.passed:
                line("  ", ("✗", "red"), " ", c.message)
