"""Readable output at 80 columns (the width of a pipe and of CI logs): a table that does not fit is
printed as one record per row, wrapped at spaces, so no word, number or unit is ever split across
lines. Each narrow output is scanned for fragments: every token must also appear whole in the same
output rendered wide."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app

COMMANDS = [
    ["hardware", "list"],
    ["models", "list"],
    ["validate"],
    ["hardware", "show", "gb300-nvl72"],
    ["size", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--top", "3"],
    ["compare", "-m", "llama-3.1-70b", "-H", "h100-sxm,h200-sxm,b200-hgx", "-w", "chat"],
    ["frontier", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--mode", "colocated"],
    ["kv", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat"],
]


def render(args: list[str], columns: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def tokens(text: str) -> set[str]:
    return {t.strip(";:,()") for t in text.split()} - {""}


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_no_word_is_split_at_80_columns(args):
    narrow, wide = render(args, 80), render(args, 1000)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    fragments = sorted(tokens(narrow) - tokens(wide))
    assert not fragments, f"split across lines: {fragments[:10]}"


@pytest.mark.parametrize("command", [["hardware", "list"], ["models", "list"]])
@pytest.mark.parametrize("fmt", ["csv", "markdown", "json"])
def test_listing_formats(command, fmt):
    import csv
    import io
    import json
    text = render([*command, "--format", fmt], 80)
    if fmt == "json":
        assert isinstance(json.loads(text), list)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) >= 15 and rows[0]["name"]
    else:
        assert text.startswith("### ") and "|---" in text
