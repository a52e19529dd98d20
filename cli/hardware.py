"""`planner hardware`: list presets and show one machine with its balance points."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.common import FormatOpt, ListFormat, ListFormatOpt, SetOpt, TableJson, handle_errors
from planner.inputs import io, presets
from planner.machine.summary import hardware_dict

app = typer.Typer(help="Hardware presets and machine balance points.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(fmt: ListFormatOpt = ListFormat.table) -> None:
    """List the hardware presets (table, json, csv or markdown).

    Example: planner hardware list --format csv
    """
    render.hardware_list([hardware_dict(io.load_hardware(name)) for name in presets.names("hardware")], fmt.value)


@app.command("show")
@handle_errors
def show(
    hardware: Annotated[str, typer.Argument(help="Preset name or hardware TOML")],
    overrides: SetOpt = None,
    fmt: FormatOpt = TableJson.table,
) -> None:
    """Show one machine: HBM, dense peaks, links, tiers, power and balance points (FLOPs per byte).

    Example: planner hardware show gb200-nvl72 --set hardware.hbm.pin_speed_gbps=12 --format json
    """
    data = hardware_dict(io.load_hardware(hardware, io.parse_overrides(overrides or [])))
    if fmt == TableJson.json:
        render.json_out(data)
    else:
        render.hardware_show(data)
