"""JSON Schemas of the input files (pydantic generates them from the strict models)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from planner.base import StrictModel
from planner.hardware import Hardware
from planner.modelspec import Model
from planner.proposal import Proposal
from planner.workload import Workload


class PlanInputs(StrictModel):
    model: Model
    hardware: Hardware
    workload: Workload


class PlanFile(StrictModel):
    """An exported plan: the resolved inputs that reproduce it, and its results (base units)."""

    model_config = {**StrictModel.model_config, "extra": "allow"}
    tool: dict[str, str] = Field(description="name and version of the tool that wrote it")
    inputs: PlanInputs
    feasible: bool
    kv_tiers: list[dict[str, Any]] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)


SCHEMAS = {"proposal": Proposal, "plan": PlanFile, "model": Model, "hardware": Hardware, "workload": Workload}


def json_schema(name: str) -> dict[str, Any]:
    return SCHEMAS[name].model_json_schema(by_alias=True)
