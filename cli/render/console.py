"""The consoles (one for stdout, one for stderr) and the primitives every view uses.

Rich tables in a terminal, plain text when not a TTY (rich detects it), JSON for machines. Both
consoles have markup off: user text (model, workload and file names, messages) is never
interpreted, and styles are applied with Text objects, never with "[bold]" strings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.inputs.io import to_json

_width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
out = Console(width=_width, highlight=False, soft_wrap=False, markup=False, emoji=False)
err = Console(stderr=True, width=_width, highlight=False, markup=False, emoji=False)


def bold(text: str) -> tuple[str, str]:
    return (text, "bold")


def line(*parts: str | tuple[str, str]) -> None:
    """One line on stdout from plain strings and (text, style) pairs, wrapped at word boundaries
    to the terminal width; nothing is parsed."""
    out.print(Text.assemble(*parts))


def error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def note(message: str) -> None:
    err.print(Text(message), soft_wrap=True)


def json_out(data: Any) -> None:
    # print() bypasses rich so JSON is never wrapped or styled
    print(to_json(data))


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
           right: tuple[int, ...] = ()) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i in right else "left", overflow="fold", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    return table


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def text_out(text: str) -> None:
    print(text, end="" if text.endswith("\n") else "\n")
