"""Serving workloads: demand, request shape, session reuse and SLOs.

A request (one turn of a session) brings `isl` new prompt tokens on top of `prefix` tokens that
an earlier turn (or a shared system prompt) already computed, and generates `osl` tokens. The
context a turn reaches is prefix + isl + osl; setting `context` derives the prefix from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    model_validator,
)

from planner.inputs.base import StrictModel
from planner.inputs.layout import Routing
from planner.inputs.limits import MAX_SESSIONS, MAX_TOKENS, Factor, Ms, Rate, Seconds0
from planner.units import parse_count


def _count(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)            # 1e30 from TOML: a count, so the range check (not int parsing) reports it
    return parse_count(value) if isinstance(value, str) else value


# token counts accept '128k' or '1M' (planner.units.parse_count); ranges from planner.inputs.limits
Count = Annotated[int, BeforeValidator(_count), Field(ge=0, le=MAX_TOKENS)]
PositiveCount = Annotated[int, BeforeValidator(_count), Field(gt=0, le=MAX_TOKENS)]
SessionCount = Annotated[int, BeforeValidator(_count), Field(gt=0, le=MAX_SESSIONS)]


@dataclass(frozen=True)
class RequestShape:
    """One request (turn): `isl` new prompt tokens after `prefix` reused ones, `osl` output tokens."""

    isl: int
    osl: int
    prefix: int = 0

    @property
    def final_context(self) -> int:
        return self.prefix + self.isl + self.osl

    @property
    def mean_decode_context(self) -> float:
        """Average context a decode step of this request sees."""
        return self.prefix + self.isl + self.osl / 2


class Slo(StrictModel):
    ttft_ms: Ms | None = Field(None, description="time to first token, ms")
    tpot_ms: Ms | None = Field(None, description="time per output token, ms")
    tokens_per_s_per_user: Rate | None = Field(None, description="decode speed per user")

    @property
    def tpot_s(self) -> float | None:
        """The tighter of the TPOT target and the per-user speed target, in seconds."""
        limits = [x / 1e3 for x in (self.tpot_ms,) if x] + [1 / x for x in (self.tokens_per_s_per_user,) if x]
        return min(limits) if limits else None

    @property
    def ttft_s(self) -> float | None:
        return self.ttft_ms / 1e3 if self.ttft_ms else None


class Workload(StrictModel):
    name: str = "custom"
    description: str = ""
    requests_per_s: Rate | None = Field(None, description="new requests (turns) per second")
    concurrent_sessions: SessionCount | None = Field(None, description="sessions decoding at once")
    isl: PositiveCount = Field(description="new prompt tokens per request")
    prefix: Count = Field(0, description="reused (already computed) prefix tokens per request")
    osl: PositiveCount = Field(description="output tokens per request")
    context: PositiveCount | None = Field(None, description="context a turn reaches; sets prefix")
    shared_prefix: Count = Field(0, description="system-prompt tokens shared by all sessions")
    turns_per_session: Factor = 1.0
    turn_gap_s: Seconds0 = Field(0.0, description="think/tool time between turns")
    session_lifetime_s: Seconds0 | None = Field(None, description="how long a session's KV is worth keeping")
    slo: Slo = Slo()
    prefix_cache: Literal["tiers", "resident"] = Field(
        "tiers", description="where reused prefixes live: 'tiers' = the KV tiers the plan sizes (G1 HBM to G4 "
                             "shared storage), hit rates from the turn gaps, misses recomputed; 'resident' = "
                             "always already in HBM (a perfect prefix cache, as `estimate --prefix` assumes)")
    kv_window_policy: Literal["full", "checkpoint", "recompute"] = Field(
        "checkpoint", description="window state in persistent KV tiers (DeepSeek-V4 §3.5.2)")
    kv_checkpoint_tokens: PositiveCount = Field(4096, description="period p of window-state checkpoints")
    expert_routing: Routing = Field(
        "power_law", description="MoE expert load: power_law (no balancer: the busiest GPU sets the pace), eplb "
                                 "(DeepSeek's EPLB-style balancer with redundant experts, a residual imbalance "
                                 "left) or balanced (perfectly uniform)")
    assumptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Workload:
        if self.requests_per_s is None and self.concurrent_sessions is None:
            raise ValueError("give requests_per_s or concurrent_sessions")
        if self.context is not None:
            if self.context < self.isl + self.osl:
                raise ValueError(f"context {self.context} is shorter than isl + osl = {self.isl + self.osl}")
            derived = self.context - self.isl - self.osl
            if self.prefix and self.prefix != derived:
                raise ValueError("give prefix or context, not both")
            object.__setattr__(self, "prefix", derived)
        return self

    @property
    def shape(self) -> RequestShape:
        return RequestShape(self.isl, self.osl, self.prefix)

    @property
    def final_context(self) -> int:
        return self.shape.final_context


def check_context(model_name: str, max_context: int, context: int, what: str = "workload context") -> None:
    """A context beyond the model's trained maximum is a user error, not a plan."""
    from planner.errors import InputError
    if context > max_context:
        raise InputError(f"{what} {context:,} tokens exceeds {model_name}'s maximum of {max_context:,} "
                         "(max_position_embeddings)",
                         hint=f"shorten it, or plan beyond it with --set model.max_context={context}")
