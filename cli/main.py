"""Wires the subcommands together; each lives in its own module, imported only when it runs.

Importing every command module up front cost ~0.25 s per invocation (each pulls in the inputs,
the plan schema and the renderers), so `planner --help` and `planner size` both paid for all
fourteen commands. The group below lists the commands from `COMMANDS` and imports a module only
when its command is invoked (or its help shown); the command listing in `planner --help` uses
the summaries here, which tests/test_size_cli.py checks against each command's own docstring.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any, Final, Literal, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

MARKUP: Final[Literal["markdown"]] = "markdown"


class Entry(NamedTuple):
    """Where a subcommand lives (`cli.<module>.<attribute>`: a function, or a Typer for a group)
    and the one-line summary `planner --help` lists for it."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, Entry] = {
    "estimate": Entry("estimate", "estimate", "Prefill and decode times, HBM budget, TTFT/TPOT and bottlenecks "
                                              "for one fixed layout."),
    "kv": Entry("kv", "kv", "Size the KV-cache tiers (HBM, host memory, NVMe, pod flash, shared storage)."),
    "train": Entry("train", "train", "Size a training run: memory, step time, MFU, GPUs and time to train."),
    "size": Entry("size", "size", "Size HBM, the scale-up domain, KV tiers and the cluster for a workload."),
    "sweep": Entry("sweep", "sweep", "Evaluate a what-if grid over any input fields."),
    "compare": Entry("compare", "compare", "Size one workload on every combination of models, machines and "
                                           "--set-grid values."),
    "frontier": Entry("frontier", "frontier", "The throughput–interactivity frontier: every layout, serving mode "
                                              "and batch (and each --vary option), and the Pareto set of tokens/s "
                                              "per GPU against tokens/s per user."),
    "balance": Entry("balance", "balance", "What each resource would need for the bottleneck to move."),
    "check": Entry("check", "check", "Check proposals against their assertions (the CI gate). "
                                     "Every file gets a verdict."),
    "diff": Entry("diff", "diff", "What changed between two plans or proposals."),
    "schema": Entry("schema", "schema", "Print the JSON Schema of an input file kind."),
    "validate": Entry("validate", "validate", "Compare predictions with the shipped reference sets: published "
                                              "measurements and aiconfigurator."),
    "models": Entry("models", "app", "Model presets and model facts (parameters, bytes, KV, FLOPs)."),
    "hardware": Entry("hardware", "app", "Hardware presets and machine balance points."),
}


def load_command(name: str) -> Any:
    """The Click command (or group) of one subcommand, built as `app.command(name)` /
    `app.add_typer(..., name=name)` would build it."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(f"cli.{entry.module}"), entry.attribute)
    parent = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)   # the settings `app` passes down
    if isinstance(target, typer.Typer):
        parent.add_typer(target, name=name)
    else:
        parent.command(name)(target)
    command = typer.main.get_command(parent)
    # one command alone comes back as itself; a sub-app comes back inside a group
    return command.commands[name] if isinstance(command, TyperGroup) else command


class _Commands(MutableMapping[str, Any]):
    """The group's `commands`: every name in COMMANDS, each module imported on first lookup."""

    def __init__(self, loaded: dict[str, Any]) -> None:
        self.loaded = loaded

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self.loaded[name] = load_command(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMANDS), **self.loaded})

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self.loaded))


class LazyGroup(TyperGroup):
    """Typer's group, with subcommands imported on demand. While the group's own help is being
    formatted, a command not yet imported is listed from its summary (a stand-in that is never
    invoked), so `planner --help` imports no command module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = _Commands(dict(self.commands))
        self.commands = self.lazy
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)      # the names alone: iterating items() would import every module

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing and cmd_name in COMMANDS and cmd_name not in self.lazy.loaded:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].summary)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="planner",
    cls=LazyGroup,
    help="Capacity planner for LLM infrastructure: HBM, NVLink domains, KV-cache tiers, clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
)


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors")] = False) -> None:
    """Capacity planner for LLM infrastructure."""
    from cli.common import set_debug  # here, not at the top: `planner --help` never needs them
    from cli.render.console import refresh_width
    set_debug(debug)
    refresh_width()


@functools.cache
def command() -> Any:
    """The Click command tree (Typer builds it anew on each call, ~35 ms; once is enough)."""
    return typer.main.get_command(app)


def run(args: list[str] | None = None) -> None:
    """Entry point: usage errors become one line on stderr with exit 2, like every other user error.
    `args` defaults to sys.argv[1:] (tests pass them)."""
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
