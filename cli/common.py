"""Options and the one error path every command shares."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.errors import InputError
from planner.files import check_target
from planner.inputs.limits import MAX_TOKENS, check_count
from planner.inputs.presets import (  # noqa: F401  (the commands' defaults)
    DEFAULT_ENGINE,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_WORKLOAD,
)
from planner.units import parse_count

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Preset name, model TOML, HF config.json (or its "
                                                             "folder), or a hub id ORG/NAME in the local HF cache")]
HardwareOpt = Annotated[str, typer.Option("--hardware", "-H", help="Preset name or hardware TOML")]
WorkloadOpt = Annotated[str, typer.Option("--workload", "-w", help="Preset name or workload TOML")]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help="Serving engine preset or TOML: trtllm, vllm, sglang")]
MtpDepthOpt = Annotated[int | None, typer.Option(
    "--mtp-depth", min=0, max=8, help="Speculative decoding: draft tokens per step from the model's MTP layers "
                                      "(= --set engine.mtp_depth=N)")]
MtpAcceptanceOpt = Annotated[str | None, typer.Option(
    "--mtp-acceptance", help="Acceptance of each successive draft, e.g. 0.9,0.7 (the last repeats; "
                             "= --set engine.mtp_acceptance=[...])")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any input field: KEY=VALUE (repeatable)")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=4096,
                                             help="Worker processes (default: all cores)")]


LayoutOpt = Annotated[str | None, typer.Option(help='Pin this layout instead of searching, e.g. "tp=1,dp=8,ep=8,pp=1"')]
BatchOpt = Annotated[str | None, typer.Option(help="Sequences per attention-DP rank (per micro-batch) with --layout")]
ServingOpt = Annotated[str | None, typer.Option(help="colocated (prefill on the decode GPUs, the default) or "
                                                "disaggregated (a separate prefill pool)")]
PrefillLayoutOpt = Annotated[str | None, typer.Option("--prefill-layout", help="Disaggregated: the prefill pool's "
                                                      'layout, e.g. "tp=8" (default: the decode layout\'s)')]


def count_option(name: str, text: str, minimum: int = 1, maximum: int = MAX_TOKENS) -> int:
    """A count given on the command line ('64', '4k') inside [minimum, maximum] (the ceilings of
    planner.inputs.limits; tokens by default); else an InputError."""
    try:
        value = parse_count(text)
    except ValueError as exc:
        raise InputError(str(exc), field=name) from None
    return check_count(name, value, minimum, maximum)


def refuse_existing(force: bool, *targets: Path | None) -> None:
    """Refuse output targets before any work is done: existing files without --force, and anything
    that is not a regular file or a standard stream (planner.files.check_target says which)."""
    for target in targets:
        if target is not None:
            check_target(target, force)


class TableJson(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[TableJson, typer.Option("--format", "-f", help="Output format")]


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


ListFormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format")]


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


def speculative_sets(depth: int | None, acceptance: str | None) -> dict[str, object]:
    """`--mtp-depth` / `--mtp-acceptance` as engine overrides."""
    sets: dict[str, object] = {}
    if depth is not None:
        sets["engine.mtp_depth"] = depth
    if acceptance is not None:
        try:
            values = [float(x) for x in acceptance.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"{acceptance!r} is not a list of numbers", field="--mtp-acceptance") from None
        if not values or not all(0 <= v <= 1 for v in values):
            raise InputError("acceptances are probabilities between 0 and 1", field="--mtp-acceptance")
        sets["engine.mtp_acceptance"] = values
    return sets



def path_arg(value: str | Path) -> Path:
    """Parser of every path argument and option: a path with a NUL byte is a usage error (exit 2).
    click 8.1 (the dependency floor) stats a Path parameter and lets os.stat's ValueError escape;
    a parser's ValueError becomes click's ordinary "invalid value" instead."""
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"{text!r}: a path cannot contain a NUL byte")
    return Path(text)
