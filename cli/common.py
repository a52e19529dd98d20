"""Options and the one error path every command shares."""

from __future__ import annotations

import functools
import os
import sys
from enum import StrEnum
from typing import Annotated, Any, Callable

import typer

from planner.errors import InputError

DEFAULT_MODEL = "deepseek-v4-pro"
DEFAULT_HARDWARE = "gb300-nvl72"
DEFAULT_WORKLOAD = "agentic"

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Preset name, model TOML, or HF config.json (or its folder)")]
HardwareOpt = Annotated[str, typer.Option("--hardware", "-H", help="Preset name or hardware TOML")]
WorkloadOpt = Annotated[str, typer.Option("--workload", "-w", help="Preset name or workload TOML")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any input field: KEY=VALUE (repeatable)")]


class TableJson(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[TableJson, typer.Option("--format", "-f", help="Output format")]


class _Debug:
    """Set by the top-level --debug option on every invocation (never leaks into the environment)."""

    enabled = False


def set_debug(on: bool) -> None:
    _Debug.enabled = on


def debug_enabled() -> bool:
    return _Debug.enabled or os.environ.get("PLANNER_DEBUG") == "1"


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """User errors become one line on stderr and exit 2; --debug re-raises for the traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            # the reader (e.g. `| head`) went away: not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except InputError as exc:
            if debug_enabled():
                raise
            from cli import render
            render.error(exc.one_line())
            raise typer.Exit(2) from None
        except (OSError, ValueError) as exc:
            if debug_enabled():
                raise
            from cli import render
            render.error(f"{exc.__class__.__name__}: {exc}")
            raise typer.Exit(2) from None

    return wrapper

