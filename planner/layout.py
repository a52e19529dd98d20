"""How one serving unit is parallelised.

`batch` is the number of sequences decoding concurrently per attention-DP rank (the vLLM,
SGLang and TensorRT-LLM convention): a unit with dp=8 and batch 64 holds 512 sequences.
Attention runs TP-way inside each of the dp ranks; routed experts are spread EP-way over the
same tp*dp GPUs (any remaining factor tp*dp/ep shards each expert tensor-parallel).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from planner.base import StrictModel
from planner.errors import InputError


class Layout(StrictModel):
    tp: PositiveInt = 1
    dp: PositiveInt = Field(1, description="attention data-parallel ranks in the unit")
    ep: PositiveInt = 1
    pp: PositiveInt = 1
    batch: PositiveInt = Field(1, description="sequences per attention-DP rank")
    disaggregated: bool = Field(False, description="prefill and decode in separate pools")
    dual_microbatch: bool = Field(True, description="overlap communication with compute (two micro-batches)")
    mtp: bool = Field(False, description="speculative decoding with the model's MTP layers")
    mtp_acceptance: float = Field(0.85, ge=0, le=1, description="ISCA '25 §2.3.3: 80-90% for the 2nd token")
    routing: Literal["power_law", "balanced"] = Field(
        "power_law", description="expert popularity: power law (alpha 1.01, the busiest GPU sets the pace) or "
                                 "balanced (an expert-parallel load balancer with redundant experts)")

    @model_validator(mode="after")
    def _ep_divides(self) -> "Layout":
        if (self.tp * self.dp) % self.ep:
            raise ValueError(f"ep={self.ep} must divide tp*dp={self.tp * self.dp} (experts live on the attention GPUs)")
        return self

    @property
    def gpus_per_stage(self) -> int:
        return self.tp * self.dp

    @property
    def gpus(self) -> int:
        return self.tp * self.dp * self.pp

    @property
    def sequences(self) -> int:
        """Sequences decoding at once in the unit (per pipeline micro-batch)."""
        return self.batch * self.dp

    @property
    def expert_tp(self) -> int:
        return self.gpus_per_stage // self.ep

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
            raise InputError(f"layout part {part!r} is not {allowed}", field="--layout", hint=f'e.g. --layout "{example}"')
        try:
            values[key] = int(value)
        except ValueError:
            raise InputError(f"layout {key}={value.strip()!r} is not a whole number", field="--layout") from None
    return values


def parse_layout(text: str, **extra: object) -> Layout:
    """'tp=1,dp=8,ep=8,pp=1' -> Layout; unknown words and bad numbers are InputErrors."""
    values: dict[str, object] = {**extra, **layout_words(text, ("tp", "dp", "ep", "pp"), "tp=1,dp=8,ep=8,pp=1")}
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
