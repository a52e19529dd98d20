"""Feed-forward blocks: dense MLPs, MoE (routed and shared experts, LatentMoE) and which layer
has which."""

from __future__ import annotations

from planner.inputs.hfimport.fields import UNGATED_ACTIVATIONS, UNGATED_MODEL_TYPES, ConfigFields
from planner.inputs.hfimport.layers import per_layer
from planner.inputs.model import Moe


def gated(cfg: ConfigFields) -> bool:
    """Feed-forward blocks are gated (SwiGLU/GeGLU: gate, up, down) unless the architecture or its
    activation says up/down only (Nemotron-H relu2)."""
    act = cfg.text("mlp_hidden_act", cfg.text("hidden_act", cfg.text("hidden_activation", "silu")))
    return act not in UNGATED_ACTIVATIONS and cfg.model_type not in UNGATED_MODEL_TYPES


def moe_block(cfg: ConfigFields) -> Moe | None:
    experts_key = cfg.first_key("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts")
    if experts_key is None or cfg.raw(experts_key) == 0 or cfg.data.get("enable_moe_block") is False:
        return None
    experts = cfg.integer(experts_key)
    k_key = cfg.first_key("num_experts_per_tok", "experts_per_token", "moe_topk", "moe_k", "top_k_experts",
                          agree=True)
    if k_key is None:
        raise cfg.error(f"MoE routing needs num_experts_per_tok ({experts_key} is set)")
    k = cfg.uniform(k_key)
    width_key = cfg.first_key("moe_intermediate_size", "intermediate_size")
    if width_key is None:
        raise cfg.error("MoE experts need moe_intermediate_size")
    width = cfg.uniform(width_key)
    if k > experts:
        raise cfg.error(f"{k_key} {k} exceeds {experts_key} {experts}", k_key)
    shared_count, shared_width = _shared(cfg, width)
    gpt_oss = "gpt_oss" in cfg.model_type
    return Moe(num_experts=experts, experts_per_token=k, expert_intermediate_size=width,
               num_shared_experts=shared_count, shared_intermediate_size=shared_width, gated=gated(cfg),
               latent_size=cfg.integer("moe_latent_size") if cfg.has("moe_latent_size") else None,
               expert_bias=gpt_oss, router_bias=gpt_oss or cfg.text("topk_method") == "noaux_tc",
               hash_layers=cfg.integer("num_hash_layers", default=0, minimum=0))


def _shared(cfg: ConfigFields, expert_width: int) -> tuple[int, int | None]:
    """(shared experts, their total width or None for count x expert width); (0, None) for none.
    A width of 0 (Qwen3-Coder, MiniMax) means no shared expert."""
    count_key = cfg.first_key("n_shared_experts", "num_shared_experts", "num_shared_expert", "moe_num_shared_experts")
    count = cfg.uniform(count_key, minimum=0) if count_key else 0
    width_key = cfg.first_key("shared_expert_intermediate_size", "moe_shared_expert_intermediate_size",
                              "shared_intermediate_size")
    if width_key is not None:
        width = cfg.uniform(width_key, minimum=0)
        return (max(count, 1), width) if width else (0, None)
    if cfg.flag("use_mixed_mlp_moe"):
        # Hunyuan: a dense "shared MLP" of intermediate_size x num_shared_expert beside the experts
        shared = cfg.integer("intermediate_size") * max(count, 1)
        return max(count, 1), shared
    if cfg.model_type.startswith("llama4"):
        return 1, expert_width      # Llama 4: one shared expert as wide as a routed one
    if cfg.flag("enable_moe_block"):
        # Gemma 4: every layer keeps its dense MLP beside the experts, a shared expert in effect
        return 1, cfg.integer("intermediate_size")
    return count, None


def layer_ffn_kinds(cfg: ConfigFields, L: int, moe: Moe | None) -> tuple[str, ...]:
    """Feed-forward block of every layer: dense, moe, dense+moe (Arctic) or none (Nemotron-H)."""
    if cfg.has("hybrid_override_pattern"):
        kinds = {"M": "none", "*": "none", "-": "dense", "E": "moe"}
        out = tuple(kinds[c] for c in cfg.text("hybrid_override_pattern")[:L])
        if "moe" in out and moe is None:
            raise cfg.error("hybrid_override_pattern has MoE layers (E) but no expert count", "hybrid_override_pattern")
        return out
    if moe is None:
        return ("dense",) * L
    is_moe: list[bool]
    if cfg.has("moe_layers"):
        listed = set(cfg.ints("moe_layers"))
        is_moe = [i in listed for i in range(L)]
    elif cfg.has("interleave_moe_layer_step"):
        # Llama 4: moe_layers = range(step - 1, L, step) (transformers Llama4TextConfig)
        step = cfg.integer("interleave_moe_layer_step")
        is_moe = [(i + 1) % step == 0 for i in range(L)]
    elif cfg.has("expert_layer_period"):
        period = cfg.integer("expert_layer_period")
        offset = cfg.integer("expert_layer_offset", default=0, minimum=0)
        is_moe = [i % period == offset for i in range(L)]
    elif cfg.has("moe_layer_freq") and isinstance(cfg.raw("moe_layer_freq"), list):
        is_moe = [bool(f) for f in per_layer(cfg, "moe_layer_freq", cfg.ints("moe_layer_freq"), L)]
    else:
        # DeepSeek (first_k_dense_replace, moe_layer_freq: MoE where i % freq == 0), Qwen MoE
        # (mlp_only_layers, decoder_sparse_step: MoE where (i + 1) % step == 0), Arctic
        # (moe_layer_frequency), Hunyuan (moe_layer_num_skipped).
        first = cfg.integer("first_k_dense_replace", "moe_layer_num_skipped", "moe_layer_start_index",
                        default=0, minimum=0)
        freq = cfg.integer("moe_layer_freq", default=1)
        step = cfg.integer("decoder_sparse_step", "moe_layer_frequency", "moe_layer_interval", default=1)
        dense_only = set(cfg.ints("mlp_only_layers")) if cfg.has("mlp_only_layers") else set()
        is_moe = [i >= first and i % freq == 0 and (i + 1) % step == 0 and i not in dense_only for i in range(L)]
    if not any(is_moe):
        raise cfg.error("the MoE layer description leaves no MoE layer")
    # Arctic: with use_residual, a MoE layer keeps a dense MLP beside its experts
    both = cfg.model_type == "arctic" and cfg.flag("use_residual")
    return tuple(("dense+moe" if both else "moe") if m else "dense" for m in is_moe)
