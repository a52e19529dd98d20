"""The serving engine (framework): how it uses memory, schedules tokens into steps, and what each
step and kernel costs beyond the arithmetic. Presets live in `presets/engines/*.toml`, one per
framework, each with the defaults it ships and their sources; any field can be overridden with
`--set engine.max_num_tokens=16384`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from planner.inputs.base import StrictModel
from planner.inputs.layout import DEFAULT_MTP_ACCEPTANCE, MAX_MTP_DEPTH, Layout
from planner.inputs.limits import GB0, Batch, Tokens, Us0


class Engine(StrictModel):
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    memory_policy: Literal["total", "free"] = Field(
        description="'total': the engine may use memory_fraction of HBM for weights, activations and KV "
                    "(vLLM gpu_memory_utilization, SGLang mem_fraction_static); 'free': KV gets memory_fraction "
                    "of what is left after weights, activations and the runtime (TensorRT-LLM "
                    "free_gpu_memory_fraction)")
    memory_fraction: float = Field(gt=0, le=1)
    runtime_reserve_gib: GB0 = Field(
        description="CUDA context, communication buffers and allocator slack outside the engine's pools, GiB")
    kv_block_tokens: Tokens = Field(
        16, description="tokens per KV-cache block (page): a sequence holds whole blocks")
    max_num_tokens: Batch = Field(description="tokens one engine step may process (prefill chunks + decode)")
    max_batch: Batch = Field(description="sequences one attention-DP rank may decode at once")
    mixed_steps: bool = Field(
        description="co-located serving: prefill chunks ride in the decode steps (chunked prefill / in-flight "
                    "batching); false: prefill batches run as steps of their own, between decode steps")
    step_overhead_us: Us0 = Field(
        description="per engine step: scheduling, sampling, input preparation and host synchronisation, µs")
    kernel_latency_us: Us0 = Field(
        description="fixed cost of each non-GEMM kernel in a layer (launch, tail), µs")
    moe_layer_floor_us: Us0 = Field(
        0.0, description="least time a MoE layer's experts take, however few tokens (routing, permutation and "
                         "the grouped GEMMs' fixed latency in this engine's kernels), µs")
    draft_overhead_us: Us0 = Field(
        0.0, description="per draft token of speculative decoding: draft step and acceptance bookkeeping, µs")
    mtp_depth: int = Field(0, ge=0, le=MAX_MTP_DEPTH,
                           description="speculative decoding: draft tokens per step from the model's MTP layers "
                                       "(TensorRT-LLM num_nextn_predict_layers, SGLang --speculative-num-steps); the "
                                       "layouts `size` searches and a --layout given as text use it")
    mtp_acceptance: tuple[Annotated[float, Field(ge=0, le=1)], ...] = Field(
        DEFAULT_MTP_ACCEPTANCE, min_length=1,
        description="probability that draft i is accepted given drafts 1..i-1 were; the last value repeats")
    sources: tuple[str, ...] = Field(min_length=1)
    assumptions: tuple[str, ...] = ()

    def speculate(self, layout: Layout) -> Layout:
        """The layout with this engine's speculative decoding, unless it states drafts of its own."""
        if layout.mtp_depth or not self.mtp_depth:
            return layout
        return layout.model_copy(update={"mtp_depth": self.mtp_depth, "mtp_acceptance": self.mtp_acceptance})

    @property
    def runtime_reserve_bytes(self) -> float:
        return self.runtime_reserve_gib * 2**30

    @property
    def moe_layer_floor_s(self) -> float:
        return self.moe_layer_floor_us * 1e-6

    @property
    def step_overhead_s(self) -> float:
        return self.step_overhead_us * 1e-6

    @property
    def kernel_latency_s(self) -> float:
        return self.kernel_latency_us * 1e-6
