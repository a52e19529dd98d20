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

from collections.abc import Callable
from dataclasses import dataclass

from planner.inputs.hardware import Hardware
from planner.inputs.layout import Layout
from planner.inputs.model import GqaAttention, MlaAttention, Model
from planner.machine.efficiency import kernels
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

# Fixed costs. A decoder layer runs about ten kernels (input norm, QKV GEMM, RoPE + attention,
# O GEMM, residual + norm, gate/up GEMM, activation, down GEMM, residual adds); each pays a fixed
# latency that bandwidth does not explain: aiconfigurator systems/*.yaml apply 3 µs per op
# ("mem_empirical_constant_latency ... based on observations"). Each engine step adds
# scheduling, sampling and host sync.
KERNELS_PER_LAYER = 10
GEMMS_PER_LAYER = 4          # QKV, O, gate/up, down: with measured kernel tables their latency is in the curves
KERNEL_LATENCY_S = 3e-6
LAYER_OVERHEAD_S = KERNELS_PER_LAYER * KERNEL_LATENCY_S
STEP_OVERHEAD_S = 150e-6
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


def mix(parts: list[tuple[float, PhaseTimes]]) -> PhaseTimes:
    """The expected phase over outcomes with these probabilities (every field is linear)."""
    def total(get) -> float:
        return sum(p * get(t) for p, t in parts)
    traffic = Traffic(*(total(lambda t, i=i: t.traffic.astuple()[i]) for i in range(len(Traffic().astuple()))))
    return PhaseTimes(compute_s=total(lambda t: t.compute_s), hbm_s=total(lambda t: t.hbm_s),
                      scale_up_s=total(lambda t: t.scale_up_s), scale_out_s=total(lambda t: t.scale_out_s),
                      storage_s=total(lambda t: t.storage_s), overhead_s=total(lambda t: t.overhead_s),
                      gpu_s=total(lambda t: t.gpu_s), time_s=total(lambda t: t.time_s), traffic=traffic,
                      flops=total(lambda t: t.flops), hbm_bytes=total(lambda t: t.hbm_bytes))


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
    return sum(_fabric_times(hw, t))


def _matrix_elements(m: Model, tp: int) -> float:
    """Typical weight matrix one GPU streams per GEMM (hidden x the wider of the MLP and attention
    widths, TP-sharded): selects the measured weight-streaming efficiency bin."""
    a = m.attention
    attn_width = a.num_heads * getattr(a, "head_dim", getattr(a, "v_head_dim", 128))
    mlp_width = (m.mlp.intermediate_size if m.mlp
                 else (m.moe.shared_width if m.moe and m.moe.shared_width else attn_width))
    return m.hidden_size * max(attn_width, mlp_width) / tp


def _expert_hit_fraction(m: Model, tokens: float, copies: float = 1.0) -> float:
    """Expected share of a GPU's experts that at least one of `tokens` routes to:
    1 - (1 - k/E)^tokens, uniform routing (DESIGN.md, "Per-phase times"). With redundant copies a
    token goes to one of E x copies physical experts."""
    if m.moe is None:
        return 0.0
    return 1.0 - (1.0 - m.moe.experts_per_token / (m.moe.num_experts * copies)) ** tokens


def _dense_weight_bytes(m: Model, with_mtp: bool) -> float:
    """Bytes of non-expert weights read per step (the embedding table is a row lookup)."""
    w = M.facts(m).weights
    mtp_dense = (w.mtp - w.mtp_experts) if with_mtp else 0.0
    return w.attention + w.dense_mlp + w.shared_experts + w.small_tensors + w.lm_head + mtp_dense


def phase(m: Model, hw: Hardware, layout: Layout, *, tokens_per_rank: float, sequences_per_rank: float,
          attn_flops_per_rank: float, kv_read_per_rank: float, kv_write_per_rank: float,
          extra_traffic: Traffic | None = None, storage_s: float = 0.0, with_mtp: bool = False,
          kind: str = "decode", prefill_sequence: float = 0.0) -> PhaseTimes:
    """Times of one step in which each attention-DP rank processes `tokens_per_rank` tokens of
    `sequences_per_rank` sequences. FLOPs and bytes given per DP rank; results per GPU."""
    f = M.facts(m)
    p = m.precision
    eff = hw.efficiency
    tp, gpus = layout.tp, layout.gpus_per_stage
    # -- FLOPs per GPU. Dense parts shard TP-way inside a DP rank; experts spread over all GPUs.
    routed_matmul = f.params.active_routed_experts
    dense_matmul = f.params.active_matmul - routed_matmul - f.params.lm_head
    dense_flops = (2 * dense_matmul * tokens_per_rank + 2 * f.params.lm_head * sequences_per_rank) / tp
    expert_flops = 2 * routed_matmul * tokens_per_rank * layout.dp / gpus
    attn_flops = attn_flops_per_rank / tp
    if with_mtp and f.params.mtp_active:
        # the draft module runs once per sequence per step, with its own top-k experts
        dense_flops += 2 * f.params.mtp_active * sequences_per_rank / tp
    # -- Achievable rates per kernel class (planner/efficiency.py).
    k = kernels(hw)
    dense_cls = gemm_compute_class(p.weights, p.activations)
    expert_cls = gemm_compute_class(p.expert_weights, p.expert_inputs)
    dense_peak = hw.peak.flops_per_s(dense_cls) * k.gemm(dense_cls, tokens_per_rank)
    expert_peak = 1.0
    if expert_flops and m.moe is not None:
        moe_tokens = tokens_per_rank * layout.dp               # tokens entering the MoE across the EP group
        per_expert = moe_tokens * m.moe.experts_per_token / m.moe.num_experts
        shape = (m.hidden_size, m.moe.expert_intermediate_size)
        expert_peak = (hw.peak.flops_per_s(expert_cls)
                       * k.moe(expert_cls, per_expert, layout.ep, shape, weight_bytes_per_param(p.expert_weights))
                       / k.imbalance(expert_cls, moe_tokens, layout.ep, layout.routing, shape))
    latent = not hasattr(m.attention, "num_kv_heads")
    if kind == "prefill":
        attn_peak = hw.peak.flops_per_s(ComputeClass.bf16) * k.attention_prefill(prefill_sequence, latent)
    else:
        attn_peak = hw.peak.flops_per_s(ComputeClass.bf16) * eff.compute
    # -- HBM bytes per GPU and the bandwidth each class streams at.
    hbm_peak = hw.hbm.bandwidth_bytes_per_s
    dense_bytes = _dense_weight_bytes(m, with_mtp) / tp
    act_bytes = tokens_per_rank * elementwise_bytes_per_token(m, layout)
    copies = expert_copies(m, layout)
    hit = _expert_hit_fraction(m, tokens_per_rank * layout.dp, copies)
    routed = f.weights.routed_experts + (f.weights.mtp_experts if with_mtp else 0.0)
    expert_bytes = routed * copies * hit / gpus
    share = kv_tp_share(m, layout.tp)   # per-GPU KV share across all layers of the model
    kv_bytes = (kv_read_per_rank + kv_write_per_rank) * share
    dense_bw = hbm_peak * k.weight_stream(dense_cls, _matrix_elements(m, tp))
    kv_bw = hbm_peak * (k.kv_stream(latent, p.kv == Dtype.fp8) if kind == "decode" else eff.hbm)
    hbm_bw = hbm_peak * eff.hbm
    classes = ((dense_flops / dense_peak, dense_bytes / dense_bw),
               (expert_flops / expert_peak if expert_flops else 0.0, expert_bytes / hbm_bw),
               (attn_flops / attn_peak, kv_bytes / kv_bw),
               (0.0, act_bytes / hbm_bw))
    compute_s = sum(c for c, _ in classes)
    hbm_s = sum(b for _, b in classes)
    gpu_s = sum(max(c, b) for c, b in classes)
    # -- Communication.
    tp_traffic = tp_allreduce(m, hw, layout, tokens_per_rank)
    other = ep_all_to_all(m, hw, layout, tokens_per_rank) + pp_sends(m, hw, layout, tokens_per_rank)
    if extra_traffic is not None:
        other = other + extra_traffic
    traffic = tp_traffic + other
    tp_s = _fabric_time(hw, tp_traffic)
    other_s = _fabric_time(hw, other)
    up_s, out_s = _fabric_times(hw, traffic)
    # Fixed launch latency per kernel; measured GEMM curves already include their own.
    per_layer = (KERNELS_PER_LAYER - (GEMMS_PER_LAYER if k.data else 0)) * KERNEL_LATENCY_S
    overhead = STEP_OVERHEAD_S + per_layer * (m.num_layers + (m.mtp_layers if with_mtp else 0))
    if layout.dual_microbatch:
        body = gpu_s + tp_s + max(0.0, other_s - gpu_s, storage_s - gpu_s)
    else:
        body = gpu_s + tp_s + other_s + storage_s
    return PhaseTimes(compute_s=compute_s, hbm_s=hbm_s, scale_up_s=up_s, scale_out_s=out_s,
                      storage_s=storage_s, overhead_s=overhead, gpu_s=gpu_s, time_s=body + overhead,
                      traffic=traffic, flops=dense_flops + expert_flops + attn_flops,
                      hbm_bytes=dense_bytes + expert_bytes + kv_bytes + act_bytes)


def elementwise_bytes_per_token(m: Model, layout: Layout) -> float:
    """HBM bytes one token moves per GPU through the elementwise kernels of all layers (BF16
    activations; unfused reference kernels):
    - two RMSNorms (read + write h each), two residual adds (read 2h, write h each): 10 h,
    - RoPE on Q and K (read + write): 2 (q + k) dims,
    - SwiGLU: write gate and up (2I), read them (2I), write the product (I), read it (I): 6 I,
      with I the dense width or, for MoE, the top-k experts' plus the shared experts' width.
    Hidden-size tensors are replicated across the TP group; head and MLP widths are sharded."""
    a = m.attention
    heads = a.num_heads
    if isinstance(a, MlaAttention):
        head_dim = a.qk_nope_head_dim + a.qk_rope_head_dim
    else:
        head_dim = a.head_dim
    kv_dim = a.num_kv_heads * a.head_dim if isinstance(a, GqaAttention) else head_dim
    f = M.facts(m)
    width_moe = (m.moe.experts_per_token * m.moe.expert_intermediate_size + m.moe.shared_width) if m.moe else 0
    width_dense = m.mlp.intermediate_size if m.mlp else 0
    mlp = (f.moe_layers * width_moe + f.dense_layers * width_dense) * 6
    replicated = 10 * m.hidden_size * m.num_layers
    sharded = 2 * (heads * head_dim + kv_dim) * m.num_layers + mlp
    return (replicated + sharded / layout.tp) * ACTIVATION_BYTES


# Phase times are pure functions of (model, machine, layout, tokens); sweeps, the search and the
# tiers <-> prefill fixed point ask for the same ones many times. Cached by the identity of the
# model and hardware objects (the entry holds them, so an id is never reused while it lives;
# hashing a model costs more than computing a phase).
_PHASES: dict[tuple, tuple[Model, Hardware, PhaseTimes]] = {}
_PHASES_LIMIT = 100_000


def _memo(m: Model, hw: Hardware, key: tuple, compute: Callable[[], PhaseTimes]) -> PhaseTimes:
    full = (id(m), id(hw), *key)
    hit = _PHASES.get(full)
    if hit is not None and hit[0] is m and hit[1] is hw:
        return hit[2]
    value = compute()
    if len(_PHASES) >= _PHASES_LIMIT:
        _PHASES.clear()
    _PHASES[full] = (m, hw, value)
    return value


def decode_step(m: Model, hw: Hardware, layout: Layout, context: float) -> PhaseTimes:
    """One decode step at `context` tokens per sequence (batch per DP rank from the layout).
    With MTP, each sequence verifies one draft token too: twice the tokens, same weights."""
    return _memo(m, hw, ("decode", layout, int(context)), lambda: _decode_step(m, hw, layout, context))


def _decode_step(m: Model, hw: Hardware, layout: Layout, context: float) -> PhaseTimes:
    b = layout.batch
    ctx = int(context)
    tokens = b * (2 if layout.mtp and m.mtp_layers else 1)
    attn = tokens * M._sum_at(M.facts(m).attn_flops_decode, ctx)
    kv_read = b * M.kv_read_bytes_per_step(m, ctx)
    kv_write = tokens * M.kv_bytes_per_token(m)
    return phase(m, hw, layout, tokens_per_rank=tokens, sequences_per_rank=b, attn_flops_per_rank=attn,
                 kv_read_per_rank=kv_read, kv_write_per_rank=kv_write,
                 with_mtp=layout.mtp and m.mtp_layers > 0)


def prefill(m: Model, hw: Hardware, layout: Layout, new_tokens: int, prefix: int = 0,
            storage_s: float = 0.0, requests: int = 1) -> PhaseTimes:
    """Prefill of `requests` requests per DP rank in one step, each `new_tokens` after `prefix`
    cached tokens. Attention integrates over causal positions; the prefix KV is read once, the
    new KV written. Independent of the decode batch."""
    key = ("prefill", layout.shape_key(), new_tokens, prefix, storage_s, requests)
    return _memo(m, hw, key, lambda: _prefill(m, hw, layout, new_tokens, prefix, storage_s, requests))


def _prefill(m: Model, hw: Hardware, layout: Layout, new_tokens: int, prefix: int, storage_s: float,
             requests: int) -> PhaseTimes:
    f = M.facts(m)
    attn = requests * M._sum_causal(f.attn_flops_prefill, prefix, new_tokens)
    kv_read = requests * M.kv_bytes_per_sequence(m, prefix + new_tokens)
    kv_write = requests * (M.kv_bytes_per_sequence(m, prefix + new_tokens) - M.kv_bytes_per_sequence(m, prefix))
    extra = kv_transfer(m, layout, prefix + new_tokens) if layout.disaggregated else None
    return phase(m, hw, layout, tokens_per_rank=requests * new_tokens, sequences_per_rank=requests,
                 attn_flops_per_rank=attn, kv_read_per_rank=kv_read, kv_write_per_rank=kv_write,
                 extra_traffic=extra, storage_s=storage_s, kind="prefill", prefill_sequence=prefix + new_tokens)
