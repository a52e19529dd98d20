"""Per-phase times of one serving unit: each resource separately, then an explicit overlap rule.

A phase is one decode step (every sequence of the batch advances one token) or the prefill of
one request. Work is split into three roofline classes, each bound by the slower of its
compute and its HBM traffic:
- dense GEMMs (attention projections, dense MLP, shared experts, router, LM head) vs their weights,
- routed-expert GEMMs vs the expert weights the batch actually hits,
- attention core (QK^T, AV, indexer) vs the KV it reads.
GPU time = sum over classes of max(compute, hbm). Communication (TP all-reduce, EP
dispatch/combine, PP sends, disaggregated KV transfer) is split by fabric. With dual micro-batch
overlap, communication hides under GPU time up to that time (DeepSeek Day-6, V4 §3.1);
without it, the two add. A fixed per-step overhead covers launches and scheduling.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner import models as M
from planner.comm import Traffic, ep_all_to_all, kv_transfer, pp_sends, tp_allreduce
from planner.hardware import Hardware
from planner.layout import Layout
from planner.memory import kv_share
from planner.modelspec import Model
from planner.precision import ComputeClass, element_bytes, gemm_compute_class

# Launch and scheduling gaps. With CUDA graphs a decoder layer still costs a few microseconds
# of kernel boundaries (about a dozen kernels at ~0.4 µs each, tails included), and each engine
# step pays for scheduling, sampling and host sync.
LAYER_OVERHEAD_S = 4e-6
STEP_OVERHEAD_S = 150e-6
# Activation traffic per token per layer: read and write the residual around attention and MLP.
ACTIVATION_PASSES_PER_LAYER = 4

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


def _expert_hit_fraction(m: Model, tokens: float) -> float:
    """Expected share of a GPU's experts that at least one of `tokens` routes to:
    1 - (1 - k/E)^tokens, uniform routing (DESIGN.md, "Per-phase times")."""
    if m.moe is None:
        return 0.0
    return 1.0 - (1.0 - m.moe.experts_per_token / m.moe.num_experts) ** tokens


def _dense_weight_bytes(m: Model, with_mtp: bool) -> float:
    """Bytes of non-expert weights read per step (the embedding table is a row lookup)."""
    w = M.facts(m).weights
    mtp_dense = (w.mtp - w.mtp_experts) if with_mtp else 0.0
    return w.attention + w.dense_mlp + w.shared_experts + w.small_tensors + w.lm_head + mtp_dense


def phase(m: Model, hw: Hardware, layout: Layout, *, tokens_per_rank: float, sequences_per_rank: float,
          attn_flops_per_rank: float, kv_read_per_rank: float, kv_write_per_rank: float,
          extra_traffic: Traffic | None = None, storage_s: float = 0.0, with_mtp: bool = False) -> PhaseTimes:
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
    dense_peak = hw.peak.flops_per_s(gemm_compute_class(p.weights, p.activations)) * eff.compute
    expert_peak = hw.peak.flops_per_s(gemm_compute_class(p.expert_weights, p.expert_inputs)) * eff.compute
    attn_peak = hw.peak.flops_per_s(ComputeClass.bf16) * eff.compute
    # -- HBM bytes per GPU.
    hbm_bw = hw.hbm.bandwidth_bytes_per_s * eff.hbm
    dense_bytes = _dense_weight_bytes(m, with_mtp) / tp
    dense_bytes += (ACTIVATION_PASSES_PER_LAYER * m.num_layers * tokens_per_rank * m.hidden_size
                    * element_bytes(p.activations) / tp)
    hit = _expert_hit_fraction(m, tokens_per_rank * layout.dp)
    routed = f.weights.routed_experts + (f.weights.mtp_experts if with_mtp else 0.0)
    expert_bytes = routed * hit / gpus
    share = kv_share(m, layout) * layout.pp   # per-GPU KV share across all layers of the model
    kv_bytes = (kv_read_per_rank + kv_write_per_rank) * share
    classes = ((dense_flops / dense_peak, dense_bytes / hbm_bw),
               (expert_flops / expert_peak if expert_flops else 0.0, expert_bytes / hbm_bw),
               (attn_flops / attn_peak, kv_bytes / hbm_bw))
    compute_s = sum(c for c, _ in classes)
    hbm_s = sum(b for _, b in classes)
    gpu_s = sum(max(c, b) for c, b in classes)
    # -- Communication.
    traffic = (tp_allreduce(m, hw, layout, tokens_per_rank) + ep_all_to_all(m, hw, layout, tokens_per_rank)
               + pp_sends(m, hw, layout, tokens_per_rank))
    if extra_traffic is not None:
        traffic = traffic + extra_traffic
    up_s = (traffic.scale_up_bytes / (hw.scale_up.bandwidth_bytes_per_s * eff.scale_up)
            + traffic.scale_up_collectives * hw.scale_up.latency_us * 1e-6)
    out_s = (traffic.scale_out_bytes / (hw.scale_out.bandwidth_bytes_per_s * eff.scale_out)
             + traffic.scale_out_collectives * hw.scale_out.latency_us * 1e-6)
    overhead = STEP_OVERHEAD_S + LAYER_OVERHEAD_S * (m.num_layers + (m.mtp_layers if with_mtp else 0))
    comm_s = up_s + out_s
    if layout.dual_microbatch:
        body = max(gpu_s, comm_s, storage_s)
    else:
        body = gpu_s + comm_s + storage_s
    return PhaseTimes(compute_s=compute_s, hbm_s=hbm_s, scale_up_s=up_s, scale_out_s=out_s,
                      storage_s=storage_s, overhead_s=overhead, gpu_s=gpu_s, time_s=body + overhead,
                      traffic=traffic, flops=dense_flops + expert_flops + attn_flops,
                      hbm_bytes=dense_bytes + expert_bytes + kv_bytes)


def decode_step(m: Model, hw: Hardware, layout: Layout, context: float) -> PhaseTimes:
    """One decode step at `context` tokens per sequence (batch per DP rank from the layout).
    With MTP, each sequence verifies one draft token too: twice the tokens, same weights."""
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
            storage_s: float = 0.0) -> PhaseTimes:
    """Prefill of one request per DP rank: `new_tokens` after `prefix` cached tokens.
    Attention integrates over causal positions; the prefix KV is read once, the new KV written."""
    f = M.facts(m)
    attn = M._sum_causal(f.attn_flops_prefill, prefix, new_tokens)
    kv_read = M.kv_bytes_per_sequence(m, prefix + new_tokens)
    kv_write = M.kv_bytes_per_sequence(m, prefix + new_tokens) - M.kv_bytes_per_sequence(m, prefix)
    extra = kv_transfer(m, layout, prefix + new_tokens) if layout.disaggregated else None
    return phase(m, hw, layout, tokens_per_rank=new_tokens, sequences_per_rank=1, attn_flops_per_rank=attn,
                 kv_read_per_rank=kv_read, kv_write_per_rank=kv_write, extra_traffic=extra,
                 storage_s=storage_s)
