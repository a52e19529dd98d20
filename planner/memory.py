"""The HBM budget of one GPU under a layout: weights, KV, activations, reserve, free."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner import models as M
from planner.hardware import Hardware
from planner.layout import Layout
from planner.modelspec import Model
from planner.precision import element_bytes

# aiconfigurator systems/*.yaml keep `other_mem: 3.5 GiB` per GPU "for safer deployment"
# (CUDA context, NCCL buffers, allocator slack); we keep the same plus 3% of HBM for
# fragmentation of the paged KV pool.
RUNTIME_RESERVE_BYTES = 3.5 * 2**30
FRAGMENTATION = 0.03
# Live activation tensors per token in flight: residual, normed input, attention output and
# two MLP halves, double-buffered for the two micro-batches (order of magnitude; decode
# batches make it small next to weights and KV).
ACTIVATION_VECTORS_PER_TOKEN = 10


@dataclass(frozen=True)
class HbmBudget:
    capacity_bytes: float
    weights_bytes: float
    kv_bytes: float
    activation_bytes: float
    reserve_bytes: float
    kv_per_sequence_bytes: float     # this GPU's share of one sequence's KV at the final context
    max_batch: int                   # sequences per DP rank that fit

    @property
    def free_bytes(self) -> float:
        return self.capacity_bytes - self.weights_bytes - self.kv_bytes - self.activation_bytes - self.reserve_bytes

    @property
    def fits(self) -> bool:
        return self.free_bytes >= 0

    @property
    def weights_fit(self) -> bool:
        return self.capacity_bytes - self.reserve_bytes - self.weights_bytes > 0


def kv_share(m: Model, layout: Layout) -> float:
    """Fraction of a sequence's KV one GPU of its TP group holds.

    GQA shards KV heads across TP (a GPU holds ceil(kv_heads/tp) heads; TP beyond the head count
    replicates heads). MLA and V4 latents have no heads to shard: every TP rank holds the whole
    latent (the reason attention-DP exists)."""
    f = M.facts(m)
    if f.kv_latent_replicated:
        return 1.0 / layout.pp
    return math.ceil(f.kv_heads / layout.tp) / f.kv_heads / layout.pp


def weights_per_gpu(m: Model, layout: Layout) -> float:
    """Attention, dense MLP, shared experts and embeddings shard TP-way and replicate per DP
    rank; routed experts spread over all tp*dp GPUs of a stage; layers split across PP."""
    w = M.facts(m).weights
    dense_part = w.attention + w.dense_mlp + w.shared_experts + w.small_tensors + w.embeddings + w.lm_head
    experts = w.routed_experts
    if layout.mtp:
        dense_part += w.mtp - w.mtp_experts
        experts += w.mtp_experts
    return (dense_part / layout.tp + experts / layout.gpus_per_stage) / layout.pp


def activation_per_token(m: Model) -> float:
    return ACTIVATION_VECTORS_PER_TOKEN * m.hidden_size * element_bytes(m.precision.activations)


def hbm_budget(m: Model, hw: Hardware, layout: Layout, context: int, prefill_chunk: int) -> HbmBudget:
    """Budget at `context` tokens per sequence with `layout.batch` sequences per DP rank and a
    prefill chunk of `prefill_chunk` tokens in flight."""
    capacity = hw.hbm.capacity_bytes
    weights = weights_per_gpu(m, layout)
    kv_seq = M.kv_bytes_per_sequence(m, context) * kv_share(m, layout)
    act = activation_per_token(m) * (layout.batch + prefill_chunk) / layout.tp
    reserve = RUNTIME_RESERVE_BYTES + FRAGMENTATION * capacity
    room = capacity - weights - reserve - activation_per_token(m) * prefill_chunk / layout.tp
    per_seq = kv_seq + activation_per_token(m) / layout.tp
    max_batch = max(0, int(room // per_seq)) if per_seq > 0 else 0
    return HbmBudget(capacity_bytes=capacity, weights_bytes=weights, kv_bytes=kv_seq * layout.batch,
                     activation_bytes=act, reserve_bytes=reserve, kv_per_sequence_bytes=kv_seq,
                     max_batch=max_batch)
