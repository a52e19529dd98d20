"""Wires the subcommands together; each lives in its own module."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer

from cli import balance, compare, estimate, frontier, hardware, kv, models, size, sweep, train
from cli import check as check_cmd
from cli import diff as diff_cmd
from cli import schema as schema_cmd
from cli import validate as validate_cmd
from cli.common import set_debug
from cli.render.console import refresh_width

app = typer.Typer(
    name="planner",
    help="Capacity planner for LLM infrastructure: HBM, NVLink domains, KV-cache tiers, clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors")] = False) -> None:
    """Capacity planner for LLM infrastructure."""
    set_debug(debug)
    refresh_width()


app.add_typer(models.app, name="models")
app.add_typer(hardware.app, name="hardware")
app.command("estimate")(estimate.estimate)
app.command("kv")(kv.kv)
app.command("train")(train.train)
app.command("size")(size.size)
app.command("sweep")(sweep.sweep)
app.command("compare")(compare.compare)
app.command("frontier")(frontier.frontier)
app.command("balance")(balance.balance)
app.command("check")(check_cmd.check)
app.command("diff")(diff_cmd.diff)
app.command("schema")(schema_cmd.schema)
app.command("validate")(validate_cmd.validate)


@functools.cache
def command() -> Any:
    """The Click command tree (Typer builds it anew on each call, ~35 ms; once is enough)."""
    return typer.main.get_command(app)


def run(args: list[str] | None = None) -> None:
    """Entry point: usage errors become one line on stderr with exit 2, like every other user error.
    `args` defaults to sys.argv[1:] (tests pass them)."""
    import importlib
    import sys
    try:                                # newer Typer vendors Click as typer._click; older ones depend on Click
        click_exceptions = importlib.import_module("typer._click.exceptions")
    except ImportError:
        click_exceptions = importlib.import_module("click.exceptions")

    try:
        result = command().main(args=args, prog_name="planner", standalone_mode=False)
    except getattr(click_exceptions, "NoArgsIsHelpError", ()):  # Click ≥ 8.2: the help text was printed
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        from cli import render
        where = exc.ctx.command_path if exc.ctx is not None else "planner"
        message = exc.format_message().replace("Value error, ", "")
        render.error(f"{message} (see `{where} --help`)")
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    run()
