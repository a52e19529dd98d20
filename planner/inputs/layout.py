"""How one serving unit is parallelised, and the one place that says whether a layout is possible.

`batch` is the number of sequences decoding concurrently per attention-DP rank and per pipeline
micro-batch (the vLLM, SGLang and TensorRT-LLM convention): a unit with dp=8 and batch 64 holds
512 sequences per micro-batch. With pp > 1 the unit keeps pp micro-batches in flight, one per
stage, so it holds pp x dp x batch sequences (the in-flight micro-batch assumption; `size` and
`estimate` state it in their output).

Attention runs TP-way inside each of the dp ranks; routed experts are spread EP-way over the same
tp*dp GPUs of a stage, and any remaining factor tp*dp/ep shards each expert tensor-parallel.
`validate_layout` holds every rule a layout must satisfy on a given model and machine; every
command calls it, so a layout that one command refuses no other command accepts.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import Field, NonNegativeInt

from planner.errors import InputError
from planner.inputs.base import StrictModel
from planner.inputs.limits import Batch, Count0, Gpus

if TYPE_CHECKING:
    from planner.inputs.hardware import Hardware
    from planner.inputs.model import Model


# Conditional acceptance of successive MTP drafts for DeepSeek-V3/R1, measured by TensorRT-LLM on
# B200 (tech blog "Pushing Latency Boundaries": 1.92, 2.58 and 2.82 accepted tokens per step at
# depth 1, 2, 3 -> p1 = 0.92, p2 = 0.66 / 0.92 = 0.717, p3 = 0.24 / 0.66 = 0.364). DeepSeek's own
# report gives 85-90% for the second token; models' own drafts vary, so it is an input.
DEFAULT_MTP_ACCEPTANCE = (0.92, 0.717, 0.364)
MAX_MTP_DEPTH = 8


class Serving(StrEnum):
    """Where prefill runs: on the decode GPUs (colocated) or in a separate pool (disaggregated)."""

    colocated = "colocated"
    disaggregated = "disaggregated"


Routing = Literal["power_law", "eplb", "balanced"]


_VARIANTS: dict[tuple, tuple[Layout, Layout]] = {}     # see Layout.with_; the entry holds its base
_VARIANTS_LIMIT = 16_384


class Layout(StrictModel):
    tp: Gpus = 1
    dp: Gpus = Field(1, description="attention data-parallel ranks in the unit")
    ep: Gpus = 1
    pp: Gpus = 1
    batch: Batch = Field(1, description="sequences per attention-DP rank, per pipeline micro-batch")
    serving: Serving = Field(Serving.colocated, description="prefill on the decode GPUs, or in a separate pool")
    redundant_experts: Count0 = Field(
        0, description="extra expert replicas (DeepSeek EPLB): physical experts = routed + redundant")
    dual_microbatch: bool = Field(True, description="overlap communication with compute (two micro-batches)")
    mtp_depth: NonNegativeInt = Field(
        0, le=MAX_MTP_DEPTH, description="draft tokens per step from the model's MTP layers (speculative decoding)")
    mtp_acceptance: tuple[Annotated[float, Field(ge=0, le=1)], ...] = Field(
        DEFAULT_MTP_ACCEPTANCE, min_length=1,
        description="probability that draft i is accepted given drafts 1..i-1 were; the last value repeats")
    routing: Routing = Field(
        "power_law", description="expert load across GPUs: power_law (alpha 1.01, no balancer: the busiest GPU sets "
                                 "the pace), eplb (a load balancer with redundant experts, its residual imbalance "
                                 "left) or balanced (perfectly uniform, an upper bound)")

    @property
    def disaggregated(self) -> bool:
        return self.serving == Serving.disaggregated

    @property
    def mtp(self) -> bool:
        return self.mtp_depth > 0

    def accepted_tokens(self) -> float:
        """Tokens a sequence advances per step with `mtp_depth` drafts: 1 + p1 + p1 p2 + ..."""
        total, chain = 1.0, 1.0
        for i in range(self.mtp_depth):
            chain *= self.mtp_acceptance[min(i, len(self.mtp_acceptance) - 1)]
            total += chain
        return total

    @property
    def gpus_per_stage(self) -> int:
        return self.tp * self.dp

    @property
    def gpus(self) -> int:
        return self.tp * self.dp * self.pp

    @property
    def sequences(self) -> int:
        """Sequences of one pipeline micro-batch (batch per DP rank x DP ranks)."""
        return self.batch * self.dp

    @property
    def sequences_in_flight(self) -> int:
        """Sequences the unit holds: one micro-batch per pipeline stage."""
        return self.batch * self.dp * self.pp

    @property
    def expert_tp(self) -> int:
        return self.gpus_per_stage // self.ep

    def with_(self, **changes: Any) -> Layout:
        """`model_copy(update=changes)`, cached per layout object: the sizing search asks for the
        same few layouts at thousands of batches, and a copy costs more than the lookup."""
        key = (id(self), *sorted(changes.items()))
        hit = _VARIANTS.get(key)
        if hit is not None and hit[0] is self:
            return hit[1]
        variant = self.model_copy(update=changes)
        if len(_VARIANTS) >= _VARIANTS_LIMIT:
            _VARIANTS.clear()
        _VARIANTS[key] = (self, variant)
        return variant

    def shape_key(self) -> tuple:
        """Everything but the batch: what a prefill (which ignores the batch) depends on."""
        return (self.tp, self.dp, self.ep, self.pp, self.serving, self.redundant_experts, self.dual_microbatch,
                self.mtp_depth, self.routing)

    def to_dict(self) -> dict:
        """The keys every output reports for a layout (base JSON contract: tp, dp, ep, pp, batch, gpus)."""
        return {"tp": self.tp, "dp": self.dp, "ep": self.ep, "pp": self.pp, "batch": self.batch, "gpus": self.gpus}

    def label(self) -> str:
        return f"tp={self.tp},dp={self.dp},ep={self.ep},pp={self.pp}"


def layout_words(text: str, words: tuple[str, ...], example: str) -> dict[str, int]:
    """'tp=1,dp=8,ep=8' -> {'tp': 1, 'dp': 8, 'ep': 8}; unknown words and bad numbers are InputErrors.
    Shared by serving layouts (tp, dp, ep, pp) and training layouts (also cp)."""
    values: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in words:
            allowed = ", ".join(f"{w}=N" for w in words[:-1]) + f" or {words[-1]}=N"
            raise InputError(f"layout part {part!r} is not {allowed}", field="--layout",
                             hint=f'e.g. --layout "{example}"')
        try:
            values[key] = int(value)
        except ValueError:
            raise InputError(f"layout {key}={value.strip()!r} is not a whole number", field="--layout") from None
    return values


def parse_routing(text: str) -> tuple[str, int | None]:
    """'power_law', 'balanced', 'eplb' or 'eplb:redundant=32' -> (routing, redundant experts or None)."""
    name, _, rest = text.strip().lower().partition(":")
    if name not in get_args(Routing):
        raise InputError(f"{text!r} is not power_law, eplb, eplb:redundant=N or balanced", field="--routing")
    if not rest:
        return name, None
    key, sep, value = rest.partition("=")
    if name != "eplb" or key.strip() != "redundant" or not sep or not value.strip().isdigit():
        raise InputError(f"{text!r}: only eplb takes an option, as eplb:redundant=N", field="--routing")
    return name, int(value)


def parse_layout(text: str, **extra: object) -> Layout:
    """'tp=1,dp=8,ep=8,pp=1' -> Layout; unknown words and bad numbers are InputErrors. `extra`
    sets the other fields (batch, serving, ...). The rules that need the model and machine are
    `validate_layout`'s."""
    values: dict[str, object] = {**{k: v for k, v in extra.items() if v is not None},
                                 **layout_words(text, ("tp", "dp", "ep", "pp"), "tp=1,dp=8,ep=8,pp=1")}
    return layout_of(values)


def layout_of(values: dict[str, object]) -> Layout:
    """A Layout from its fields, validated (ranges included); errors name --layout or the option."""
    from pydantic import ValidationError
    try:
        return Layout.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if where and where not in ("tp", "dp", "ep", "pp"):           # an option given beside --layout
            raise InputError(message, field=f"--{where.replace('_', '-')}") from None
        raise InputError(f"{where}: {message}" if where else message, field="--layout") from None


def default_ep(model: Model, tp: int, dp: int) -> int:
    """EP when a layout does not say: every GPU of a stage holds experts (tp x dp) for MoE, 1 for dense."""
    return tp * dp if model.moe is not None else 1


def layout_problem(model: Model, hardware: Hardware, layout: Layout) -> str | None:
    """The first rule the layout breaks on this model and machine, as one sentence; None when it is
    possible. The rules, in order:

    1. TP fits one scale-up domain: a TP all-reduce runs in every layer and cannot leave it.
    2. TP divides the attention (query) heads, and the KV heads or a multiple of them (a TP wider
       than the KV heads replicates each head tp / kv_heads times; the KV share counts it);
       linear-attention heads likewise.
    3. A dense model has no expert parallelism and no attention-DP (its replicas come from the demand).
    4. EP divides the GPUs of a stage (tp x dp), covers whole attention-DP ranks (ep = 1 or a
       multiple of dp, so expert-TP groups stay inside a TP group) and divides the physical experts
       (routed + redundant).
    5. Only expert parallelism may span scale-up domains: tp x dp larger than the domain needs
       ep = tp x dp (the EP all-to-all crosses the NICs; the attention stays inside each domain).
    6. PP is at most the number of layers.
    """
    a = model.attention
    tp, dp, ep, pp = layout.tp, layout.dp, layout.ep, layout.pp
    domain = hardware.scale_up.domain_size
    if tp > domain:
        return (f"tp={tp} exceeds the {domain}-GPU scale-up domain of {hardware.name}: the TP all-reduce runs "
                "in every layer and cannot leave the domain")
    if a.num_heads % tp:
        return f"tp={tp} does not divide the {a.num_heads} attention heads"
    kv_heads = getattr(a, "num_kv_heads", None)
    if kv_heads is not None and kv_heads % tp and tp % kv_heads:
        return (f"tp={tp} neither divides the {kv_heads} KV heads nor is a multiple of them "
                f"(each GPU must hold whole heads)")
    linear = getattr(a, "linear", None)
    if linear is not None:
        for heads, what in ((linear.num_key_heads, "linear-attention key"),
                            (linear.num_value_heads, "linear-attention value")):
            if heads % tp and tp % heads:
                return f"tp={tp} neither divides the {heads} {what} heads nor is a multiple of them"
    if model.moe is None:
        if ep > 1:
            return f"ep={ep} on a dense model: expert parallelism needs MoE layers"
        if dp > 1:
            return (f"dp={dp} on a dense model: attention-DP ranks only join at MoE layers; "
                    "more replicas come from the demand (use dp=1)")
    else:
        stage = tp * dp
        if stage % ep:
            return f"ep={ep} does not divide the {stage} GPUs of a stage (tp×dp = {tp}×{dp})"
        if ep > 1 and ep % dp:
            return (f"ep={ep} is not a multiple of dp={dp}: expert-parallel ranks must cover whole attention-DP "
                    "ranks (expert-TP groups stay inside a TP group)")
        physical = model.moe.num_experts + layout.redundant_experts
        if physical % ep:
            extra = (f" ({model.moe.num_experts} routed + {layout.redundant_experts} redundant)"
                     if layout.redundant_experts else "")
            return (f"ep={ep} does not divide the {physical} experts{extra}: every EP rank must hold the same "
                    f"number of experts (add {(-physical) % ep} redundant experts, or choose an EP that divides them)")
        if stage > domain and ep != stage:
            return (f"tp×dp={stage} spans {math.ceil(stage / domain)} scale-up domains of {domain}, but only expert "
                    f"parallelism may cross domains: use ep={stage}")
    if pp > model.num_layers:
        return f"pp={pp} exceeds the {model.num_layers} layers of {model.name}"
    return None


def validate_layout(model: Model, hardware: Hardware, layout: Layout, field: str = "--layout") -> Layout:
    """The layout, or an InputError (exit 2) naming the rule it breaks (see `layout_problem`)."""
    problem = layout_problem(model, hardware, layout)
    if problem is not None:
        raise InputError(problem, field=field)
    return layout
