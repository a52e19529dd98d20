"""Start-up: `planner` imports a command's module only when that command runs (cli/main.py), so
`planner --help` loads no command, no planner input schema and no renderer. Sizes of the import
graph are checked here; times are measured by bench/size_cold.py only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cli.main import COMMANDS, app, load_command

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(*args: str) -> list[str]:
    code = ("import sys, json, io, contextlib\nfrom cli.main import run\n"
            "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n"
            f"        run({list(args)!r})\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_help_imports_no_command_module():
    mods = _modules_after("--help")
    assert not [m for m in mods if m.startswith("cli.") and m != "cli.main"]
    assert "pydantic" not in mods and "planner.inputs" not in mods


def test_a_command_imports_only_its_own_module():
    mods = _modules_after("hardware", "list")
    commands = {f"cli.{entry.module}" for entry in COMMANDS.values()}
    assert sorted(m for m in mods if m in commands) == ["cli.hardware"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_summary_is_the_commands_own(name):
    # `planner --help` lists COMMANDS' summaries without importing the commands: they must say
    # what the command's own help says first
    help_text = load_command(name).help or ""
    first_paragraph = " ".join(help_text.split("\n\n")[0].split())
    assert COMMANDS[name].summary == first_paragraph


def test_every_command_is_listed():
    group = typer.main.get_command(app)
    assert list(group.commands) == list(COMMANDS)
