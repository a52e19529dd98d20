"""`planner schema`: JSON Schema of each input file, for editors and validators."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli import render
from cli.common import handle_errors
from planner.plan.jsonschema import json_schema


class SchemaName(StrEnum):
    proposal = "proposal"
    plan = "plan"
    model = "model"
    hardware = "hardware"
    workload = "workload"


@handle_errors
def schema(name: Annotated[SchemaName, typer.Argument(help="Which file's schema")]) -> None:
    """Print the JSON Schema of an input file kind.

    For a proposal, plan, model, hardware or workload file (editors use it for completion).

    Example: planner schema proposal > proposal.schema.json
    """
    render.json_out(json_schema(name.value))
