"""Per-phase times of one serving unit: each resource separately, then an explicit overlap rule.

A phase is one decode step (every sequence of the batch advances one token) or the prefill of
one request. Work is split into roofline classes, each bound by the slower of its compute and
its HBM traffic:
- dense GEMMs (attention projections, dense MLP, shared experts, router, LM head) vs their weights,
- routed-expert GEMMs vs the expert weights the batch actually hits,
- attention core (QK^T, AV, indexer) vs the KV it reads,
- elementwise kernels (norms, RoPE, activation, residual adds): no FLOPs to speak of, only
  activation traffic; they run as separate kernels, so their time adds rather than hiding
  under GEMM compute.
GPU time = sum over classes of max(compute, hbm). Communication (TP all-reduce, EP
dispatch/combine, PP sends, disaggregated KV transfer) is split by fabric. Overlap rule: the TP
all-reduce is a data dependency inside every layer and stays on the critical path (TensorRT-LLM
and vLLM do not overlap it); with dual micro-batch overlap the rest (EP all-to-all, PP sends, KV
transfer) hides under GPU time up to that time (DeepSeek Day-6, V4 §3.1); without it, it adds.
A fixed per-step overhead covers launches and scheduling.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import default_engine
from planner.inputs.layout import Layout
from planner.inputs.model import GqaAttention, MlaAttention, Model
from planner.machine.efficiency import kernels
from planner.memo import IdentityMemo
from planner.model import facts as M
from planner.perf.comm import (
    Traffic,
    ep_all_to_all,
    kv_transfer,
    pp_sends,
    tp_allreduce,
)
from planner.perf.memory import expert_copies, kv_tp_share
from planner.precision import (
    ComputeClass,
    Dtype,
    gemm_compute_class,
    weight_bytes_per_param,
)

# Fixed costs. Each kernel of a layer pays a latency that bandwidth does not explain (the engine's
# kernel_latency_us: launch gaps under CUDA graphs, DRAM latency, tails; aiconfigurator applies 3 µs
# per op). Kernels per layer that are not GEMMs (GEMM latency is in the measured curves), as a
# decode step of TensorRT-LLM / SGLang / vLLM runs them:
# - GQA attention: input RMSNorm, RoPE + KV-cache write, attention, residual add + norm      4
# - MLA attention (absorbed): input norm, q_a and kv_a norms, RoPE, KV write, attention,
#   residual add + norm (q_a/kv_a, q_b, k_b/v_b absorb BMMs and o are GEMMs)                  7
# - a sparse-attention indexer (DSA / CSA): key norm, RoPE, scores, top-k                     4
# - dense MLP: activation                                                                     1
# - MoE: top-k softmax, permute/dispatch, activation, unpermute/combine, shared-expert act.   5
# Each engine step adds scheduling, sampling and host sync (step_overhead_us); a MoE layer's experts
# take at least the engine's moe_layer_floor_us.
ATTENTION_KERNELS = {"gqa": 4, "mla": 7}
INDEXER_KERNELS = 4
MLP_KERNELS = {"dense": 1, "moe": 5}
GEMMS_PER_LAYER = 4          # without measured tables, the GEMMs' launches count too (QKV, O, up, down)
ACTIVATION_BYTES = 2.0   # elementwise kernels run in BF16 whatever the GEMM precision

RESOURCES = ("compute", "hbm", "scale_up", "scale_out", "storage")


@dataclass(frozen=True)
class PhaseTimes:
    """Seconds per resource for one phase, and the combined time."""

    compute_s: float
    hbm_s: float
    scale_up_s: float
    scale_out_s: float
    storage_s: float
    overhead_s: float
    gpu_s: float          # sum over roofline classes of max(compute, hbm)
    time_s: float
    traffic: Traffic
    flops: float          # per GPU
    hbm_bytes: float      # per GPU

    @property
    def terms(self) -> dict[str, float]:
        return {"compute": self.compute_s, "hbm": self.hbm_s, "scale_up": self.scale_up_s,
                "scale_out": self.scale_out_s, "storage": self.storage_s}

    @property
    def bottleneck(self) -> str:
        terms = self.terms
        return max(terms, key=lambda k: terms[k])

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.terms.items(), key=lambda kv: -kv[1])

    def to_dict(self) -> dict:
        return {"compute_s": self.compute_s, "hbm_s": self.hbm_s, "scale_up_s": self.scale_up_s,
                "scale_out_s": self.scale_out_s, "storage_s": self.storage_s,
                "overhead_s": self.overhead_s, "time_s": self.time_s, "bottleneck": self.bottleneck,
                "flops_per_gpu": self.flops, "hbm_bytes_per_gpu": self.hbm_bytes,
                "scale_up_bytes_per_gpu": self.traffic.scale_up_bytes,
                "scale_out_bytes_per_gpu": self.traffic.scale_out_bytes}


_MIXED = ("compute_s", "hbm_s", "scale_up_s", "scale_out_s", "storage_s", "overhead_s", "gpu_s", "time_s",
          "flops", "hbm_bytes")


def mix(parts: list[tuple[float, PhaseTimes]]) -> PhaseTimes:
    """The expected phase over outcomes with these probabilities (every field is linear)."""
    def total(values: Iterable[float]) -> float:
        return sum(p * v for (p, _), v in zip(parts, values, strict=True))
    traffic = Traffic(*(total(column) for column in zip(*(t.traffic.astuple() for _, t in parts), strict=True)))
    fields = {name: total([getattr(t, name) for _, t in parts]) for name in _MIXED}
    return PhaseTimes(traffic=traffic, **fields)


def _fabric_times(hw: Hardware, t: Traffic) -> tuple[float, float]:
    """(scale-up seconds, scale-out seconds) for a traffic bundle: bytes over effective bandwidth
    plus a fixed latency per collective."""
    eff = hw.efficiency
    up = (t.scale_up_bytes / (hw.scale_up.bandwidth_bytes_per_s * eff.scale_up)
          + t.scale_up_collectives * hw.scale_up.latency_us * 1e-6)
    out = (t.scale_out_bytes / (hw.scale_out.bandwidth_bytes_per_s * eff.scale_out)
           + t.scale_out_collectives * hw.scale_out.latency_us * 1e-6)
    return up, out


def _fabric_time(hw: Hardware, t: Traffic) -> float:
    up, out = _fabric_times(hw, t)
    return up + out


def dense_matrices(m: Model, tp: int) -> list[tuple[float, int]] | None:
    """(elements one GPU holds, how many) for each dense weight matrix a step streams, TP-sharded:
    attention projections, dense MLPs, shared experts, LM head. None for attention kinds without a
    listing here (the typical matrix stands in)."""
    h, a, f = m.hidden_size, m.attention, M.facts(m)
    layers = m.num_layers
    mats: list[tuple[float, int]] = []
    if isinstance(a, GqaAttention):
        kinds = f.layer_kinds
        softmax = kinds["full"] + kinds["sliding"]
        mats += [(h * (a.num_heads + 2 * a.num_kv_heads) * a.head_dim / tp, softmax),
                 (a.num_heads * a.head_dim * h / tp, softmax)]
        if a.linear is not None and kinds["linear"]:
            # input projections (q, k, v and the gate) and the output projection
            lin = a.linear
            mats += [(h * (2 * lin.key_dim + 2 * lin.value_dim) / tp, kinds["linear"]),
                     (lin.value_dim * h / tp, kinds["linear"])]
        if a.mamba is not None and kinds["mamba"]:
            mats += [(h * (2 * a.mamba.inner + 2 * a.mamba.n_groups * a.mamba.state_size) / tp, kinds["mamba"]),
                     (a.mamba.inner * h / tp, kinds["mamba"])]
    elif isinstance(a, MlaAttention):
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        # q_a and kv_a are one replicated GEMM in the engines (fused_qkv_a_proj); q_b, the absorbed
        # k_b / v_b and o are sharded by heads
        q_a = a.q_lora_rank or 0
        mats += [(h * (q_a + a.kv_lora_rank + a.qk_rope_head_dim), layers),
                 ((q_a or h) * a.num_heads * qk / tp, layers),
                 (a.kv_lora_rank * a.num_heads * (a.qk_nope_head_dim + a.v_head_dim) / tp, layers),
                 (a.num_heads * a.v_head_dim * h / tp, layers)]
    else:
        return None
    if m.mlp is not None and f.dense_layers:
        width = m.mlp.intermediate_size
        mats += [(2 * h * width / tp, f.dense_layers), (h * width / tp, f.dense_layers)]
    if m.moe is not None and m.moe.shared_width:
        mats += [(2 * h * m.moe.shared_width / tp, f.moe_layers), (h * m.moe.shared_width / tp, f.moe_layers)]
    mats.append((h * m.vocab_size / tp, 1))
    return mats


def _typical_matrix(m: Model, tp: int) -> float:
    """Hidden x the wider of the MLP and attention widths, TP-sharded: the stand-in matrix size."""
    a = m.attention
    attn_width = a.num_heads * getattr(a, "head_dim", getattr(a, "v_head_dim", 128))
    mlp_width = (m.mlp.intermediate_size if m.mlp
                 else (m.moe.shared_width if m.moe and m.moe.shared_width else attn_width))
    return m.hidden_size * max(attn_width, mlp_width) / tp


def dense_stream_efficiency(m: Model, hw: Hardware, cls: ComputeClass, tp: int) -> float:
    """Share of HBM bandwidth the dense weights stream at in decode: each matrix at the measured
    rate of its size bin (small GEMMs stream far below the big ones), combined by bytes (the time of
    the whole set over its bytes)."""
    k = kernels(hw)
    mats = dense_matrices(m, tp)
    if not mats:
        return k.weight_stream(cls, _typical_matrix(m, tp))
    total = sum(n * c for n, c in mats)
    return total / sum(n * c / k.weight_stream(cls, n) for n, c in mats)


def _expert_hit_fraction(m: Model, tokens: float, copies: float = 1.0) -> float:
    """Expected share of a GPU's experts that at least one of `tokens` routes to:
    1 - (1 - k/E)^tokens, uniform routing (DESIGN.md, "Per-phase times"). With redundant copies a
    token goes to one of E x copies physical experts."""
    if m.moe is None:
        return 0.0
    return 1.0 - (1.0 - m.moe.experts_per_token / (m.moe.num_experts * copies)) ** tokens


def _dense_weight_bytes(m: Model) -> float:
    """Bytes of the main model's non-expert weights read per step (the embedding table is a row lookup)."""
    w = M.facts(m).weights
    return w.attention + w.dense_mlp + w.shared_experts + w.small_tensors + w.head_read


@dataclass(frozen=True)
class StepWork:
    """What one engine step does on one attention-DP rank: decode tokens of the running sequences
    (with their draft tokens), and prefill tokens (whole prompts, or chunks riding in the step)."""

    decode_tokens: float = 0.0       # tokens through the main model from decoding sequences, drafts included
    decode_seqs: float = 0.0         # sequences sampled this step (LM-head rows)
    decode_attn_flops: float = 0.0
    decode_kv_read: float = 0.0      # bytes, whole model
    prefill_tokens: float = 0.0
    prefill_seqs: float = 0.0        # prompts finishing this step (their first token is sampled)
    prefill_attn_flops: float = 0.0
    prefill_kv_read: float = 0.0
    prefill_sequence: float = 0.0    # prompt length (prefix + new), for the prefill-attention curve
    kv_write: float = 0.0
    draft_passes: int = 0            # passes of the MTP module (each over the decoding sequences)

    @property
    def tokens(self) -> float:
        return self.decode_tokens + self.prefill_tokens


@dataclass(frozen=True)
class _LayoutTerms:
    """What `phase` needs that does not depend on the step's work: one layout (batch aside) of one
    model on one machine under one engine. Computed once per layout; a search asks for thousands
    of steps of a few dozen layouts."""

    tp: int
    gpus: int                        # per pipeline stage
    routed_matmul: float
    dense_matmul: float
    head_matmul: float
    mtp_active: float
    dense_cls: ComputeClass
    expert_cls: ComputeClass
    dense_peak: float
    expert_peak: float
    dense_ceiling: float
    copies: float
    expert_shape: tuple[int, int] | None
    expert_weight_bytes: float
    expert_weights: str              # the expert weights' dtype (a weight-only kernel may have its own table)
    moe_floor_s: float
    latent: bool
    fp8_kv: bool
    decode_attn_peak: float
    dense_bytes: float               # the main model's non-expert weights per GPU
    mtp_dense_bytes: float           # the MTP module's dense weights (whole, not per GPU)
    act_bytes_per_token: float
    kv_share: float
    dense_bw: float
    kv_bw: float
    hbm_bw: float
    layer_kernels: float


_TERMS: IdentityMemo[_LayoutTerms] = IdentityMemo(4_096)


def _layout_terms(m: Model, hw: Hardware, layout: Layout, engine: Engine) -> _LayoutTerms:
    return _TERMS.get(m, hw, engine, layout.shape_key(), lambda: _compute_layout_terms(m, hw, layout, engine))


def _compute_layout_terms(m: Model, hw: Hardware, layout: Layout, engine: Engine) -> _LayoutTerms:
    f = M.facts(m)
    p = m.precision
    k = kernels(hw)
    tp = layout.tp
    routed_matmul = f.params.active_routed_experts
    dense_cls = gemm_compute_class(p.weights, p.activations)
    expert_cls = gemm_compute_class(p.expert_weights, p.expert_inputs)
    hbm_peak = hw.hbm.bandwidth_bytes_per_s
    latent = not isinstance(m.attention, GqaAttention)
    fp8_kv = p.kv == Dtype.fp8
    return _LayoutTerms(
        tp=tp, gpus=layout.gpus_per_stage, routed_matmul=routed_matmul,
        dense_matmul=f.params.active_matmul - routed_matmul - f.params.head_matmul,
        head_matmul=f.params.head_matmul, mtp_active=f.params.mtp_active,
        dense_cls=dense_cls, expert_cls=expert_cls, dense_peak=hw.peak.flops_per_s(dense_cls),
        expert_peak=hw.peak.flops_per_s(expert_cls),
        dense_ceiling=hw.peak.flops_per_s(dense_cls) * k.gemm(dense_cls, math.inf),
        copies=expert_copies(m, layout),
        expert_shape=(m.hidden_size, m.moe.expert_intermediate_size) if m.moe is not None else None,
        expert_weight_bytes=weight_bytes_per_param(p.expert_weights), expert_weights=p.expert_weights.value,
        moe_floor_s=engine.moe_layer_floor_s * f.moe_layers, latent=latent, fp8_kv=fp8_kv,
        decode_attn_peak=hw.peak.flops_per_s(ComputeClass.bf16) * hw.efficiency.compute,
        dense_bytes=_dense_weight_bytes(m) / tp, mtp_dense_bytes=f.weights.mtp - f.weights.mtp_experts,
        act_bytes_per_token=elementwise_bytes_per_token(m, layout), kv_share=kv_tp_share(m, tp),
        dense_bw=hbm_peak * dense_stream_efficiency(m, hw, dense_cls, tp),
        kv_bw=hbm_peak * k.kv_stream(latent, fp8_kv), hbm_bw=hbm_peak * hw.efficiency.hbm,
        layer_kernels=fixed_kernels(m) / m.num_layers + (0 if k.data else GEMMS_PER_LAYER))


def phase(m: Model, hw: Hardware, layout: Layout, work: StepWork, *, engine: Engine,
          extra_traffic: Traffic | None = None, storage_s: float = 0.0) -> PhaseTimes:
    """Times of one engine step in which each attention-DP rank does `work`. FLOPs and bytes are
    given per DP rank; results per GPU.

    Roofline classes, each bound by the slower of its compute and its HBM traffic: dense GEMMs vs
    their weights; routed experts vs the experts the step actually hits, at the efficiency of the
    tokens each hit expert gets (a batch-1 step runs 8 experts with one token each, not 256 experts
    with 0.03 tokens); decode attention vs the KV it streams; prefill attention (measured FP8 kernels
    when the KV cache is FP8); elementwise kernels. Two-batch overlap, used only where there is
    expert-parallel traffic to hide, splits the step in two micro-batches: each streams the weights
    again, so where it costs more than the communication it hides the step runs whole (LMSYS's own
    ablation: -27% at 32 sequences per GPU, +0% at 256)."""
    f = M.facts(m)
    t = _layout_terms(m, hw, layout, engine)
    tp, gpus = t.tp, t.gpus
    tokens = work.tokens
    seqs = work.decode_seqs + work.prefill_seqs
    drafts = work.draft_passes if m.mtp_layers else 0
    # -- FLOPs per GPU. Dense parts shard TP-way inside a DP rank; experts spread over all GPUs.
    routed_matmul = t.routed_matmul
    dense_flops = (2 * t.dense_matmul * tokens + 2 * t.head_matmul * seqs) / tp
    if drafts and t.mtp_active:
        # each draft pass runs the MTP module once per decoding sequence, with its own top-k experts
        dense_flops += 2 * t.mtp_active * work.decode_seqs * drafts / tp
    expert_flops = 2 * routed_matmul * tokens * layout.dp / gpus
    decode_attn = work.decode_attn_flops / tp
    prefill_attn = work.prefill_attn_flops / tp
    # -- Achievable rates per kernel class (planner/machine/efficiency.py).
    k = kernels(hw)
    dense_cls, expert_cls = t.dense_cls, t.expert_cls
    copies = t.copies
    moe_tokens = tokens * layout.dp                              # tokens entering the MoE across the EP group
    hit = _expert_hit_fraction(m, moe_tokens, copies)
    dense_ceiling = t.dense_ceiling

    def dense_time(rows: float) -> tuple[float, float]:
        """(at the kernel's ceiling, at the measured curve) for the dense GEMMs of `rows` of the tokens."""
        flops = dense_flops * rows / tokens if tokens else 0.0
        return flops / dense_ceiling, flops / (t.dense_peak * k.gemm(dense_cls, rows))

    def expert_time(moe: float) -> tuple[float, float]:
        """The same for the routed experts with `moe` tokens entering the MoE: the measured grouped-GEMM
        curve is evaluated per expert actually hit, the busiest GPU sets the pace, and no layer's MoE
        op is faster than the engine's floor for it (routing, permutation and the grouped GEMMs' fixed
        latency: what a batch-1 step pays per MoE layer)."""
        if not expert_flops or m.moe is None or t.expert_shape is None:
            return 0.0, 0.0
        physical = m.moe.num_experts * copies
        per_hit_expert = moe * m.moe.experts_per_token / (physical * max(_expert_hit_fraction(m, moe, copies), 1e-12))
        shape, wb = t.expert_shape, t.expert_weight_bytes
        weights = t.expert_weights
        peak = t.expert_peak / k.imbalance(expert_cls, moe, layout.ep, layout.routing, shape, weights)
        flops = expert_flops * moe / moe_tokens
        floor = t.moe_floor_s
        return (flops / (peak * k.moe(expert_cls, math.inf, layout.ep, shape, wb, weights)),
                max(floor, flops / (peak * k.moe(expert_cls, per_hit_expert, layout.ep, shape, wb, weights))))
    decode_attn_peak = t.decode_attn_peak
    if prefill_attn:
        pre_eff, pre_cls = k.attention_prefill(work.prefill_sequence, t.latent, t.fp8_kv)
        prefill_attn_peak = hw.peak.flops_per_s(pre_cls) * pre_eff
    # -- HBM bytes per GPU and the bandwidth each class streams at.
    # the MTP module's dense weights are streamed once per draft pass
    draft_dense_bytes = t.mtp_dense_bytes * drafts / tp
    dense_bytes = t.dense_bytes + draft_dense_bytes
    act_bytes = tokens * t.act_bytes_per_token
    routed = f.weights.routed_experts
    # each draft pass streams the MTP experts its sequences hit (after the main pass, not overlapped)
    draft_hit = _expert_hit_fraction(m, work.decode_seqs * layout.dp, copies) if drafts else 0.0
    draft_expert_bytes = f.weights.mtp_experts * copies * draft_hit / gpus * drafts
    expert_bytes = routed * copies * hit / gpus + draft_expert_bytes
    share = t.kv_share   # per-GPU KV share across all layers of the model
    decode_kv = (work.decode_kv_read + work.kv_write * _decode_share(work)) * share
    prefill_kv = (work.prefill_kv_read + work.kv_write * (1 - _decode_share(work))) * share
    dense_bw, kv_bw, hbm_bw = t.dense_bw, t.kv_bw, t.hbm_bw
    fixed = ((decode_attn / decode_attn_peak, decode_attn / decode_attn_peak, decode_kv / kv_bw),
             ((prefill_attn / prefill_attn_peak if prefill_attn else 0.0),) * 2 + (prefill_kv / hbm_bw,),
             (0.0, 0.0, act_bytes / hbm_bw))

    def gpu_time(micro_batches: int, dense_stream: float, expert_stream: float) -> tuple[float, float, float]:
        """(compute, HBM, time) of the step's kernels. Each class takes the longer of its measured
        curve and its streaming; at few tokens the curve's time beyond its ceiling is weight
        streaming, so it is reported as HBM time, not compute."""
        d_ceil, d_curve = dense_time(tokens / micro_batches)
        e_ceil, e_curve = expert_time(moe_tokens / micro_batches)
        classes = ((d_ceil * micro_batches, d_curve * micro_batches, dense_stream / dense_bw),
                   (e_ceil * micro_batches, e_curve * micro_batches, expert_stream / hbm_bw), *fixed)
        compute = hbm = time = 0.0
        for c, curve, b in classes:
            compute += c
            hbm += max(b, curve - c)
            time += max(curve, b)
        return compute, hbm, time

    # -- Communication.
    tp_traffic = tp_allreduce(m, hw, layout, tokens)
    other = ep_all_to_all(m, hw, layout, tokens) + pp_sends(m, hw, layout, tokens)
    if extra_traffic is not None:
        other = other + extra_traffic
    traffic = tp_traffic + other
    tp_s = _fabric_time(hw, tp_traffic)
    other_s = _fabric_time(hw, other)
    up_s, out_s = _fabric_times(hw, traffic)
    # -- Fixed costs: a latency per non-GEMM kernel (the measured GEMM curves include their own) of
    # every layer pass, the MTP module's layers once per draft pass; routing per MoE layer; the
    # engine's per-step cost.
    kernel_s = engine.kernel_latency_s * t.layer_kernels * (m.num_layers + m.mtp_layers * drafts)
    fixed_s = (engine.step_overhead_s
               + engine.draft_overhead_us * 1e-6 * drafts)
    # -- One pass, storage reads hidden behind it layer by layer when the engine overlaps. Only the
    # storage reads: the pass's own EP traffic waits on its compute (hiding that takes the two
    # micro-batches below), so a prefix load never makes a step faster than a resident prefix.
    streams = (dense_bytes, expert_bytes)
    compute_s, hbm_s, gpu_s = gpu_time(1, *streams)
    if layout.dual_microbatch and storage_s:
        body = gpu_s + tp_s + other_s + max(0.0, storage_s - gpu_s)
    else:
        body = gpu_s + tp_s + other_s + storage_s
    launches = kernel_s
    # -- Two-batch overlap: each micro-batch streams the dense weights and the experts its half of the
    # tokens hits (draft passes run once, after the split step), launches its own kernels, and hides
    # the EP traffic behind the other's compute. Engines enable it where it pays (SGLang's
    # --enable-two-batch-overlap with its token-distribution threshold), so the step is the faster.
    if layout.dual_microbatch and layout.ep > 1 and tokens >= 2:
        # the same bytes in twice the collectives: every launch latency is paid per micro-batch
        tp2 = tp_s + _fabric_time(hw, Traffic(scale_up_collectives=tp_traffic.scale_up_collectives,
                                              scale_out_collectives=tp_traffic.scale_out_collectives))
        # Splitting never shortens the kernels (each half runs less efficiently and streams the weights
        # again), so it can only win if what it hides exceeds the extra all-reduces and launches.
        if tp2 - tp_s + kernel_s < body - gpu_s - tp_s:
            split = (2 * dense_bytes - draft_dense_bytes,
                     2 * routed * copies * _expert_hit_fraction(m, moe_tokens / 2, copies) / gpus + draft_expert_bytes)
            c2, h2, g2 = gpu_time(2, *split)
            other2 = other_s + _fabric_time(hw, Traffic(scale_up_collectives=other.scale_up_collectives,
                                                        scale_out_collectives=other.scale_out_collectives))
            body2 = g2 + tp2 + max(0.0, other2 - g2, storage_s - g2)
            if body2 + 2 * kernel_s < body + kernel_s:
                streams, compute_s, hbm_s, gpu_s, body, launches = split, c2, h2, g2, body2, 2 * kernel_s
    overhead = launches + fixed_s
    return PhaseTimes(compute_s=compute_s, hbm_s=hbm_s, scale_up_s=up_s, scale_out_s=out_s,
                      storage_s=storage_s, overhead_s=overhead, gpu_s=gpu_s, time_s=body + overhead,
                      traffic=traffic, flops=dense_flops + expert_flops + decode_attn + prefill_attn,
                      hbm_bytes=sum(streams) + decode_kv + prefill_kv + act_bytes)


def fixed_kernels(m: Model) -> int:
    """Non-GEMM kernels one forward pass through the model's layers launches (see the table at the
    top of this module)."""
    a = m.attention
    f = M.facts(m)
    if isinstance(a, GqaAttention):
        # recurrent mixers launch about as many kernels as attention (norm, conv/gates, scan, add)
        mixers = m.num_layers - f.layer_kinds["no_mixer"]
        attention = mixers * ATTENTION_KERNELS["gqa"]
    else:
        attention = m.num_layers * (ATTENTION_KERNELS["mla"] + (INDEXER_KERNELS if a.indexer is not None else 0))
    return attention + f.moe_layers * MLP_KERNELS["moe"] + f.dense_layers * MLP_KERNELS["dense"]


def _decode_share(work: StepWork) -> float:
    """Share of the step's KV writes that belong to decode tokens (they stream at the decode rate)."""
    return work.decode_tokens / work.tokens if work.tokens else 0.0


@dataclass(frozen=True)
class ElementwiseBytes:
    """HBM bytes one token moves through the forward elementwise kernels of all main layers, by
    kernel kind (BF16 activations; unfused reference kernels):
    - two RMSNorms (read + write h each): 4 h per layer,
    - two residual adds (read 2h, write h each): 6 h per layer,
    - RoPE on Q and K (read + write): 2 (q + k) rotated dims per layer (MLA and V4 rotate only their
      RoPE part),
    - SwiGLU: write gate and up (2I), read them (2I), write the product (I), read it (I): 6 I,
      with I the dense width or, for MoE, the top-k experts' plus the shared experts' width.
    Norms and residual adds are hidden-size (replicated across a TP group unless the sequence is
    split, as Megatron's sequence parallelism does); RoPE and SwiGLU widths shard by heads."""

    norms: float
    residual: float
    rope: float
    swiglu_dense: float      # the dense-MLP layers' SwiGLU
    swiglu_moe: float        # the MoE layers' (routed top-k + shared)

    @property
    def hidden(self) -> float:
        return self.norms + self.residual

    @property
    def sharded(self) -> float:
        return self.rope + self.swiglu_dense + self.swiglu_moe

    def per_gpu(self, tp: int) -> float:
        """Per token on one GPU of a TP group, hidden-size tensors replicated."""
        return self.hidden + self.sharded / tp


def elementwise_bytes(m: Model) -> ElementwiseBytes:
    """The forward elementwise traffic per token by kernel kind (see `ElementwiseBytes`)."""
    a = m.attention
    heads = a.num_heads
    if isinstance(a, MlaAttention):
        # MLA rotates only the decoupled RoPE part: qk_rope_head_dim of every query head and the one
        # shared key of that width (DeepSeek-V2 §2.1.3, `apply_rotary_emb` on q_pe and k_pe in
        # DeepSeek-V3 inference/model.py); the nope part never passes through RoPE
        q_rope, k_rope = heads * a.qk_rope_head_dim, a.qk_rope_head_dim
    elif isinstance(a, GqaAttention):
        q_rope, k_rope = heads * a.head_dim, a.num_kv_heads * a.head_dim
    else:
        # V4: partial RoPE on rope_dim of each query head and of the one shared key (V4 report §2.3)
        q_rope, k_rope = heads * a.rope_dim, a.rope_dim
    f = M.facts(m)
    width_moe = (m.moe.experts_per_token * m.moe.expert_intermediate_size + m.moe.shared_width) if m.moe else 0
    width_dense = m.mlp.intermediate_size if m.mlp else 0
    h, L, b = m.hidden_size, m.num_layers, ACTIVATION_BYTES
    return ElementwiseBytes(norms=4 * h * L * b, residual=6 * h * L * b,
                            rope=2 * (q_rope + k_rope) * L * b,
                            swiglu_dense=6 * f.dense_layers * width_dense * b,
                            swiglu_moe=6 * f.moe_layers * width_moe * b)


def elementwise_bytes_per_token(m: Model, layout: Layout) -> float:
    """HBM bytes one token moves per GPU through the elementwise kernels of all layers
    (`elementwise_bytes`; hidden-size tensors replicated across the TP group)."""
    return elementwise_bytes(m).per_gpu(layout.tp)


# Phase times are pure functions of (model, machine, layout, tokens); sweeps, the search and the
# tiers <-> prefill fixed point ask for the same ones many times. Cached by the identity of the
# model and hardware objects (the entry holds them, so an id is never reused while it lives;
# hashing a model costs more than computing a phase). A step depends on the scale-up domain only
# through min(domain, the layout's GPUs), so machines that differ only in domain size (the
# domain comparison of `size`) share one identity and the entries of layouts that fit both.
_PHASES: IdentityMemo[PhaseTimes] = IdentityMemo(20_000)   # a size search uses ~5,000
_SIBLINGS: dict[int, tuple[Hardware, Hardware]] = {}    # id(hw) -> (hw, the first machine equal but for domain)
_BY_CONTENT: dict[str, Hardware] = {}
_SIBLINGS_LIMIT = 4_096


def machine_key(hw: Hardware, gpus: int) -> tuple[Hardware, int]:
    """(the first machine seen that equals `hw` but for its scale-up domain size, the domain size
    a unit of `gpus` GPUs sees): what times on `hw` depend on, for caches keyed by identity."""
    hit = _SIBLINGS.get(id(hw))
    if hit is None or hit[0] is not hw:
        if len(_SIBLINGS) >= _SIBLINGS_LIMIT:      # a sweep over machines: start over (entries keyed by
            _SIBLINGS.clear()                     # an earlier first machine only stop hitting)
            _BY_CONTENT.clear()
        data = hw.model_dump(mode="json")
        data["scale_up"]["domain_size"] = None
        hit = _SIBLINGS[id(hw)] = (hw, _BY_CONTENT.setdefault(json.dumps(data, sort_keys=True), hw))
    return hit[1], min(hw.scale_up.domain_size, gpus)


def _memo(m: Model, hw: Hardware, engine: Engine, layout: Layout, key: tuple,
          compute: Callable[[], PhaseTimes]) -> PhaseTimes:
    machine, domain = machine_key(hw, layout.gpus)
    return _PHASES.get(m, machine, engine, (domain, *key), compute)


# Per-sequence terms of a request shape (attention FLOPs and KV bytes at a context), the same for
# every batch and layout a search tries: computed once per model and shape.
_SEQUENCE_TERMS: IdentityMemo[tuple[float, float, float]] = IdentityMemo(20_000)


def decode_work(m: Model, layout: Layout, context: float) -> StepWork:
    """One decode step at `context` tokens per sequence, `layout.batch` sequences per DP rank. With
    speculative decoding of depth d each sequence verifies d draft tokens too (1 + d tokens through
    the main model, the KV read once) after d passes of the MTP module."""
    b = layout.batch
    ctx = int(context)
    depth = layout.mtp_depth if m.mtp_layers else 0
    tokens = b * (1 + depth)
    attn, kv_read, kv_token = _SEQUENCE_TERMS.get(m, None, None, ("decode", ctx), lambda: (
        M._sum_at(M.facts(m).attn_flops_decode, ctx), M.kv_read_bytes_per_step(m, ctx), M.kv_bytes_per_token(m)))
    return StepWork(decode_tokens=tokens, decode_seqs=b, decode_attn_flops=tokens * attn,
                    decode_kv_read=b * kv_read, kv_write=tokens * kv_token, draft_passes=depth)


def prefill_work(m: Model, new_tokens: float, prefix: int, requests: float) -> StepWork:
    """`requests` prompts of `new_tokens` after `prefix` cached tokens (fractional: a chunk riding
    in a mixed step). Attention integrates over causal positions; the prefix KV is read once, the
    new KV written."""
    n = int(round(new_tokens))
    attn, full, cached = _SEQUENCE_TERMS.get(m, None, None, ("prefill", prefix, n), lambda: (
        M._sum_causal(M.facts(m).attn_flops_prefill, prefix, n), M.kv_bytes_per_sequence(m, prefix + n),
        M.kv_bytes_per_sequence(m, prefix)))
    return StepWork(prefill_tokens=requests * new_tokens, prefill_seqs=requests,
                    prefill_attn_flops=requests * attn,
                    prefill_kv_read=requests * full, prefill_sequence=prefix + new_tokens,
                    kv_write=requests * (full - cached))


def combine(a: StepWork, b: StepWork) -> StepWork:
    """One step doing both: decode tokens and a prefill chunk in the same forward pass."""
    return StepWork(decode_tokens=a.decode_tokens + b.decode_tokens, decode_seqs=a.decode_seqs + b.decode_seqs,
                    decode_attn_flops=a.decode_attn_flops + b.decode_attn_flops,
                    decode_kv_read=a.decode_kv_read + b.decode_kv_read,
                    prefill_tokens=a.prefill_tokens + b.prefill_tokens, prefill_seqs=a.prefill_seqs + b.prefill_seqs,
                    prefill_attn_flops=a.prefill_attn_flops + b.prefill_attn_flops,
                    prefill_kv_read=a.prefill_kv_read + b.prefill_kv_read,
                    prefill_sequence=max(a.prefill_sequence, b.prefill_sequence),
                    kv_write=a.kv_write + b.kv_write, draft_passes=max(a.draft_passes, b.draft_passes))


def decode_step(m: Model, hw: Hardware, layout: Layout, context: float, engine: Engine | None = None) -> PhaseTimes:
    """One bare decode step (see `decode_work`)."""
    e = engine or default_engine()
    return _memo(m, hw, e, layout, ("decode", layout, int(context)),
                 lambda: phase(m, hw, layout, decode_work(m, layout, context), engine=e))


def prefill(m: Model, hw: Hardware, layout: Layout, new_tokens: int, prefix: int = 0,
            storage_s: float = 0.0, requests: int = 1, engine: Engine | None = None) -> PhaseTimes:
    """Prefill of `requests` prompts per DP rank in one step (see `prefill_work`); a disaggregated
    layout also sends the KV to the decode pool. Independent of the decode batch."""
    e = engine or default_engine()
    key = ("prefill", layout.shape_key(), new_tokens, prefix, storage_s, requests)

    def compute() -> PhaseTimes:
        extra = kv_transfer(m, layout, prefix + new_tokens) if layout.disaggregated else None
        if extra is not None and requests != 1:
            extra = Traffic(*(x * requests for x in extra.astuple()))
        return phase(m, hw, layout, prefill_work(m, new_tokens, prefix, requests), engine=e,
                     extra_traffic=extra, storage_s=storage_s)
    return _memo(m, hw, e, layout, key, compute)


def mixed_step(m: Model, hw: Hardware, layout: Layout, context: float, chunk_tokens: float, new_tokens: int,
               prefix: int, storage_s: float = 0.0, engine: Engine | None = None) -> PhaseTimes:
    """A co-located step with chunked prefill: the decode step of the batch plus `chunk_tokens`
    prefill tokens of prompts `new_tokens` long (after `prefix`), in one forward pass."""
    e = engine or default_engine()
    key = ("mixed", layout, int(context), round(chunk_tokens, 6), new_tokens, prefix, storage_s)
    requests = chunk_tokens / new_tokens if new_tokens else 0.0
    return _memo(m, hw, e, layout, key, lambda: phase(
        m, hw, layout, combine(decode_work(m, layout, context), prefill_work(m, new_tokens, prefix, requests)),
        engine=e, storage_s=storage_s))
