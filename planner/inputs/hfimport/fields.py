"""Typed, recorded access to a config's fields, the architecture defaults behind them, and the
report of what an import used, assumed and left out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from planner.errors import InputError

FAMILY_HINTS = {"deepseek": "deepseek", "kimi": "moonshot", "llama": "llama", "qwen": "qwen",
                "mixtral": "mistral", "mistral": "mistral", "gpt_oss": "openai", "gemma": "google",
                "nemotron": "nvidia", "jamba": "ai21", "minimax": "minimax", "olmo": "allenai",
                "arctic": "snowflake", "hunyuan": "tencent", "bailing": "inclusionai", "phi": "microsoft",
                "granite": "ibm", "glm": "zai", "ernie": "baidu", "grok": "xai"}

# Defaults of the transformers config classes for fields a published config may leave out (the
# class fills them in when the model loads, so they are what the checkpoint was trained with).
# Sources: transformers configuration_gemma3.py (Gemma3TextConfig), configuration_gemma2.py,
# configuration_gemma.py, configuration_llama4.py (Llama4TextConfig).
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262208, "sliding_window_pattern": 6, "max_position_embeddings": 131072,
                    "tie_word_embeddings": True, "sliding_window": 4096, "head_dim": 256},
    "gemma2": {"sliding_window_pattern": 2, "tie_word_embeddings": True},
    "gemma": {"tie_word_embeddings": True},
    "llama4_text": {"attention_chunk_size": 8192, "interleave_moe_layer_step": 1},
}
# Architectures whose feed-forward blocks are up/down only (no gate), named by their activation.
UNGATED_ACTIVATIONS = {"relu2", "squared_relu", "gelu_new", "gelu_fast"}
UNGATED_MODEL_TYPES = {"nemotron_h", "nemotron", "starcoder2", "gpt2", "gpt_neox", "gpt_bigcode", "phi", "falcon"}
# Architectures with q/k/v biases that their configs do not state (transformers Qwen2Attention).
QKV_BIAS_MODEL_TYPES = ("qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl")
# Fields that never change a sizing answer: token ids, training and numerics settings, tokenizer
# and vision-tower details. Reported as "not needed", apart from fields we do not recognise.
IRRELEVANT = re.compile(
    r"(_token_id|_token_index|_id|_ids|dropout|_eps|epsilon|init|initializer_range|rope|rotary|_theta|"
    r"^architectures$|^auto_map$|^torch_dtype$|^dtype$|^transformers_version$|^use_cache$|^model_type$|"
    r"^hidden_act$|_act$|aux_loss|jitter|router_logits|^vision|^text_config$|^_name_or_path$|"
    r"^pretraining_tp$|^output_|^return_|^tie_|^norm_|norm_topk|scaling_factor|multiplier|^attn_logit|"
    r"^final_logit|softcapping|^query_pre_attn_scalar$|^mm_|^image_|^boi_|^eoi_|^num_logits_to_keep$|"
    r"^chunk_size$|^time_step|^residual_in_fp32$|^rescale_prenorm_residual$|^use_mamba_kernels$|"
    r"^layernorm_|^postnorm$|capacity_factor|token_dropping|^moe_min_capacity$|^n_group$|^topk_group$|"
    r"^topk_method$|^scoring_func$|^max_window_layers$|^use_sliding_window$|^attention_bias$|^mlp_bias$|"
    r"^routed_scaling_factor$|^max_attn_value$|^is_decoder$|^bias$|^use_bias$|^qkv_bias$|^anyres_|^vit_|"
    r"^im_|^video_|^text_|^num_media_embeds$|^org_vocab_size$|^skip_cls_token$|^position_embedding_|^xdrope|"
    r"^use_rotary_pos_emb$|^moe_drop_tokens$|^moe_random_routing|^group_limited_greedy$|^use_bidirectional)")
# Keys every transformers PretrainedConfig serialises (generation and task settings) when a config
# is saved in full, as Kimi-K2.5's text_config is.
PRETRAINED_CONFIG_KEYS = frozenset((
    "add_cross_attention", "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "decoder_start_token_id", "diversity_penalty", "do_sample", "early_stopping",
    "encoder_no_repeat_ngram_size", "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id",
    "forced_eos_token_id", "id2label", "is_encoder_decoder", "label2id", "length_penalty", "max_length",
    "min_length", "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences",
    "output_attentions", "output_hidden_states", "output_scores", "prefix", "problem_type", "pruned_heads",
    "remove_invalid_values", "repetition_penalty", "return_dict", "return_dict_in_generate", "sep_token_id",
    "suppress_tokens", "task_specific_params", "temperature", "tf_legacy_loss", "tie_encoder_decoder",
    "tokenizer_class", "top_k", "top_p", "torchscript", "typical_p", "use_bfloat16", "ep_size", "seq_aux",
    "ignore_index", "clip_qkv", "embd_pdrop", "resid_pdrop", "original_max_position_embeddings",
    "max_sequence_length", "swiglu_limit", "hc_sinkhorn_iters", "enable_expert_tensor_parallelism",
    "shared_moe_mode", "mamba_hidden_act", "use_routing_bias", "qk_norm_type", "moe_shared_expert_overlap",
    "mtp_use_dedicated_embeddings", "hidden_activation", "vocab_size_per_layer_input"))
# Fields that change weight shapes, the KV cache or the layer mix. One left unread by the import
# is refused by name rather than silently ignored (a silent 2x miscount is the worst outcome).
STRUCTURAL = re.compile(r"(pattern|layer_types|_layers?$|swa_|global_|latent|k_eq_v|double_wide|per_layer|"
                        r"interleave|_period|_offset|cla|mtp|nextn|expert|moe|head_dim|heads|^kv_|lora|window|"
                        r"sparse|dense|hybrid|mamba|ssm|linear|conv|state|^num_|_size$)")
MIXER_NAMES = {"full_attention": "full", "attention": "full", "global": "full", "global_attention": "full",
               "sliding_attention": "sliding", "local": "sliding", "local_attention": "sliding",
               "chunked_attention": "sliding", "linear_attention": "linear", "mamba": "mamba", "mamba2": "mamba"}


@dataclass
class ImportReport:
    """What an import read: fields used, fields filled from the architecture's defaults, fields
    left out (not needed for sizing, or not recognised)."""

    source: str
    model_type: str
    used: list[str] = field(default_factory=list)
    assumed: dict[str, Any] = field(default_factory=dict)
    not_needed: list[str] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "model_type": self.model_type, "used": self.used,
                "assumed": self.assumed, "not_needed": self.not_needed, "unrecognised": self.unrecognised}


class ConfigFields:
    """Typed field access that records what was read, for the report and for one clear error."""

    def __init__(self, data: dict[str, Any], source: str, model_type: str) -> None:
        self.data, self.source, self.model_type = data, source, model_type
        self.defaults = ARCH_DEFAULTS.get(model_type, {})
        self.used: set[str] = set()
        self.assumed: dict[str, Any] = {}

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> InputError:
        return InputError(f"model_type '{self.model_type}': {message}", source=self.source, field=key, hint=hint)

    def raw(self, key: str) -> Any:
        """The value (None when absent or null), falling back to the architecture default."""
        value = self.data.get(key)
        if value is not None:
            self.used.add(key)
            return value
        if key in self.defaults:
            self.assumed[key] = self.defaults[key]
            return self.defaults[key]
        return None

    def has(self, key: str) -> bool:
        return self.raw(key) is not None

    def consider(self, *keys: str) -> None:
        """Mark fields as read that the import weighed and found not to apply (an MoE model's
        dense width when no layer is dense, a window that use_sliding_window switches off)."""
        self.used.update(k for k in keys if k in self.data)

    def first_key(self, *keys: str, agree: bool = False) -> str | None:
        """The first of `keys` present. With `agree`, the keys are names of one field (gpt-oss has
        both num_experts_per_tok and experts_per_token), and the others, when present, must agree."""
        present = [k for k in keys if self.has(k)]
        if not agree:
            return present[0] if present else None
        for other in present[1:]:
            if self.data.get(other) != self.data.get(present[0]) and other in self.data:
                raise self.error(f"{other} = {json.dumps(self.data[other])[:40]} contradicts {present[0]} = "
                                 f"{json.dumps(self.data[present[0]])[:40]}", other)
        return present[0] if present else None

    def integer(self, *keys: str, default: int | None = None, minimum: int = 1, block: str = "") -> int:
        """The first of `keys` present, as an integer >= minimum; `default` when none is present;
        an error naming the keys when none is present and there is no default."""
        key = self.first_key(*keys)
        if key is None:
            if default is not None:
                return default
            raise self.error(f"{block or 'the model'} needs {' or '.join(keys)}",
                             hint="this architecture is not supported yet; describe it as a model TOML")
        return self.check_int(self.raw(key), key, minimum)

    def check_int(self, value: Any, key: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {json.dumps(value)}", key)
        if value < minimum:
            raise self.error(f"expected an integer >= {minimum}, got {value}", key)
        return value

    def ints(self, key: str, minimum: int = 0) -> list[int]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.error(f"expected a list of integers, got {json.dumps(value)}", key)
        return [self.check_int(v, key, minimum) for v in value]

    def uniform(self, key: str, minimum: int = 1) -> int:
        """An integer, or a per-layer list whose entries are all equal (Hunyuan's moe_topk)."""
        value = self.raw(key)
        if isinstance(value, list):
            values = set(self.ints(key, minimum))
            if len(values) != 1:
                raise self.error(f"per-layer values {sorted(values)} differ; planner models one value per model",
                                 key, hint="describe the model as a TOML file")
            return values.pop()
        return self.check_int(value, key, minimum)

    def flag(self, *keys: str, default: bool = False) -> bool:
        key = self.first_key(*keys)
        if key is None:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {json.dumps(value)}", key)
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {json.dumps(value)}", key)
        return value


def _not_needed(key: str) -> bool:
    return key in PRETRAINED_CONFIG_KEYS or bool(IRRELEVANT.search(key))


def _unset(value: Any) -> bool:
    """A value that leaves the architecture as if the field were absent."""
    return value is None or value is False or value == 0 or value == [] or value == "" or value == {}


def refuse_unread_structure(cfg: ConfigFields) -> None:
    """A field that would change the model's shapes but that the import did not read is an error."""
    for key in sorted(cfg.data):
        if key in cfg.used or _not_needed(key) or _unset(cfg.data[key]) or not STRUCTURAL.search(key):
            continue
        raise cfg.error(f"{key} = {json.dumps(cfg.data[key])[:60]} changes the architecture in a way planner "
                        "does not model yet", key, hint="describe the model as a TOML file")


def report(cfg: ConfigFields, data: dict[str, Any], source: str) -> ImportReport:
    left = sorted(k for k in data if k not in cfg.used)
    return ImportReport(source=source, model_type=cfg.model_type, used=sorted(cfg.used), assumed=dict(cfg.assumed),
                        not_needed=[k for k in left if _not_needed(k)],
                        unrecognised=[k for k in left if not _not_needed(k)])
