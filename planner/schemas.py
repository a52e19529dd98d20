"""JSON Schemas of the input files and of the plan (pydantic generates them from the models)."""

from __future__ import annotations

from typing import Any

from planner.hardware import Hardware
from planner.modelspec import Model
from planner.plan import Plan
from planner.proposal import Proposal
from planner.workload import Workload

SCHEMAS = {"proposal": Proposal, "plan": Plan, "model": Model, "hardware": Hardware, "workload": Workload}


def json_schema(name: str) -> dict[str, Any]:
    return SCHEMAS[name].model_json_schema(by_alias=True)
