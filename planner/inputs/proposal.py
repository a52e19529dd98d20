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
    serving = "colocated"    # or "disaggregated" (then an optional [layout.prefill] table)
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

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    field_validator,
    model_validator,
)

from planner.inputs.base import StrictModel
from planner.inputs.layout import DEFAULT_MTP_ACCEPTANCE, MAX_MTP_DEPTH, Layout, Serving, default_ep
from planner.inputs.limits import Batch, Count0, Dollars, Gpus, Ms, Watts
from planner.inputs.model import Model
from planner.inputs.presets import DEFAULT_ENGINE

PHASES = ("prefill", "decode")
RESOURCES = ("compute", "hbm", "scale_up", "scale_out", "storage")


class PrefillLayout(StrictModel):
    """The prefill pool's parallelism when disaggregated (default: the decode unit's)."""

    tp: Gpus = 1
    dp: Gpus = 1
    ep: Gpus | None = Field(None, description="default: tp x dp for MoE models, 1 for dense")
    pp: Gpus = 1
    redundant_experts: Count0 = 0


class PinnedLayout(StrictModel):
    """A layout checked as given (not searched): a proposal's [layout], `size --layout`, and the
    layout an exported plan records so that it re-evaluates to the same numbers."""

    tp: Gpus = 1
    dp: Gpus = 1
    ep: Gpus | None = Field(None, description="default: tp x dp for MoE models, 1 for dense")
    pp: Gpus = 1
    batch: Batch = Field(description="sequences per attention-DP rank (per pipeline micro-batch)")
    serving: Serving = Field(Serving.colocated, description="colocated or disaggregated")
    disaggregated: bool | None = Field(None, description="deprecated: serving = \"disaggregated\"")
    redundant_experts: Count0 = Field(0, description="extra expert replicas (EPLB)")
    dual_microbatch: bool = True
    mtp_depth: int = Field(0, ge=0, le=MAX_MTP_DEPTH, description="MTP draft tokens per step")
    mtp: bool | None = Field(None, description="deprecated: mtp_depth = 1")
    mtp_acceptance: tuple[Annotated[float, Field(ge=0, le=1)], ...] = Field(DEFAULT_MTP_ACCEPTANCE, min_length=1)
    gpus: Gpus | None = Field(None, description="pinned cluster size; omitted: as many as the demand needs")
    replicas: Literal[1] | None = Field(None, description="1: one replica at its capacity (what `estimate` evaluates)")
    prefill: PrefillLayout | None = Field(None, description="disaggregated prefill pool layout")

    @model_validator(mode="after")
    def _serving(self) -> PinnedLayout:
        if self.disaggregated is not None:
            mode = Serving.disaggregated if self.disaggregated else Serving.colocated
            if "serving" in self.model_fields_set and self.serving != mode:
                raise ValueError("give serving or disaggregated, not both")
            object.__setattr__(self, "serving", mode)
            object.__setattr__(self, "disaggregated", None)
        if self.mtp is not None:
            if self.mtp and not self.mtp_depth:
                object.__setattr__(self, "mtp_depth", 1)
            object.__setattr__(self, "mtp", None)
        if self.prefill is not None and self.serving != Serving.disaggregated:
            raise ValueError("a prefill layout needs serving = \"disaggregated\"")
        if self.gpus is not None and self.replicas is not None:
            raise ValueError("give gpus or replicas, not both")
        return self

    def layouts(self, model: Model, routing: str) -> tuple[Layout, Layout | None]:
        """(the unit's layout, the prefill pool's layout or None); not yet validated against the
        model and machine (`planner.inputs.layout.validate_layout` does that)."""
        options = {"serving": self.serving, "redundant_experts": self.redundant_experts,
                   "dual_microbatch": self.dual_microbatch, "mtp_depth": self.mtp_depth,
                   "mtp_acceptance": self.mtp_acceptance,
                   "routing": routing}
        unit = Layout(tp=self.tp, dp=self.dp, ep=self.ep or default_ep(model, self.tp, self.dp), pp=self.pp,
                      batch=self.batch, **options)
        p = self.prefill
        prefill = None if p is None else Layout(
            tp=p.tp, dp=p.dp, ep=p.ep or default_ep(model, p.tp, p.dp), pp=p.pp, batch=1,
            **{**options, "redundant_experts": p.redundant_experts})
        return unit, prefill

    @classmethod
    def of(cls, layout: Layout, prefill: Layout | None, gpus: int | None = None,
           replicas: int | None = None) -> PinnedLayout:
        """The pinned form of an evaluated layout (what a plan records)."""
        return cls(tp=layout.tp, dp=layout.dp, ep=layout.ep, pp=layout.pp, batch=layout.batch, serving=layout.serving,
                   redundant_experts=layout.redundant_experts, dual_microbatch=layout.dual_microbatch,
                   mtp_depth=layout.mtp_depth,
                   mtp_acceptance=layout.mtp_acceptance, gpus=gpus, replicas=1 if replicas == 1 else None,
                   prefill=None if prefill is None else PrefillLayout(
                       tp=prefill.tp, dp=prefill.dp, ep=prefill.ep, pp=prefill.pp,
                       redundant_experts=prefill.redundant_experts))


class Assertions(StrictModel):
    fits: bool = Field(True, description="weights and KV fit and a layout exists")
    ttft_ms: Ms | None = Field(None, description="maximum TTFT (default: the workload SLO)")
    tpot_ms: Ms | None = Field(None, description="maximum TPOT (default: the workload SLO)")
    max_gpus: Gpus | None = None
    max_racks: Gpus | None = None
    max_power_kw: Watts | None = None
    max_cost_per_hour: Dollars | None = None
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
    engine: str | dict[str, Any] = Field(DEFAULT_ENGINE, description="serving engine preset, file or inline table")
    set: dict[str, Any] = Field(default_factory=dict, description="overrides, as --set KEY=VALUE")
    layout: PinnedLayout | None = None
    assertions: Assertions = Field(default_factory=Assertions, alias="assert")

    model_config = {**StrictModel.model_config, "populate_by_name": True}

