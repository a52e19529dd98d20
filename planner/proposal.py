"""Infrastructure proposals: what `size` takes, plus assertions that a CI gate checks.

A proposal names (or inlines) a model, hardware and workload, may override any field, may pin a
layout and a GPU count (checked as given, not re-searched), and asserts targets:

    model = "deepseek-v4-pro"
    hardware = "gb300-nvl72"
    workload = "agentic"

    [set]
    "hardware.hbm.pin_speed_gbps" = 10

    [layout]                 # optional: pinned
    tp = 1
    dp = 16
    batch = 64
    gpus = 64                # optional: pinned cluster size

    [assert]
    fits = true
    ttft_ms = 5000
    tpot_ms = 30
    max_gpus = 128
    min_hbm_headroom = 0.10
    forbid_bottleneck = ["decode:scale_out"]
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator

from planner.base import StrictModel

PHASES = ("prefill", "decode")
RESOURCES = ("compute", "hbm", "scale_up", "scale_out", "storage")


class PinnedLayout(StrictModel):
    tp: PositiveInt = 1
    dp: PositiveInt = 1
    ep: PositiveInt | None = Field(None, description="default: tp x dp for MoE models, 1 for dense")
    pp: PositiveInt = 1
    batch: PositiveInt = Field(description="sequences per attention-DP rank")
    disaggregated: bool = False
    dual_microbatch: bool = True
    mtp: bool = False
    gpus: PositiveInt | None = Field(None, description="pinned cluster size; omitted: as many as the demand needs")


class Assertions(StrictModel):
    fits: bool = Field(True, description="weights and KV fit and a layout exists")
    ttft_ms: PositiveFloat | None = Field(None, description="maximum TTFT (default: the workload SLO)")
    tpot_ms: PositiveFloat | None = Field(None, description="maximum TPOT (default: the workload SLO)")
    max_gpus: PositiveInt | None = None
    max_racks: PositiveInt | None = None
    max_power_kw: PositiveFloat | None = None
    max_cost_per_hour: PositiveFloat | None = None
    min_hbm_headroom: NonNegativeFloat | None = Field(None, le=1, description="free share of HBM per GPU")
    min_resource_headroom: NonNegativeFloat | None = Field(
        None, le=1, description="1 - (binding time / phase time) for every phase: slack on the bottleneck")
    forbid_bottleneck: tuple[str, ...] = Field((), description='"phase:resource", e.g. "decode:scale_out"')
    no_errors: bool = Field(True, description="no verdict of severity error")

    @field_validator("forbid_bottleneck")
    @classmethod
    def _phase_resource(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            phase, _, resource = value.partition(":")
            if phase not in PHASES or resource not in RESOURCES:
                raise ValueError(f"{value!r} is not phase:resource with phase in {PHASES} and resource in {RESOURCES}")
        return values


class Proposal(StrictModel):
    name: str | None = None
    description: str | None = None
    model: str | dict[str, Any] = Field(description="preset name, file (relative to the proposal) or inline table")
    hardware: str | dict[str, Any]
    workload: str | dict[str, Any]
    set: dict[str, Any] = Field(default_factory=dict, description="overrides, as --set KEY=VALUE")
    layout: PinnedLayout | None = None
    assertions: Assertions = Field(default_factory=Assertions, alias="assert")

    model_config = {**StrictModel.model_config, "populate_by_name": True}

