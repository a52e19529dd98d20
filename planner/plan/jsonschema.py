"""JSON Schemas of the input files and of the plan (pydantic generates them from the models)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel

from planner.inputs.hardware import Hardware
from planner.inputs.model import Model
from planner.inputs.proposal import Proposal
from planner.inputs.workload import Workload
from planner.plan.schema import Plan

SCHEMAS: dict[str, type[BaseModel]] = {"proposal": Proposal, "plan": Plan, "model": Model, "hardware": Hardware,
                                       "workload": Workload}


def json_schema(name: str) -> dict[str, Any]:
    return copy.deepcopy(_schema(name))


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    # generating one takes milliseconds; the schemas never change within a process
    return SCHEMAS[name].model_json_schema(by_alias=True)
