"""An independent parameter count for the HF configs in tests/fixtures/hf: the weight tensors each
architecture's transformers (or reference) modeling code creates, enumerated from the raw config
dict, without the planner's importer or model math. tests/test_hf_corpus.py compares the two.

Per architecture the tensors follow the modeling files: LlamaDecoderLayer (q/k/v/o, gate/up/down,
two RMSNorms), Qwen3/Gemma QK-norms, MixtralSparseMoeBlock, DeepseekV3Attention (MLA), Jamba's
MambaMixer, Mamba2Mixer (Nemotron-H), Qwen3NextGatedDeltaNet, MiniMaxLightningAttention, gpt-oss
(biases, sinks), Llama4TextMoe (shared expert), Arctic's residual MLP, Gemma 4 (global K=V layers),
Nemotron 3 Super's LatentMoE, DeepSeek-V4 (compressed attention, mHC)."""

from __future__ import annotations

import math
from typing import Any


def _text(cfg: dict[str, Any]) -> dict[str, Any]:
    text = cfg.get("text_config")
    if isinstance(text, dict) and ("hidden_size" not in cfg or "num_hidden_layers" in text):
        return {**{k: cfg[k] for k in ("tie_word_embeddings", "model_type") if k in cfg}, **text}
    return cfg


def _mixer(c: dict[str, Any], i: int, L: int) -> str:
    mt = str(c.get("model_type", ""))
    if mt == "gemma3_text":
        return "attn"
    if c.get("layer_types"):
        t = c["layer_types"][i]
        return {"full_attention": "attn", "sliding_attention": "attn", "attention": "attn",
                "linear_attention": "linear", "mamba": "mamba"}[t]
    if c.get("hybrid_override_pattern"):
        return {"M": "mamba", "*": "attn", "-": "none", "E": "none"}[c["hybrid_override_pattern"][i]]
    if "attn_type_list" in c:
        return "attn" if c["attn_type_list"][i] == 1 else "linear"
    if "attn_layer_period" in c:
        return "attn" if i % c["attn_layer_period"] == c["attn_layer_offset"] else "mamba"
    if "full_attention_interval" in c:
        return "attn" if (i + 1) % c["full_attention_interval"] == 0 else "linear"
    del mt, L
    return "attn"


def _ffn(c: dict[str, Any], i: int) -> str:
    experts = c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts")
    if c.get("hybrid_override_pattern"):
        return {"M": "none", "*": "none", "-": "dense", "E": "moe"}[c["hybrid_override_pattern"][i]]
    if not experts:
        return "dense"
    if "interleave_moe_layer_step" in c:
        return "moe" if (i + 1) % c["interleave_moe_layer_step"] == 0 else "dense"
    if "expert_layer_period" in c:
        return "moe" if i % c["expert_layer_period"] == c["expert_layer_offset"] else "dense"
    if isinstance(c.get("moe_layer_freq"), list):
        return "moe" if c["moe_layer_freq"][i] else "dense"
    if i < c.get("first_k_dense_replace", 0) or i in (c.get("mlp_only_layers") or []):
        return "dense"
    if (i + 1) % c.get("decoder_sparse_step", 1) or i % c.get("moe_layer_freq", 1):
        return "dense"
    return "moe"


def _attention(c: dict[str, Any], i: int, h: int) -> int:
    mt = str(c.get("model_type", ""))
    nh = c["num_attention_heads"]
    if "kv_lora_rank" in c and c["kv_lora_rank"]:                # MLA (DeepseekV3Attention)
        qr, kvr = c.get("q_lora_rank"), c["kv_lora_rank"]
        nope, rope, v = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        q = (h * qr + qr + qr * nh * (nope + rope)) if qr else h * nh * (nope + rope)
        n = q + h * (kvr + rope) + kvr + kvr * nh * (nope + v) + nh * v * h
        if c.get("index_topk"):                                   # DSA indexer (V3.2)
            ih, idim = c["index_n_heads"], c["index_head_dim"]
            n += qr * ih * idim + h * idim + 2 * idim + h * ih
        return n
    sliding = (c.get("layer_types") or [""] * (i + 1))[i] == "sliding_attention"
    kv = c.get("num_key_value_heads", nh)
    d = c.get("head_dim") or c.get("attention_head_dim") or h // nh
    k_eq_v = False
    if mt.startswith("gemma4") and not sliding:                  # Gemma 4 global layers
        d = c.get("global_head_dim", d)
        k_eq_v = bool(c.get("attention_k_eq_v"))
        kv = c.get("num_global_key_value_heads", kv) if k_eq_v else kv
    gate = 2 if c.get("attn_output_gate") or mt.startswith("qwen3_next") else 1
    n = h * nh * d * gate + h * kv * d * (1 if k_eq_v else 2) + nh * d * h
    if c.get("attention_bias") or mt.startswith("qwen2"):
        n += nh * d + 2 * kv * d + (h if mt == "gpt_oss" else 0)
    if mt.startswith(("qwen3", "gemma3", "gemma4", "olmoe")) or c.get("use_qk_norm"):
        n += 2 * d
    if mt == "gpt_oss":
        n += nh                                                   # sinks
    return n


def _mamba(c: dict[str, Any], h: int) -> int:
    if "mamba_num_heads" in c or "mamba_n_heads" in c:           # Mamba2Mixer (Nemotron-H, Granite 4)
        heads = c.get("mamba_num_heads") or c["mamba_n_heads"]
        hd = c.get("mamba_head_dim") or c["mamba_d_head"]
        n = c.get("ssm_state_size") or c["mamba_d_state"]
        g = c.get("n_groups") or c["mamba_n_groups"]
        k = c.get("conv_kernel") or c["mamba_d_conv"]
        inner = heads * hd
        conv = inner + 2 * g * n
        return h * (inner + conv + heads) + conv * k + conv + 3 * heads + inner + inner * h
    inner, n, k = c["mamba_expand"] * h, c["mamba_d_state"], c["mamba_d_conv"]   # JambaMambaMixer
    r = c["mamba_dt_rank"]
    return (h * 2 * inner + inner * k + inner + inner * (r + 2 * n) + r * inner + inner + inner * n + inner
            + inner * h + r + 2 * n)


def _linear(c: dict[str, Any], h: int) -> int:
    if "linear_num_value_heads" in c:                             # Qwen3NextGatedDeltaNet
        kd = c["linear_num_key_heads"] * c["linear_key_head_dim"]
        vd = c["linear_num_value_heads"] * c["linear_value_head_dim"]
        nv, k = c["linear_num_value_heads"], c.get("linear_conv_kernel_dim", 4)
        return h * (2 * kd + 2 * vd) + h * 2 * nv + (2 * kd + vd) * k + 2 * nv + c["linear_value_head_dim"] + vd * h
    inner = c["num_attention_heads"] * c["head_dim"]              # MiniMaxLightningAttention
    return 3 * h * inner + h * inner + inner + inner * h


def _mlp(h: int, width: int, gated: bool) -> int:
    return (3 if gated else 2) * h * width


def _moe(c: dict[str, Any], h: int) -> tuple[int, int]:
    """(parameters of one MoE block, of which a token uses)."""
    mt = str(c.get("model_type", ""))
    experts = c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts")
    k = c.get("num_experts_per_tok") or c.get("top_k_experts") or c.get("moe_topk")
    k = k[0] if isinstance(k, list) else k
    width = c.get("moe_intermediate_size") or c["intermediate_size"]
    width = width[0] if isinstance(width, list) else width
    gated = c.get("mlp_hidden_act") != "relu2"
    if mt == "llama4_text":
        width = c["intermediate_size"]
    latent = c.get("moe_latent_size")
    expert = _mlp(latent or h, width, gated) + (2 * width + h if mt == "gpt_oss" else 0)
    router = h * experts + (experts if mt == "gpt_oss" else 0)
    shared = 0
    if c.get("shared_expert_intermediate_size"):
        shared = _mlp(h, c["shared_expert_intermediate_size"], gated)
    elif c.get("moe_shared_expert_intermediate_size"):
        shared = _mlp(h, c["moe_shared_expert_intermediate_size"], gated)
    elif c.get("shared_intermediate_size"):
        shared = _mlp(h, c["shared_intermediate_size"], gated)
    elif c.get("n_shared_experts") or c.get("num_shared_experts"):
        shared = (c.get("n_shared_experts") or c.get("num_shared_experts")) * _mlp(h, width, gated)
    elif c.get("use_mixed_mlp_moe"):
        n = c["num_shared_expert"]
        shared = (n[0] if isinstance(n, list) else n) * _mlp(h, c["intermediate_size"], gated)
    elif mt == "llama4_text":
        shared = _mlp(h, width, gated)
    elif c.get("enable_moe_block"):
        shared = _mlp(h, c["intermediate_size"], gated)
    if latent:
        shared += 2 * h * latent
    if mt == "arctic":
        shared += _mlp(h, h, gated)                              # residual MLP beside the experts
    return experts * expert + router + shared, k * expert + router + shared


def _v4(c: dict[str, Any]) -> tuple[int, int]:
    """DeepSeek-V4 (transformers modeling_deepseek_v4.py): compressed attention + mHC."""
    h, L, nh, d = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], c["head_dim"]
    qr, og, olr = c["q_lora_rank"], c["o_groups"], c["o_lora_rank"]
    ih, idim = c["index_n_heads"], c["index_head_dim"]
    hc = c.get("hc_mult", 1)
    total = active = 0
    for ratio in c["compress_ratios"][:L]:
        a = h * qr + qr + qr * nh * d + h * d + d + nh * d * olr + og * olr * h + nh
        if ratio == 4:
            a += 2 * h * 2 * d + 4 * 2 * d + d + 2 * h * 2 * idim + 4 * 2 * idim + idim + qr * ih * idim + h * ih
        elif ratio:
            a += 2 * h * d + ratio * d + d
        mix = (2 + hc) * hc
        a += 2 * h + 2 * (mix * hc * h + mix + 3)
        e = c["n_routed_experts"]
        expert = 3 * h * c["moe_intermediate_size"]
        moe = e * expert + c["n_shared_experts"] * expert + h * e
        total += a + moe
        active += a + moe - (e - c["num_experts_per_tok"]) * expert
    head = c["vocab_size"] * h
    ends = h + hc * hc * h + hc + 1
    return total + 2 * head + ends, active + head + ends


def count(config: dict[str, Any]) -> tuple[int, int]:
    """(total, active) parameters of the main model (MTP excluded; active without the input
    embedding, with the output projection)."""
    c = _text(config)
    if c.get("compress_ratios"):
        return _v4(c)
    mt = str(c.get("model_type", ""))
    # Gemma3TextConfig's default vocabulary (the minimal published gemma-3-27b-it config omits it)
    h, L, vocab = c["hidden_size"], c["num_hidden_layers"], c.get("vocab_size", 262208)
    total = active = 0
    for i in range(L):
        mixer, ffn = _mixer(c, i, L), _ffn(c, i)
        if mixer == "attn":
            p = _attention(c, i, h)
        elif mixer == "mamba":
            p = _mamba(c, h)
        else:
            p = _linear(c, h) if mixer == "linear" else 0
        a = p
        if ffn == "dense":
            width = h if mt == "arctic" else c.get("intermediate_size_mlp") or c["intermediate_size"]
            p += _mlp(h, width, c.get("mlp_hidden_act") != "relu2")
            a = p
        elif ffn == "moe":
            t, act = _moe(c, h)
            p, a = p + t, a + act
        norms = 2 * h                 # input and post-attention RMSNorms (one Nemotron-H block norm counted as two)
        total += p + norms
        active += a + norms
    head = vocab * h
    tied = c.get("tie_word_embeddings", mt.startswith("gemma"))
    total += head + (0 if tied else head) + h
    active += head + h
    return total, active


def is_close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel)
