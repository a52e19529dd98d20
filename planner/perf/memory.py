"""The HBM budget of one GPU under a layout: weights, KV, activations, reserve, free."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.io import default_engine
from planner.inputs.layout import Layout
from planner.inputs.model import Model
from planner.memo import IdentityMemo
from planner.model import facts as M
from planner.precision import element_bytes

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
    kv_per_sequence_bytes: float     # KV this GPU holds per unit of batch at the final context (TP share of a sequence)
    max_batch: int                   # sequences per DP rank per micro-batch that fit

    @property
    def free_bytes(self) -> float:
        return self.capacity_bytes - self.weights_bytes - self.kv_bytes - self.activation_bytes - self.reserve_bytes

    @property
    def fits(self) -> bool:
        return self.free_bytes >= 0

    @property
    def weights_fit(self) -> bool:
        return self.capacity_bytes - self.reserve_bytes - self.weights_bytes > 0


def kv_tp_share(m: Model, tp: int) -> float:
    """Fraction of a sequence's KV (all layers) one GPU of a TP group holds.

    GQA shards KV heads across TP (a GPU holds ceil(kv_heads/tp) heads; TP beyond the head count
    replicates heads). MLA and V4 latents have no heads to shard: every TP rank holds the whole
    latent (the reason attention-DP exists)."""
    f = M.facts(m)
    if f.kv_latent_replicated:
        return 1.0
    return math.ceil(f.kv_heads / tp) / f.kv_heads


def kv_share(m: Model, layout: Layout) -> float:
    """Fraction of one sequence's KV a GPU holds: its TP share of its pipeline stage's layers."""
    return kv_tp_share(m, layout.tp) / layout.pp


def expert_copies(m: Model, layout: Layout) -> float:
    """Physical experts per routed expert: 1 + redundant / routed (DeepSeek EPLB replicas)."""
    if m.moe is None or not layout.redundant_experts:
        return 1.0
    return 1.0 + layout.redundant_experts / m.moe.num_experts


def weights_per_gpu(m: Model, layout: Layout) -> float:
    """Attention, dense MLP, shared experts and embeddings shard TP-way and replicate per DP
    rank; routed experts (with their redundant copies) spread over all tp*dp GPUs of a stage;
    layers split across PP."""
    w = M.facts(m).weights
    dense_part = w.attention + w.dense_mlp + w.shared_experts + w.small_tensors + w.embeddings + w.lm_head
    experts = w.routed_experts
    if layout.mtp:
        dense_part += w.mtp - w.mtp_experts
        experts += w.mtp_experts
    return (dense_part / layout.tp + experts * expert_copies(m, layout) / layout.gpus_per_stage) / layout.pp


def activation_per_token(m: Model) -> float:
    return ACTIVATION_VECTORS_PER_TOKEN * m.hidden_size * element_bytes(m.precision.activations)


def reserve_bytes(hw: Hardware, engine: Engine, weights: float, activations: float) -> float:
    """HBM a GPU keeps out of the KV pool: the runtime's own memory, plus what the engine's memory
    policy leaves unused ('total': 1 - fraction of all HBM; 'free': 1 - fraction of what is left
    after weights, activations and the runtime)."""
    capacity = hw.hbm.capacity_bytes
    runtime = engine.runtime_reserve_bytes
    if engine.memory_policy == "total":
        return capacity * (1 - engine.memory_fraction) + runtime
    free = max(0.0, capacity - weights - activations - runtime)
    return runtime + (1 - engine.memory_fraction) * free


def weights_fit(m: Model, hw: Hardware, layout: Layout, engine: Engine | None = None) -> bool:
    """The weights leave room for the engine's reserve (and so for some KV)."""
    weights = weights_per_gpu(m, layout)
    return weights + reserve_bytes(hw, engine or default_engine(), weights, 0.0) < hw.hbm.capacity_bytes


def _pool(m: Model, hw: Hardware, layout: Layout, prefill_chunk: int, engine: Engine) -> tuple[float, float, float]:
    """(weights, the reserve, the activations of a `prefill_chunk`-token step) per GPU."""
    weights = weights_per_gpu(m, layout)
    chunk_act = activation_per_token(m) * prefill_chunk / layout.tp
    return weights, reserve_bytes(hw, engine, weights, chunk_act), chunk_act


def kv_pool_bytes(m: Model, hw: Hardware, layout: Layout, prefill_chunk: int, engine: Engine | None = None) -> float:
    """HBM per GPU the engine can give to KV (and per-sequence activations): what is left after the
    weights, its reserve and the activations of a `prefill_chunk`-token step. What an engine
    reports at start-up as its KV-cache size."""
    weights, reserve, chunk_act = _pool(m, hw, layout, prefill_chunk, engine or default_engine())
    return hw.hbm.capacity_bytes - weights - reserve - chunk_act


# The batch-independent part of a budget: the search asks for thousands of batches of a few layouts.
_PER_LAYOUT: IdentityMemo[tuple[float, float, float, float, int]] = IdentityMemo(8_192)


def _layout_budget(m: Model, hw: Hardware, layout: Layout, context: int, prefill_chunk: int,
                   e: Engine) -> tuple[float, float, float, float, int]:
    """(weights, reserve, the chunk's activations, one sequence's KV on this GPU, max batch)."""
    return _PER_LAYOUT.get(m, hw, e, (layout.shape_key(), context, prefill_chunk),
                           lambda: _compute_layout_budget(m, hw, layout, context, prefill_chunk, e))


def _compute_layout_budget(m: Model, hw: Hardware, layout: Layout, context: int, prefill_chunk: int,
                           e: Engine) -> tuple[float, float, float, float, int]:
    capacity = hw.hbm.capacity_bytes
    weights, reserve, chunk_act = _pool(m, hw, layout, prefill_chunk, e)
    # the KV cache is paged: a sequence holds whole blocks of the engine's block size
    paged = math.ceil(context / e.kv_block_tokens) * e.kv_block_tokens if context > 0 else 0
    kv_seq = M.kv_bytes_per_sequence(m, paged) * kv_share(m, layout)        # one sequence, this GPU's part
    room = capacity - weights - reserve - chunk_act
    per_batch = kv_seq * layout.pp + activation_per_token(m) / layout.tp    # one more sequence per micro-batch
    max_batch = max(0, int(room // per_batch)) if per_batch > 0 else 0
    return weights, reserve, chunk_act, kv_seq, max_batch


def max_batch(m: Model, hw: Hardware, layout: Layout, context: int, prefill_chunk: int,
              engine: Engine | None = None) -> int:
    """Sequences per DP rank per micro-batch that fit at `context` tokens beside a `prefill_chunk`
    (`hbm_budget(...).max_batch`, without building the budget)."""
    return _layout_budget(m, hw, layout, context, prefill_chunk, engine or default_engine())[4]


def hbm_budget(m: Model, hw: Hardware, layout: Layout, context: int, prefill_chunk: int,
               engine: Engine | None = None) -> HbmBudget:
    """Budget at `context` tokens per sequence with `layout.batch` sequences per DP rank per
    micro-batch and a prefill chunk of `prefill_chunk` tokens in flight, under the engine's memory
    policy.

    With pp stages a GPU holds its stage's layers of every sequence in flight: pp micro-batches of
    `batch` sequences, each 1/pp of the KV, so batch x one sequence's TP share in all. Activations
    belong to the one micro-batch a stage is working on."""
    e = engine or default_engine()
    weights, reserve, _, kv_seq, max_batch = _layout_budget(m, hw, layout, context, prefill_chunk, e)
    in_flight = layout.batch * layout.pp                                     # sequences per DP rank
    act = activation_per_token(m) * (layout.batch + prefill_chunk) / layout.tp
    return HbmBudget(capacity_bytes=hw.hbm.capacity_bytes, weights_bytes=weights, kv_bytes=kv_seq * in_flight,
                     activation_bytes=act, reserve_bytes=reserve, kv_per_sequence_bytes=kv_seq * layout.pp,
                     max_batch=max_batch)
