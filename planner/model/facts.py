"""Model math: parameters, weight bytes, KV-cache bytes, FLOPs and the expert-parallel intensity.

Everything context-dependent is a sum of `Term`s, value(c) = coef * min(c / ratio, cap), grouped
over identical layers, so that a decode step or a whole causal prefill is a closed form and a
sweep never loops over layers. `facts(model)` computes them once per model (cached).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.inputs.model import (
    CompressedAttention,
    GqaAttention,
    Indexer,
    MlaAttention,
    Model,
    PackedEntry,
)
from planner.precision import Dtype, element_bytes, weight_bytes_per_param

SMALL_TENSOR_BYTES = 2.0  # norms, routers, sinks and mHC maps stay BF16 in every FP8/FP4 recipe


@dataclass(frozen=True)
class Term:
    """coef * min(context // ratio, cap): one group of identical layers."""

    coef: float
    ratio: int = 1
    cap: float = math.inf

    def at(self, context: int) -> float:
        return self.coef * min(context // self.ratio, self.cap)

    def causal_sum(self, prefix: int, new: int) -> float:
        """Sum of at(prefix + i) for i = 1..new (continuous form; exact for ratio 1, no cap)."""
        if new <= 0:
            return 0.0
        r, cap = self.ratio, self.cap
        lo, hi = prefix, prefix + new              # positions lo+1 .. hi
        knee = cap * r if math.isfinite(cap) else math.inf   # position where the cap starts to bind
        below_hi = min(hi, knee)
        total = 0.0
        if below_hi > lo:
            # sum of x/r over x = lo+1 .. below_hi
            n = below_hi - lo
            total += (n * (lo + 1 + below_hi) / 2) / r
        if hi > max(lo, knee):
            total += cap * (hi - max(lo, knee))
        return self.coef * total


def _sum_at(terms: tuple[Term, ...], context: int) -> float:
    return sum(t.at(context) for t in terms)


def _sum_causal(terms: tuple[Term, ...], prefix: int, new: int) -> float:
    return sum(t.causal_sum(prefix, new) for t in terms)


def packed_entry_bytes(dims: int, dtype: Dtype, layout: PackedEntry) -> int:
    """Bytes of one cached vector of `dims` elements in `dtype`, as the serving kernel packs it."""
    if dtype == Dtype.fp8:
        rope = layout.rope_dims_in_bf16
        quantised = dims - rope
        raw = quantised + math.ceil(quantised / layout.scale_group_dims) * layout.scale_bytes + 2 * rope
        return math.ceil(raw / layout.align_bytes) * layout.align_bytes
    return math.ceil(dims * element_bytes(dtype))


def indexer_key_bytes(indexer: Indexer) -> int:
    return packed_entry_bytes(indexer.head_dim, indexer.key_dtype, indexer.key_layout)


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by component (main model; MTP separate)."""

    embeddings: int
    lm_head: int
    attention: int
    dense_mlp: int
    routed_experts: int
    shared_experts: int
    router: int
    norms: int
    mtp: int
    mtp_active: int
    active_attention: int
    active_dense_mlp: int
    active_routed_experts: int
    active_shared_experts: int
    active_router: int
    head_matmul: int = 0          # vocab x hidden: the output projection multiplies it even when tied

    @property
    def total(self) -> int:
        return (self.embeddings + self.lm_head + self.attention + self.dense_mlp + self.routed_experts
                + self.shared_experts + self.router + self.norms)

    @property
    def total_with_mtp(self) -> int:
        return self.total + self.mtp

    @property
    def active(self) -> int:
        """Parameters a token multiplies: top-k + shared experts, attention, router, LM head (the
        embedding matrix itself when tied). The input embedding is a row lookup, not a matmul, and
        is left out."""
        return (self.active_attention + self.active_dense_mlp + self.active_routed_experts
                + self.active_shared_experts + self.active_router + self.norms + self.head_matmul)

    @property
    def active_with_embeddings(self) -> int:
        return self.active + self.embeddings

    @property
    def active_matmul(self) -> int:
        """Weights in matmuls per token (norms excluded): 2 x this = matmul FLOPs per token."""
        return self.active - self.norms


@dataclass(frozen=True)
class WeightBytes:
    embeddings: float
    lm_head: float
    attention: float
    dense_mlp: float
    routed_experts: float
    shared_experts: float
    small_tensors: float
    mtp: float
    mtp_experts: float = 0.0   # the routed experts inside the MTP module(s)
    head_read: float = 0.0     # bytes of the output projection a step reads (the embeddings when tied)

    @property
    def total(self) -> float:
        return (self.embeddings + self.lm_head + self.attention + self.dense_mlp + self.routed_experts
                + self.shared_experts + self.small_tensors)

    @property
    def total_with_mtp(self) -> float:
        return self.total + self.mtp


@dataclass(frozen=True)
class Facts:
    """Everything about a model that does not depend on a layout or a context."""

    params: ParamCounts
    weights: WeightBytes
    kv_stored: tuple[Term, ...]          # bytes kept per sequence at context c
    kv_read: tuple[Term, ...]            # bytes one decode step reads per sequence at context c
    attn_flops_decode: tuple[Term, ...]  # attention FLOPs per new token at context c (absorbed MLA)
    attn_flops_prefill: tuple[Term, ...] # per token at position c (non-absorbed MLA)
    layer_kinds: dict[str, int] = field(default_factory=dict)
    kv_latent_replicated: bool = False   # MLA/V4 latents are replicated on every TP rank
    kv_heads: int = 1                    # KV heads that TP can shard (GQA); 1 for latents
    moe_layers: int = 0
    dense_layers: int = 0


def _gqa_layer_params(h: int, a: GqaAttention, nkv: int, d: int, k_eq_v: bool) -> int:
    nh = a.num_heads
    per_layer = h * nh * d * (2 if a.output_gate else 1) + (1 if k_eq_v else 2) * h * nkv * d + nh * d * h
    if a.qkv_bias:
        per_layer += nh * d + 2 * nkv * d
    if a.o_bias:
        per_layer += h
    if a.qk_norm:
        per_layer += 2 * d
    if a.sinks:
        per_layer += nh
    return per_layer


def _gqa(m: Model, a: GqaAttention) -> tuple[int, list, list, list, list, dict]:
    h, nh = m.hidden_size, a.num_heads
    # sliding layers use the base geometry; full layers may have their own (Gemma 4)
    geometry = {"sliding": (a.num_kv_heads, a.head_dim, False),
                "full": (a.full_num_kv_heads or a.num_kv_heads, a.full_head_dim or a.head_dim, a.full_k_eq_v)}
    types = a.layer_types or (("sliding" if a.sliding_window else "full"),) * m.num_layers
    n_full, n_slide, n_lin, n_mamba = (types.count(k) for k in ("full", "sliding", "linear", "mamba"))
    stored, flops = [], []
    params = 0
    for kind, n in (("full", n_full), ("sliding", n_slide)):
        if not n:
            continue
        nkv, d, k_eq_v = geometry[kind]
        params += n * _gqa_layer_params(h, a, nkv, d, k_eq_v)
        kv_tok = 2 * nkv * d * element_bytes(m.precision.kv)  # K and V, per layer per token
        cap = math.inf
        if kind == "sliding":
            assert a.sliding_window is not None       # the schema requires a window for sliding layers
            cap = a.sliding_window
        stored.append(Term(n * kv_tok, cap=cap))
        flops.append(Term(n * 4 * nh * d, cap=cap))    # QK^T and AV: 2 FLOPs x 2 matmuls
    read = list(stored)
    # Recurrent layers hold a fixed state per sequence (cap 1: present from the first token on); a
    # decode step reads and writes it whole.
    recurrent: list[tuple[int, float, float]] = []    # (layers, state bytes, scan FLOPs per token)
    if n_lin:
        lin = a.linear
        assert lin is not None                        # the schema requires it for linear layers
        params += n_lin * lin.params(h)
        state_bytes: float = n_lin * lin.state_elements * element_bytes(lin.state_dtype)
        # Per token: decay, delta-rule update and read-out of a dk x dv state per value head.
        scan = n_lin * 6 * lin.num_value_heads * lin.key_head_dim * lin.value_head_dim
        recurrent.append((n_lin, state_bytes, scan))
    if n_mamba:
        mb = a.mamba
        assert mb is not None                         # the schema requires it for Mamba layers
        params += n_mamba * mb.params(h)
        recurrent.append((n_mamba, n_mamba * mb.state_elements * element_bytes(mb.state_dtype),
                          n_mamba * mb.scan_flops_per_token))
    for _, state, scan_flops in recurrent:
        stored.append(Term(state, cap=1))
        read.append(Term(2 * state, cap=1))
        flops.append(Term(scan_flops, cap=1))
    kinds = {"full": n_full, "sliding": n_slide, "linear": n_lin, "mamba": n_mamba,
             "no_mixer": types.count("none")}
    return params, stored, read, flops, list(flops), kinds


def _mla(m: Model, a: MlaAttention) -> tuple[int, list, list, list, list, dict]:
    h, nh = m.hidden_size, a.num_heads
    qk = a.qk_nope_head_dim + a.qk_rope_head_dim
    q = (h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * nh * qk) if a.q_lora_rank else h * nh * qk
    kv = (h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank
          + a.kv_lora_rank * nh * (a.qk_nope_head_dim + a.v_head_dim))
    per_layer = q + kv + nh * a.v_head_dim * h
    L = m.num_layers
    entry = packed_entry_bytes(a.kv_lora_rank + a.qk_rope_head_dim, m.precision.kv, a.kv_layout) \
        if m.precision.kv == Dtype.fp8 else (a.kv_lora_rank + a.qk_rope_head_dim) * element_bytes(m.precision.kv)
    stored = [Term(L * entry)]
    # Absorbed decode: scores over the 576-d latent, values over the 512-d latent (MQA mode).
    dec_coef = L * 2 * nh * ((a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank)
    pre_coef = L * 2 * nh * (qk + a.v_head_dim)
    kinds = {"mla": L}
    if a.indexer is None:
        return per_layer * L, stored, list(stored), [Term(dec_coef)], [Term(pre_coef)], kinds
    ix = a.indexer
    ql = a.q_lora_rank or h
    # DSA indexer (V3.2-Exp inference/model.py): wq_b, wk, k LayerNorm (weight+bias), weights_proj.
    per_layer += ql * ix.num_heads * ix.head_dim + h * ix.head_dim + 2 * ix.head_dim + h * ix.num_heads
    key = indexer_key_bytes(ix)
    stored.append(Term(L * key))
    # A decode step reads every indexer key but only the top-k latents.
    read = [Term(L * key), Term(L * entry, cap=ix.topk)]
    idx_flops = Term(L * 2 * ix.num_heads * ix.head_dim)
    kinds["dsa"] = L
    return (per_layer * L, stored, read, [Term(dec_coef, cap=ix.topk), idx_flops],
            [Term(pre_coef, cap=ix.topk), idx_flops], kinds)


def _compressed(m: Model, a: CompressedAttention) -> tuple[int, list, list, list, list, dict]:
    """DeepSeek-V4 (paper §2.3; transformers modeling_deepseek_v4.py for the projections)."""
    h, nh, d = m.hidden_size, a.num_heads, a.head_dim
    ix = a.indexer
    base = (h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * nh * d   # q_a, q_norm, q_b
            + h * d + d                                                     # shared K=V projection, norm
            + (nh * d // a.o_groups) * (a.o_groups * a.o_lora_rank)         # grouped o_a
            + a.o_groups * a.o_lora_rank * h                                # o_b
            + nh)                                                           # sinks
    ratios = a.compress_ratios
    n_csa = sum(1 for r in ratios if r and r == min(x for x in ratios if x))
    csa_ratio = min((r for r in ratios if r), default=0)
    hca_ratio = max(ratios, default=0)
    n_hca = sum(1 for r in ratios if r and r == hca_ratio and r != csa_ratio)
    n_win = sum(1 for r in ratios if r == 0)
    # CSA compressor: overlapping windows, so kv/gate project to 2*head_dim; plus its indexer.
    csa = (2 * (h * 2 * d) + csa_ratio * 2 * d + d
           + 2 * (h * 2 * ix.head_dim) + csa_ratio * 2 * ix.head_dim + ix.head_dim
           + a.q_lora_rank * ix.num_heads * ix.head_dim + h * ix.num_heads)
    hca = 2 * (h * d) + hca_ratio * d + d
    L = m.num_layers
    params = base * L + csa * n_csa + hca * n_hca
    entry = packed_entry_bytes(d, m.precision.kv, a.kv_layout) if m.precision.kv == Dtype.fp8 \
        else d * element_bytes(m.precision.kv)
    key = indexer_key_bytes(ix)
    window = Term(L * entry, cap=a.window)                   # every layer keeps the last n_win tokens
    stored = [window]
    read = [window]
    per_entry_flops = 2 * 2 * nh * d                         # scores + values over shared K=V
    dec = [Term(L * per_entry_flops, cap=a.window)]
    if n_csa:
        stored.append(Term(n_csa * (entry + key), ratio=csa_ratio))
        read += [Term(n_csa * key, ratio=csa_ratio), Term(n_csa * entry, ratio=csa_ratio, cap=ix.topk)]
        dec += [Term(n_csa * per_entry_flops, ratio=csa_ratio, cap=ix.topk),
                Term(n_csa * 2 * ix.num_heads * ix.head_dim, ratio=csa_ratio)]
    if n_hca:
        stored.append(Term(n_hca * entry, ratio=hca_ratio))
        read.append(Term(n_hca * entry, ratio=hca_ratio))
        dec.append(Term(n_hca * per_entry_flops, ratio=hca_ratio))
    kinds = {"csa": n_csa, "hca": n_hca, "window_only": n_win}
    return params, stored, read, dec, list(dec), kinds


def _attention(m: Model):
    a = m.attention
    if isinstance(a, GqaAttention):
        return _gqa(m, a)
    if isinstance(a, MlaAttention):
        return _mla(m, a)
    return _compressed(m, a)


def _mlp_params(h: int, width: int, gated: bool, bias: bool) -> int:
    p = (3 if gated else 2) * h * width
    if bias:
        p += (2 if gated else 1) * width + h
    return p


_FACTS: dict[int, tuple[Model, Facts]] = {}
_FACTS_LIMIT = 1024


def facts(m: Model) -> Facts:
    """Facts of a model, computed once per model object. Keyed by identity (hashing a model
    with per-layer tuples costs more than the arithmetic it saves); the cache holds the model
    itself, so an id is never reused while its entry lives."""
    hit = _FACTS.get(id(m))
    if hit is not None and hit[0] is m:
        return hit[1]
    if len(_FACTS) >= _FACTS_LIMIT:
        _FACTS.clear()
    result = _compute_facts(m)
    _FACTS[id(m)] = (m, result)
    return result


def _compute_facts(m: Model) -> Facts:
    h, L = m.hidden_size, m.num_layers
    attn_params, stored, read, dec, pre, kinds = _attention(m)
    ffn = m.ffn_kinds()
    n_moe = sum(1 for k in ffn if "moe" in k)
    n_dense = sum(1 for k in ffn if "dense" in k)
    dense_layer = _mlp_params(h, m.mlp.intermediate_size, m.mlp.gated, m.mlp.bias) if m.mlp else 0
    dense = n_dense * dense_layer
    routed = shared = router = active_routed = active_shared = 0
    expert = shared_layer = router_layer = 0
    num_experts = experts_per_token = 0
    if m.moe:
        e = m.moe
        expert = _mlp_params(e.token_width(h), e.expert_intermediate_size, e.gated, e.expert_bias)
        shared_layer = _mlp_params(h, e.shared_width, e.gated, False) if e.shared_width else 0
        if e.latent_size:
            # LatentMoE: the down (h -> latent) and up (latent -> h) projections run for every token,
            # like a shared expert
            shared_layer += 2 * h * e.latent_size
        router_layer = h * e.num_experts + e.num_experts * (1 if e.router_bias else 0)
        routed = n_moe * e.num_experts * expert
        shared = n_moe * shared_layer
        router = n_moe * router_layer
        active_routed = n_moe * e.experts_per_token * expert
        active_shared = shared
        num_experts, experts_per_token = e.num_experts, e.experts_per_token
    # Norms: two RMSNorms per layer plus the final one; mHC adds two mixing maps per layer
    # (fn: (2+H)*H x H*h, base, 3 scales) and a head collapse (H x H*h) (V4 paper §2.2).
    hc = m.hc_mult
    mix = (2 + hc) * hc
    hc_layer = 2 * (mix * hc * h + mix + 3) if hc > 1 else 0
    hc_head = (hc * hc * h + hc + 1) if hc > 1 else 0
    norms = L * (2 * h + hc_layer) + h + hc_head
    embeddings = m.vocab_size * h
    lm_head = 0 if m.tie_word_embeddings else m.vocab_size * h
    # An MTP module (DeepSeek-V3 README_WEIGHTS): one more decoder layer of the last kind, the
    # eh_proj (2h x h) and three norms; embeddings and head are shared with the main model.
    last_moe = "moe" in ffn[-1]
    ffn_last = (num_experts * expert + shared_layer + router_layer) if last_moe else dense_layer
    mtp_layer = attn_params // L + ffn_last + 2 * h * h + 5 * h + hc_layer
    ffn_last_active = (experts_per_token * expert + shared_layer + router_layer) if last_moe else dense_layer
    mtp_active_layer = mtp_layer - ffn_last + ffn_last_active
    params = ParamCounts(
        embeddings=embeddings, lm_head=lm_head, attention=attn_params, dense_mlp=dense,
        routed_experts=routed, shared_experts=shared, router=router, norms=norms,
        mtp=m.mtp_layers * mtp_layer, mtp_active=m.mtp_layers * mtp_active_layer,
        active_attention=attn_params, active_dense_mlp=dense,
        active_routed_experts=active_routed, active_shared_experts=active_shared, active_router=router,
        head_matmul=m.vocab_size * h)
    p = m.precision
    w = weight_bytes_per_param
    mtp_experts = m.mtp_layers * (num_experts * expert if last_moe else 0)
    weights = WeightBytes(
        embeddings=embeddings * w(p.embeddings), lm_head=lm_head * w(p.embeddings),
        attention=attn_params * w(p.weights), dense_mlp=dense * w(p.weights),
        routed_experts=routed * w(p.expert_weights), shared_experts=shared * w(p.shared_expert_weights),
        small_tensors=(norms + router) * SMALL_TENSOR_BYTES,
        mtp=mtp_experts * w(p.expert_weights) + (params.mtp - mtp_experts) * w(p.weights),
        mtp_experts=mtp_experts * w(p.expert_weights), head_read=m.vocab_size * h * w(p.embeddings))
    latent = not isinstance(m.attention, GqaAttention)
    kv_heads = m.attention.num_kv_heads if isinstance(m.attention, GqaAttention) else 1
    return Facts(params=params, weights=weights, kv_stored=tuple(stored), kv_read=tuple(read),
                 attn_flops_decode=tuple(dec), attn_flops_prefill=tuple(pre), layer_kinds=kinds,
                 kv_latent_replicated=latent, kv_heads=kv_heads, moe_layers=n_moe, dense_layers=n_dense)


# ---- public functions (bytes, FLOPs; contexts in tokens) -------------------------------------

def kv_bytes_per_sequence(m: Model, context: int) -> float:
    """KV bytes one sequence holds at `context` tokens: growing entries plus fixed window state."""
    return _sum_at(facts(m).kv_stored, context)


def kv_bytes_per_token(m: Model) -> float:
    """Growing KV bytes per token (all layers): what each further token adds once windows are full.
    Fractional for compressed layers (V4: (584 + 68) / 4 per CSA layer)."""
    return sum(t.coef / t.ratio for t in facts(m).kv_stored if not math.isfinite(t.cap))


def kv_window_state_bytes(m: Model) -> float:
    """Fixed per-sequence state once windows are full: sliding-window KV and the recurrent state
    of linear-attention layers."""
    return sum(t.coef * t.cap for t in facts(m).kv_stored if math.isfinite(t.cap) and t.ratio == 1)


def kv_read_bytes_per_step(m: Model, context: int) -> float:
    """KV bytes one decode step reads for one sequence (sparse attention reads only top-k)."""
    return _sum_at(facts(m).kv_read, context)


def decode_flops_per_token(m: Model, context: int) -> float:
    """Forward FLOPs for one new token attending to `context` tokens (MTP excluded)."""
    f = facts(m)
    return 2 * f.params.active_matmul + _sum_at(f.attn_flops_decode, context)


def prefill_flops(m: Model, new_tokens: int, prefix: int = 0) -> float:
    """Forward FLOPs to prefill `new_tokens` after `prefix` cached tokens (causal)."""
    f = facts(m)
    return 2 * f.params.active_matmul * new_tokens + _sum_causal(f.attn_flops_prefill, prefix, new_tokens)


def train_flops_per_token(m: Model, sequence: int = 4096) -> float:
    """Training FLOPs per token: 3 x forward (backward = 2 x forward), averaged over the causal
    positions of a `sequence`-token sample (ISCA '25 Table 2 convention)."""
    return 3 * prefill_flops(m, sequence) / sequence


def ep_flops_per_comm_byte(m: Model) -> float | None:
    """FLOPs per byte of expert-parallel traffic for one token-expert pair.

    Each pair costs 6*h*d FLOPs (gate, up, down) and moves h values out (dispatch) and back
    (combine), so the ratio is 6*d / (dispatch + combine bytes per value). DeepSeek-V4 §3.1:
    V4-Pro, d = 3072, FP8 out + BF16 back -> 6144. Element bytes as in the paper and in ISCA '25
    §2.3.2; the per-128 FP32 scales DeepEP sends with FP8 dispatch (+3% of dispatch bytes) are
    left out of both this ratio and the traffic times, to stay comparable with those sources.
    """
    if m.moe is None:
        return None
    p = m.precision
    return 6 * m.moe.expert_intermediate_size / (element_bytes(p.dispatch) + element_bytes(p.combine))
