"""Published end-to-end serving measurements with their configuration stated: the reference set
`planner validate` holds the serving engine against (besides the aiconfigurator kernel cases).

Each `[[case]]` in `presets/validation/measured/*.toml` is one measured figure from one source
(vendor documentation and blogs, LMSYS/SGLang, vLLM, MLPerf, InferenceX), with the date, the
framework, the machine and GPU count, the model and its precisions, the layout, the request
shape, the batch or concurrency, speculative decoding, and what was measured. Nothing here is
fitted per case: calibration lives in documented constants per kernel class, framework or machine.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from planner.inputs import io
from planner.inputs.base import StrictModel
from planner.precision import Dtype

Metric = Literal[
    "output_tokens_per_s_per_gpu",   # generated tokens per second per GPU (throughput runs)
    "input_tokens_per_s_per_gpu",    # prompt tokens per second per GPU (prefill-only runs)
    "total_tokens_per_s_per_gpu",    # prompt + generated tokens per second per GPU
    "tokens_per_s_per_user",         # per-stream output speed (1 / TPOT-like, as the source defines it)
    "tpot_ms",                       # time per output token
    "ttft_ms",                       # time to first token
    "kv_capacity_tokens",            # KV-cache tokens the engine reported it could hold (per instance)
]
Group = Literal["prefill", "decode", "latency", "end_to_end", "capacity"]


class MeasuredCase(StrictModel):
    id: str = Field(description="unique, e.g. 'trtllm-b200-dsr1-fp4-dep8-1k2k'")
    source: str = Field(description="URL, pinned to a commit where the source is a repository")
    date: str = Field(description="publication date, YYYY-MM or YYYY-MM-DD")
    framework: Literal["trtllm", "sglang", "vllm", "dynamo", "mlperf", "other"]
    framework_version: str = ""
    model: str = Field(description="planner model preset with the same architecture (DeepSeek-R1 -> deepseek-v3)")
    weights: Dtype = Field(Dtype.bf16, description="attention and dense weights")
    activations: Dtype | None = Field(None, description="GEMM inputs; default fp8 for fp8 weights, else as weights")
    experts: Dtype | None = Field(None, description="routed experts; default: as weights")
    expert_activations: Dtype | None = Field(None, description="default: as experts (W4A4 for nvfp4)")
    kv: Dtype = Dtype.bf16
    hardware: str = Field(description="planner hardware preset")
    gpus: PositiveInt = Field(description="GPUs the measured figure covers")
    layout: str = Field(description="one instance's layout in planner words, e.g. 'tp=8' or 'tp=1,dp=8,ep=8'")
    serving: Literal["colocated", "disaggregated", "prefill_only", "decode_only"] = "colocated"
    prefill_layout: str | None = Field(None, description="disaggregated: the prefill instance's layout")
    redundant_experts: NonNegativeInt = 0
    routing: Literal["power_law", "eplb", "balanced"] | None = Field(
        None, description="expert load balancing; default: eplb when redundant experts are deployed (they exist "
                          "only for a balancer), else power_law")
    batch: PositiveInt | None = Field(None, description="sequences per attention-DP rank, when stated")
    concurrency: PositiveInt | None = Field(None, description="requests in flight across the measured GPUs")
    max_num_tokens: PositiveInt | None = Field(None, description="tokens per engine step (prefill budget)")
    memory_fraction: float | None = Field(None, gt=0, le=1, description="the engine's KV memory fraction, when "
                                          "stated (vLLM gpu_memory_utilization, SGLang mem_fraction_static, "
                                          "TensorRT-LLM kv_cache_free_gpu_mem_fraction)")
    isl: PositiveInt
    osl: PositiveInt
    kv_length: PositiveInt | None = Field(None, description="decode-only runs: context per sequence")
    mtp_depth: NonNegativeInt = Field(0, description="draft tokens per step (MTP/Eagle)")
    acceptance_length: PositiveFloat | None = Field(None, description="measured tokens per step with drafts")
    metric: Metric
    value: PositiveFloat
    group: Group
    status: Literal["M", "M-p"] = Field(description="M: layout fully stated; M-p: one input not stated")
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> MeasuredCase:
        if self.serving == "disaggregated" and self.prefill_layout is None:
            raise ValueError("a disaggregated case needs prefill_layout")
        if self.acceptance_length is not None and self.mtp_depth == 0:
            raise ValueError("acceptance_length needs mtp_depth")
        return self


def load_measured() -> list[MeasuredCase]:
    """Every case of presets/validation/measured/*.toml, in file order; ids are unique."""
    folder = resources.files("presets") / "validation" / "measured"
    cases: list[MeasuredCase] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        label = f"presets/validation/measured/{entry.name}"
        cases += [io.validate(MeasuredCase, c, label, f"case[{i}]") for i, c in enumerate(data.get("case", []))]
    ids = [c.id for c in cases]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise io.InputError(f"duplicate case ids: {', '.join(duplicated)}", source="presets/validation/measured")
    return cases
