"""Token mixers: the per-layer mix of full, sliding, linear-attention and Mamba layers, and the
attention kind (GQA/MHA, MLA, DeepSeek-V4 compressed)."""

from __future__ import annotations

import json
import math
from typing import Any

from planner.inputs.hfimport.fields import MIXER_NAMES, QKV_BIAS_MODEL_TYPES, ConfigFields
from planner.inputs.model import (
    CompressedAttention,
    GqaAttention,
    Indexer,
    LinearAttention,
    MambaMixer,
    MlaAttention,
)
from planner.precision import Dtype


def per_layer(cfg: ConfigFields, key: str, values: list[Any], L: int) -> list[Any]:
    if len(values) < L:
        raise cfg.error(f"has {len(values)} entries for {L} layers", key)
    return values[:L]     # trailing entries describe MTP layers (DeepSeek-V4) or are ignored


def layer_mixers(cfg: ConfigFields, L: int) -> tuple[str, ...] | None:
    """Token mixer of every layer (full, sliding, linear, mamba, none), or None for a uniform stack
    described by the attention fields alone."""
    if cfg.has("layer_types"):
        raw = cfg.raw("layer_types")
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise cfg.error("expected a list of layer-type names", "layer_types")
        unknown = sorted({t for t in raw if t not in MIXER_NAMES})
        if unknown:
            raise cfg.error(f"layer_types {', '.join(unknown)} are not modelled yet", "layer_types",
                            hint="supported: full/sliding/chunked attention, linear attention, mamba")
        cfg.consider("full_attention_interval", "sliding_window_pattern", "max_window_layers")
        return tuple(MIXER_NAMES[t] for t in per_layer(cfg, "layer_types", raw, L))
    if cfg.has("hybrid_override_pattern"):
        pattern = cfg.text("hybrid_override_pattern")
        odd = sorted(set(pattern) - set("M*-E"))
        if odd:
            raise cfg.error(f"hybrid_override_pattern symbols {''.join(odd)} are not modelled "
                            "(M Mamba-2, * attention, - MLP, E MoE)", "hybrid_override_pattern")
        kinds = {"M": "mamba", "*": "full", "-": "none", "E": "none"}
        return tuple(kinds[c] for c in per_layer(cfg, "hybrid_override_pattern", list(pattern), L))
    if cfg.has("layers_block_type"):
        raw = cfg.raw("layers_block_type")
        names = {"attention": "full", "mamba": "mamba"}
        odd = sorted({t for t in raw if t not in names}) if isinstance(raw, list) else [json.dumps(raw)]
        if odd:
            raise cfg.error(f"layers_block_type {', '.join(map(str, odd))} is not modelled yet "
                            "(attention and mamba are)", "layers_block_type")
        return tuple(names[t] for t in per_layer(cfg, "layers_block_type", raw, L))
    if cfg.has("attn_type_list"):
        # MiniMax-01/M1: 1 = softmax attention, 0 = lightning (linear) attention
        flags = cfg.ints("attn_type_list")
        return tuple("full" if f else "linear" for f in per_layer(cfg, "attn_type_list", flags, L))
    if cfg.has("attn_layer_period"):
        # Jamba: attention where i % period == offset, Mamba elsewhere (transformers JambaConfig)
        period = cfg.integer("attn_layer_period")
        offset = cfg.integer("attn_layer_offset", default=0, minimum=0)
        return tuple("full" if i % period == offset else "mamba" for i in range(L))
    if cfg.has("full_attention_interval"):
        # Qwen3-Next: every n-th layer is full attention, the rest linear attention
        n = cfg.integer("full_attention_interval")
        return tuple("full" if (i + 1) % n == 0 else "linear" for i in range(L))
    if window_tokens(cfg) is None:
        return None
    if cfg.has("sliding_window_pattern"):
        # Gemma 2/3: every n-th layer is global, the others local (transformers Gemma3TextConfig)
        n = cfg.integer("sliding_window_pattern")
        return tuple("full" if (i + 1) % n == 0 else "sliding" for i in range(L))
    if cfg.model_type.startswith("llama4") and cfg.has("attention_chunk_size"):
        # Llama 4: RoPE layers attend within chunks (at most attention_chunk_size tokens, held like a
        # window), NoPE layers (every 4th by default) attend globally (transformers Llama4TextConfig).
        rope = cfg.ints("no_rope_layers", minimum=0) if cfg.has("no_rope_layers") \
            else [int((i + 1) % 4 != 0) for i in range(L)]
        return tuple("sliding" if r else "full" for r in per_layer(cfg, "no_rope_layers", rope, L))
    if cfg.has("max_window_layers") and cfg.data.get("use_sliding_window") is True:
        # Qwen 2: layers from max_window_layers on use the sliding window
        first = cfg.integer("max_window_layers", minimum=0)
        return tuple("sliding" if i >= first else "full" for i in range(L))
    return ("sliding",) * L


def window_tokens(cfg: ConfigFields) -> int | None:
    """Tokens a sliding (or chunked) layer keeps, when the config uses windows at all."""
    if cfg.data.get("use_sliding_window") is False:
        cfg.consider("use_sliding_window", "sliding_window", "max_window_layers")
        return None
    if cfg.model_type.startswith("llama4") and cfg.has("attention_chunk_size"):
        return cfg.integer("attention_chunk_size")
    if cfg.has("sliding_window"):
        return cfg.integer("sliding_window")
    return None


def attention_block(cfg: ConfigFields, h: int, L: int, mixers: tuple[str, ...] | None):
    if cfg.has("compress_ratios"):
        return _compressed(cfg, L)
    if cfg.has("kv_lora_rank"):
        return _mla(cfg)
    softmax_free = mixers is not None and not {"full", "sliding"} & set(mixers)
    if softmax_free or not (cfg.has("num_attention_heads") or cfg.has("n_head")):
        state = cfg.first_key("state_size", "ssm_state_size", "mamba_d_state", "layer_types")
        if state or softmax_free:
            raise cfg.error("no attention layers: pure state-space models are "
                            "not modelled yet", state,
                            hint="hybrids of attention with Mamba or linear attention are supported")
    heads = cfg.integer("num_attention_heads", "n_head", block="attention")
    kv_heads = cfg.integer("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise cfg.error(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}",
                        "num_key_value_heads")
    head_dim = cfg.integer("head_dim", "attention_head_dim", default=h // heads)
    mt = cfg.model_type
    types = mixers
    window = window_tokens(cfg) if types is None or "sliding" in types else None
    if types is None:
        types = ("sliding",) * L if window else None
    linear = _linear(cfg, h) if types and "linear" in types else None
    mamba = _mamba(cfg, h) if types and "mamba" in types else None
    if types is not None and "sliding" in types and window is None:
        window = window_tokens(cfg)
        if window is None:
            raise cfg.error("sliding layers need sliding_window", "sliding_window")
    if types is not None and set(types) <= {"full"} and cfg.model_type not in ("nemotron_h",):
        types = None
    return GqaAttention(
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        qkv_bias=cfg.flag("attention_bias", "qkv_bias", "use_qkv_bias") or mt.startswith(QKV_BIAS_MODEL_TYPES),
        o_bias=cfg.flag("attention_bias") and "gpt_oss" in mt,
        qk_norm=cfg.flag("use_qk_norm") or mt.startswith(("qwen3", "gemma3", "gemma4", "olmoe", "olmo2")),
        # Qwen3-Next/3.5 gate the attention output (gated attention): q_proj emits query and gate
        output_gate=cfg.flag("attn_output_gate", default=mt.startswith(("qwen3_next", "qwen3_5"))),
        sinks="gpt_oss" in mt,
        # Gemma 4: global layers have their own head dim and KV heads, and may share K as V
        full_head_dim=cfg.integer("global_head_dim") if cfg.has("global_head_dim") else None,
        full_num_kv_heads=cfg.integer("num_global_key_value_heads") if cfg.has("num_global_key_value_heads") else None,
        full_k_eq_v=cfg.flag("attention_k_eq_v"),
        sliding_window=window if types and "sliding" in types else None,
        layer_types=types, linear=linear, mamba=mamba)


def _compressed(cfg: ConfigFields, L: int) -> CompressedAttention:
    blk = "compressed attention (compress_ratios)"
    cfg.consider("num_key_value_heads")     # one shared K=V entry per token
    # trailing entries describe the MTP layers; missing ones are window-only layers
    ratios = tuple(cfg.ints("compress_ratios")[:L])
    ratios = ratios + (0,) * (L - len(ratios))
    return CompressedAttention(
        num_heads=cfg.integer("num_attention_heads", block=blk), head_dim=cfg.integer("head_dim", block=blk),
        rope_dim=cfg.integer("qk_rope_head_dim", default=64), q_lora_rank=cfg.integer("q_lora_rank", block=blk),
        o_groups=cfg.integer("o_groups", block=blk), o_lora_rank=cfg.integer("o_lora_rank", block=blk),
        window=cfg.integer("sliding_window", block=blk), compress_ratios=ratios,
        # V4 §5.2.1: the indexer QK path is cached and multiplied in FP4 (MXFP4 keys: 64 + 4 B).
        indexer=Indexer(num_heads=cfg.integer("index_n_heads", block="the CSA indexer"),
                        head_dim=cfg.integer("index_head_dim", block="the CSA indexer"),
                        topk=cfg.integer("index_topk", block="the CSA indexer"), key_dtype=Dtype.mxfp4))


def _mla(cfg: ConfigFields) -> MlaAttention:
    blk = "MLA attention"
    cfg.consider("num_key_value_heads")     # MLA caches one latent per token; KV heads do not apply
    indexer = None
    if cfg.has("index_topk"):
        # V3.2-Exp inference/model.py: indexer keys are FP8 with one FP32 scale per 128 dims.
        indexer = Indexer(num_heads=cfg.integer("index_n_heads", block="the DSA indexer"),
                          head_dim=cfg.integer("index_head_dim", block="the DSA indexer"),
                          topk=cfg.integer("index_topk"), key_dtype=Dtype.fp8)
    q_lora = cfg.integer("q_lora_rank") if cfg.has("q_lora_rank") else None
    return MlaAttention(num_heads=cfg.integer("num_attention_heads", block=blk), q_lora_rank=q_lora,
                        kv_lora_rank=cfg.integer("kv_lora_rank", block=blk),
                        qk_nope_head_dim=cfg.integer("qk_nope_head_dim", block=blk),
                        qk_rope_head_dim=cfg.integer("qk_rope_head_dim", block=blk),
                        v_head_dim=cfg.integer("v_head_dim", block=blk), indexer=indexer)


def _linear(cfg: ConfigFields, h: int) -> LinearAttention:
    if cfg.has("linear_num_value_heads"):
        blk = "linear-attention layers"
        return LinearAttention(
            num_key_heads=cfg.integer("linear_num_key_heads", block=blk),
            num_value_heads=cfg.integer("linear_num_value_heads", block=blk),
            key_head_dim=cfg.integer("linear_key_head_dim", block=blk),
            value_head_dim=cfg.integer("linear_value_head_dim", block=blk),
            conv_kernel=cfg.integer("linear_conv_kernel_dim", default=4),
            # Gated DeltaNet kernels (fla, vLLM) accumulate the state in FP32
            state_dtype=recurrent_state_dtype(cfg, Dtype.fp32))
    if cfg.model_type.startswith(("minimax", "MiniMax")):
        heads = cfg.integer("num_attention_heads")
        d = cfg.integer("head_dim", default=h // heads)
        # vLLM keeps the lightning state in the model dtype (MambaStateDtypeCalculator:
        # "fp32 state for minimax is not yet supported")
        return LinearAttention(form="lightning", num_key_heads=heads, num_value_heads=heads,
                               key_head_dim=d, value_head_dim=d, conv_kernel=1, state_dtype=Dtype.bf16)
    raise cfg.error("linear-attention layers need linear_num_key_heads, linear_num_value_heads, "
                    "linear_key_head_dim, linear_value_head_dim",
                    hint="this architecture is not supported yet; describe it as a model TOML")


def recurrent_state_dtype(cfg: ConfigFields, default: Dtype) -> Dtype:
    """Recurrent-state format: the config's cache dtype when it names one (Nemotron 3, Qwen 3.5),
    else `default`."""
    key = cfg.first_key("mamba_ssm_cache_dtype", "mamba_ssm_dtype")
    names = {"float32": Dtype.fp32, "bfloat16": Dtype.bf16, "float16": Dtype.fp16}
    if key is None:
        return default
    name = cfg.text(key)
    if name not in names:
        raise cfg.error(f"expected one of {', '.join(names)}, got {json.dumps(name)}", key)
    return names[name]


def _mamba(cfg: ConfigFields, h: int) -> MambaMixer:
    # vLLM's --mamba-ssm-cache-dtype auto: the model dtype, unless the config names one
    state_dtype = recurrent_state_dtype(cfg, Dtype.bf16)
    conv_bias = cfg.flag("use_conv_bias", "mamba_conv_bias", default=True)
    proj_bias = cfg.flag("mamba_proj_bias", "use_bias", default=False)
    blk = "Mamba layers"
    heads_key = cfg.first_key("mamba_num_heads", "mamba_n_heads")
    if heads_key is not None:           # Mamba-2: Nemotron-H, Granite-4.0-H, Falcon-H1
        cfg.consider("expand", "mamba_expand")   # the inner width is heads x head_dim (transformers NemotronH)
        return MambaMixer(version=2, num_heads=cfg.integer(heads_key),
                          head_dim=cfg.integer("mamba_head_dim", "mamba_d_head", block=blk),
                          state_size=cfg.integer("ssm_state_size", "mamba_d_state", block=blk),
                          n_groups=cfg.integer("n_groups", "mamba_n_groups", default=1),
                          conv_kernel=cfg.integer("conv_kernel", "mamba_d_conv", default=4),
                          conv_bias=conv_bias, proj_bias=proj_bias, state_dtype=state_dtype)
    if cfg.has("mamba_expand") or cfg.has("mamba_d_state"):   # Mamba-1: Jamba
        inner = cfg.integer("mamba_expand", default=2) * h
        rank = cfg.raw("mamba_dt_rank")
        dt_rank = math.ceil(h / 16) if rank in (None, "auto") else cfg.check_int(rank, "mamba_dt_rank")
        return MambaMixer(version=1, num_heads=inner, head_dim=1, state_size=cfg.integer("mamba_d_state", block=blk),
                          conv_kernel=cfg.integer("mamba_d_conv", default=4), dt_rank=dt_rank,
                          conv_bias=conv_bias, proj_bias=proj_bias, inner_norms=cfg.model_type == "jamba",
                          state_dtype=state_dtype)
    raise cfg.error("Mamba layers need mamba_num_heads/mamba_head_dim/ssm_state_size (Mamba-2) or "
                    "mamba_expand/mamba_d_state (Mamba-1)",
                    hint="this architecture is not supported yet; describe it as a model TOML")
