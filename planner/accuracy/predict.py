"""planner's prediction of a published measurement (`presets/validation/measured/`), through the
same serving engine every command uses: `evaluate_unit` for end-to-end throughput, the prefill
and decode phases for the phase-only runs, the engine's memory policy for KV capacity.

How a case becomes inputs (no constant here is per case; every rule is stated once):
- precisions: the case's; activations FP8 with FP8 weights (W8A8), W4A4 with NVFP4, else as the weights.
- engine: the framework's preset (`ENGINE_OF`); a stated `max_num_tokens` or memory fraction
  overrides it.
- batch per attention-DP rank: stated; else the concurrency spread over the instances' ranks; else
  (offline max-throughput runs) the largest batch whose KV fits at the final context, capped by
  the engine's `max_batch`; a stated batch is capped by what fits.
- trtllm-bench offline runs choose `max_num_tokens` themselves: batch x (1 + ISL / OSL), clamped to
  2,048-32,768 (tensorrt_llm/bench/build/tuning.py, `finetune_setting`), so a step holds the decode
  tokens and the prompt tokens that keep the batch full.
- expert load: the stated balancer; deployed redundant experts imply one (eplb); else power-law
  popularity with no balancer.
- speculative decoding: the stated depth; a stated acceptance length sets a constant per-draft
  acceptance p with 1 + p + ... + p^d = length; otherwise the layout's default acceptances.

What is predicted, by metric:
- output tokens/s per GPU: end-to-end runs: the unit at that batch (`tokens_per_s_per_gpu`, mixed
  steps, prefill included); decode-only runs: pp x batch x dp x accepted tokens / decode step, at
  the stated KV length, per GPU.
- input tokens/s per GPU (prefill-only runs): steps of max_num_tokens // ISL prompts per rank.
- tokens/s per user and TPOT: one stream alone sees bare decode steps (1 / TPOT = accepted tokens /
  step); with more streams, the unit's TPOT at that batch.
- TTFT: one request's prefill on an empty engine.
- KV capacity: the engine's KV pool over the KV bytes of a token (`kv_pool_bytes`), all DP ranks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.accuracy.measured import MeasuredCase
from planner.inputs import io
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout, Serving, parse_layout, validate_layout
from planner.inputs.model import Model
from planner.inputs.workload import RequestShape
from planner.model import facts as M
from planner.perf.memory import hbm_budget, kv_pool_bytes, kv_share
from planner.perf.phases import PhaseTimes, decode_step
from planner.perf.phases import prefill as prefill_phase
from planner.perf.unit import accepted_tokens, evaluate_unit, request_prefill
from planner.precision import Dtype

# Which engine preset models each framework. MLPerf submissions and Dynamo deployments in the set run
# TensorRT-LLM; DeepSeek's own inference system (framework "other") separates prefill and decode
# with attention-DP + EP like SGLang's large-EP deployments.
ENGINE_OF = {"trtllm": "trtllm", "mlperf": "trtllm", "dynamo": "trtllm", "sglang": "sglang", "vllm": "vllm",
             "other": "sglang"}

# trtllm-bench's clamp on the step token budget it picks (tuning.py, finetune_setting).
BENCH_MIN_TOKENS, BENCH_MAX_TOKENS = 2048, 32768


@dataclass(frozen=True)
class CaseInputs:
    model: Model
    hardware: Hardware
    engine: Engine
    layout: Layout                 # one instance, batch per attention-DP rank set
    prefill_layout: Layout | None
    shape: RequestShape
    instances: int                 # instances of `layout` the measured GPUs hold
    batch_source: str              # where the batch came from: stated, concurrency, memory, engine cap


@dataclass(frozen=True)
class Prediction:
    case: MeasuredCase
    value: float
    inputs: CaseInputs
    step: PhaseTimes               # the step that sets the predicted figure

    @property
    def error(self) -> float:
        """Signed error as a rate: predicted rate / measured rate - 1 (for a time, the inverse), so
        positive means planner is optimistic for every metric."""
        if self.case.metric in ("tpot_ms", "ttft_ms"):
            return self.case.value / self.value - 1
        return self.value / self.case.value - 1

    @property
    def dominant(self) -> str:
        """The largest term of the deciding step (compute, hbm, scale_up, scale_out, storage or
        overhead): where the prediction's time goes."""
        terms = {**self.step.terms, "overhead": self.step.overhead_s}
        return max(terms, key=lambda k: terms[k])


def precision_sets(weights: Dtype, experts: Dtype | None = None, kv: Dtype = Dtype.bf16,
                   activations: Dtype | None = None, expert_activations: Dtype | None = None) -> dict[str, object]:
    """Stated precisions as model `--set` keys. Unstated activations follow the checkpoint
    conventions: W8A8 for FP8 weights, W4A4 for NVFP4 (ModelOpt), else the weights' format."""
    experts = experts or weights
    activations = activations or (Dtype.fp8 if weights == Dtype.fp8 else weights)
    expert_activations = expert_activations or (experts if experts in (Dtype.fp8, Dtype.nvfp4) else activations)
    return {"model.precision.weights": weights.value, "model.precision.activations": activations.value,
            "model.precision.experts": experts.value,
            "model.precision.expert_activations": expert_activations.value, "model.precision.kv": kv.value}


def acceptance_for_length(depth: int, length: float) -> tuple[float, ...]:
    """A constant per-draft acceptance p with 1 + p + ... + p^depth = length (bisection)."""
    target = min(max(length, 1.0), depth + 1.0)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        p = (lo + hi) / 2
        if sum(p ** i for i in range(depth + 1)) < target:
            lo = p
        else:
            hi = p
    return ((lo + hi) / 2,)


def _bench_tokens(batch: int, shape: RequestShape) -> int:
    raw = batch * (1 + shape.isl / shape.osl)
    return int(min(BENCH_MAX_TOKENS, max(BENCH_MIN_TOKENS, math.ceil(raw))))


def case_inputs(case: MeasuredCase, engine_sets: Mapping[str, object] | None = None) -> CaseInputs:
    """The model, machine, engine, layout, batch and request shape a case states (module doc).
    `engine_sets` overrides engine fields (what bench/calibrate_engines.py varies)."""
    m = io.load_model(case.model, precision_sets(case.weights, case.experts, case.kv, case.activations,
                                                 case.expert_activations))
    hw = io.load_hardware(case.hardware)
    sets: dict[str, object] = {f"engine.{k}": v for k, v in (engine_sets or {}).items()}
    if case.max_num_tokens:
        sets["engine.max_num_tokens"] = case.max_num_tokens
    if case.memory_fraction:
        sets["engine.memory_fraction"] = case.memory_fraction
    e = io.load_engine(ENGINE_OF[case.framework], sets)
    routing = case.routing or ("eplb" if case.redundant_experts else "power_law")
    extra: dict[str, object] = {"mtp_depth": case.mtp_depth, "redundant_experts": case.redundant_experts,
                                "routing": routing}
    if case.mtp_depth and case.acceptance_length:
        extra["mtp_acceptance"] = acceptance_for_length(case.mtp_depth, case.acceptance_length)
    if case.serving == "disaggregated":
        extra["serving"] = Serving.disaggregated
    base = validate_layout(m, hw, parse_layout(case.layout, **extra))
    prefill_layout = validate_layout(m, hw, parse_layout(case.prefill_layout)) if case.prefill_layout else None
    instances = max(1, case.gpus // base.gpus)
    shape = RequestShape(isl=case.isl, osl=case.osl)
    context = case.kv_length or shape.final_context
    chunk = 0 if case.serving in ("decode_only", "disaggregated") else min(case.isl, e.max_num_tokens)
    fits = min(hbm_budget(m, hw, base, context, chunk, e).max_batch, e.max_batch)
    ranks = instances * base.dp * base.pp
    if case.batch:
        batch, source = case.batch, "stated"
    elif case.concurrency:
        batch, source = max(1, math.ceil(case.concurrency / ranks)), "concurrency"
    else:
        batch, source = fits, "memory" if fits < e.max_batch else "engine cap"
    if batch > fits >= 1:
        batch, source = fits, "memory"
    batch = max(1, batch)
    if case.framework == "trtllm" and not case.batch and not case.concurrency and not case.max_num_tokens:
        e = e.model_copy(update={"max_num_tokens": _bench_tokens(batch, shape)})
    return CaseInputs(model=m, hardware=hw, engine=e, layout=base.model_copy(update={"batch": batch}),
                      prefill_layout=prefill_layout, shape=shape, instances=instances, batch_source=source)


def predict(case: MeasuredCase, engine_sets: Mapping[str, object] | None = None) -> Prediction:
    """planner's figure for what the case measured (module doc)."""
    x = case_inputs(case, engine_sets)
    m, hw, e, lay, shape = x.model, x.hardware, x.engine, x.layout, x.shape
    context = case.kv_length or shape.mean_decode_context
    if case.metric == "kv_capacity_tokens":
        pool = kv_pool_bytes(m, hw, lay, min(shape.isl, e.max_num_tokens), e)
        value = pool / (M.kv_bytes_per_token(m) * kv_share(m, lay)) * lay.dp
        step = decode_step(m, hw, lay, context, e)
    elif case.metric == "ttft_ms":
        step = request_prefill(m, hw, lay, shape, engine=e)
        value = step.time_s * 1e3
    elif case.metric == "input_tokens_per_s_per_gpu":
        k = max(1, e.max_num_tokens // shape.isl)
        step = prefill_phase(m, hw, lay, shape.isl, requests=k, engine=e)
        value = lay.pp * lay.dp * k * shape.isl / step.time_s / lay.gpus
    elif case.serving == "decode_only" and case.metric == "output_tokens_per_s_per_gpu":
        step = decode_step(m, hw, lay, context, e)
        value = lay.pp * lay.batch * lay.dp * accepted_tokens(m, lay) / step.time_s / lay.gpus
    elif lay.batch == 1 and case.metric in ("tokens_per_s_per_user", "tpot_ms"):
        step = decode_step(m, hw, lay, context, e)        # one stream alone: bare decode steps
        tpot = step.time_s / accepted_tokens(m, lay)
        value = 1 / tpot if case.metric == "tokens_per_s_per_user" else tpot * 1e3
    else:
        unit = evaluate_unit(m, hw, shape, lay, engine=e, prefill_layout=x.prefill_layout)
        step = unit.step
        value = {"output_tokens_per_s_per_gpu": unit.tokens_per_s_per_gpu,
                 "total_tokens_per_s_per_gpu": unit.tokens_per_s_per_gpu * (1 + shape.isl / shape.osl),
                 "tokens_per_s_per_user": 1 / unit.tpot_s, "tpot_ms": unit.tpot_s * 1e3}[case.metric]
    return Prediction(case=case, value=value, inputs=x, step=step)
