"""Import a Hugging Face `config.json` (a file, a folder holding one, or a hub id in the local
cache) as a `Model`, driven by the config's own per-layer description.

The config's fields decide the building blocks, `model_type` is only a hint:
- token mixer per layer: `layer_types`, `hybrid_override_pattern` (Nemotron-H), `layers_block_type`,
  `attn_type_list` (MiniMax), `attn_layer_period/offset` (Jamba), `full_attention_interval`
  (Qwen3-Next), `sliding_window_pattern` (Gemma 2/3), `no_rope_layers` + `attention_chunk_size`
  (Llama 4), `max_window_layers` (Qwen 2), a plain `sliding_window`;
- attention kind: `compress_ratios` -> DeepSeek-V4 compressed attention, `kv_lora_rank` -> MLA (with a
  DSA indexer when `index_topk` is set), otherwise GQA/MHA;
- recurrent layers: Mamba-1/2 and linear attention (Gated DeltaNet, MiniMax lightning) are modelled;
- feed-forward block per layer: `hybrid_override_pattern`, `moe_layers` / `interleave_moe_layer_step`
  (Llama 4), `mlp_only_layers` + `decoder_sparse_step` (Qwen MoE), `moe_layer_freq` as int or list and
  `first_k_dense_replace` (DeepSeek), `expert_layer_period/offset` (Jamba), `moe_layer_frequency` +
  `use_residual` (Arctic), `moe_layer_num_skipped` (Hunyuan);
- precisions from `quantization_config` (fp8, mxfp4, compressed-tensors, ModelOpt, GPTQ/AWQ) and a
  sibling `hf_quant_config.json` (ModelOpt).
Multimodal wrappers are read through their `text_config`. Fields a config leaves out take the
defaults of its transformers config class (listed as assumed); every field is type-checked (booleans
are not integers, sizes are positive integers). Anything we cannot model is one `InputError` naming
the field, never a guess. The `ImportReport` says which fields were used, assumed and ignored.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError
from planner.inputs.model import (
    CompressedAttention,
    DenseMlp,
    GqaAttention,
    Indexer,
    LinearAttention,
    MambaMixer,
    MlaAttention,
    Model,
    Moe,
    Precision,
)
from planner.precision import Dtype

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
    left out (not needed for sizing, or not recognised), and notes on what was assumed."""

    source: str
    model_type: str
    used: list[str] = field(default_factory=list)
    assumed: dict[str, Any] = field(default_factory=dict)
    not_needed: list[str] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "model_type": self.model_type, "used": self.used,
                "assumed": self.assumed, "not_needed": self.not_needed, "unrecognised": self.unrecognised,
                "notes": self.notes}


class _Config:
    """Typed field access that records what was read, for the report and for one clear error."""

    def __init__(self, data: dict[str, Any], source: str, model_type: str) -> None:
        self.data, self.source, self.model_type = data, source, model_type
        self.defaults = ARCH_DEFAULTS.get(model_type, {})
        self.used: set[str] = set()
        self.assumed: dict[str, Any] = {}
        self.notes: list[str] = []

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

    def int(self, *keys: str, default: int | None = None, minimum: int = 1, block: str = "") -> int:
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

    def bool(self, *keys: str, default: bool = False) -> bool:
        key = self.first_key(*keys)
        if key is None:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {json.dumps(value)}", key)
        return value

    def str(self, key: str, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {json.dumps(value)}", key)
        return value


# ---- reading -----------------------------------------------------------------------------------

def hub_cache_root() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub finds it (HF_HUB_CACHE, HF_HOME/hub,
    XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def is_hub_id(spec: str) -> bool:
    """ORG/NAME that is not a file: a Hugging Face repository id."""
    return bool(HUB_ID.match(spec)) and not Path(spec).exists() and Path(spec).suffix not in (".toml", ".json")


def hub_config_path(repo_id: str) -> Path:
    """config.json of a hub repository in the local cache: the snapshot refs/main points at, else
    the newest snapshot with a config.json. Never the network."""
    org, name = repo_id.split("/", 1)
    repo = hub_cache_root() / f"models--{org}--{name}"
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    if ref.is_file():
        pinned = snapshots / ref.read_text(encoding="utf-8").strip() / "config.json"
        if pinned.is_file():
            return pinned
    found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if snapshots.is_dir() else []
    if not found:
        raise InputError(f"not in the local Hugging Face cache (looked for {snapshots}/*/config.json)",
                         source=repo_id, hint=f"download it first, e.g. `huggingface-cli download {repo_id} "
                                             "config.json`; planner never uses the network")
    return found[0]


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """Read config.json (and hf_quant_config.json beside it). Returns (config, quant, source)."""
    config_path = path / "config.json" if path.is_dir() else path
    if not config_path.is_file():
        raise InputError("no config.json here", source=str(path), hint="pass a config.json or its folder")
    data = _read_json(config_path)
    quant_path = config_path.parent / "hf_quant_config.json"
    quant = _read_json(quant_path) if quant_path.is_file() else None
    return data, quant, str(config_path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                         source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc.__class__.__name__}", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object at the top level", source=str(path))
    return data


def _text_config(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The language model's fields: the `text_config` of a multimodal wrapper (Gemma 3, Llama 4,
    Mistral 3 ...) with the wrapper's quantization and tying, else the config itself."""
    outer_type = data.get("model_type")
    text = data.get("text_config")
    if isinstance(text, dict) and ("hidden_size" not in data or "num_hidden_layers" in text):
        merged = {k: v for k, v in data.items() if k in ("quantization_config", "tie_word_embeddings")}
        merged.update(text)
        inner = text.get("model_type")
        # Gemma 3's text_config is gemma3_text; a wrapper without an inner type names the text model
        model_type = inner if isinstance(inner, str) else f"{outer_type}_text"
        return merged, model_type
    if outer_type is None and "num_experts" in data and "attn_output_multiplier" in data:
        return data, "grok-1"       # hpcai-tech/grok-1 ships without a model_type
    return data, str(outer_type if outer_type is not None else "unknown")


# ---- import ------------------------------------------------------------------------------------

def import_hf(path: str | Path, name: str | None = None) -> Model:
    return import_hf_report(path, name)[0]


def import_hf_report(path: str | Path, name: str | None = None) -> tuple[Model, ImportReport]:
    """The model a config.json describes, and what the import read to build it."""
    path = Path(path)
    outer, quant, source = read_config(path)
    data, model_type = _text_config(outer)
    cfg = _Config(data, source, model_type)
    if name is None:
        name = (path.name if path.is_dir() else path.stem).lower()
    h = cfg.int("hidden_size", block="the decoder")
    L = cfg.int("num_hidden_layers", "n_layer", "num_layers", block="the decoder")
    vocab = cfg.int("vocab_size", block="the decoder")
    for flag in ("use_cla", "use_double_wide_mlp", "add_classification_head", "use_mla"):
        if cfg.bool(flag):
            raise cfg.error(f"{flag} is not modelled yet", flag, hint="describe the model as a TOML file")
    cfg.consider("cla_share_factor", "dense_list", "class_num", "pool_type")   # only with the flags above
    for count in ("num_kv_shared_layers", "hidden_size_per_layer_input"):   # Gemma 3n/4 E2B/E4B
        if cfg.int(count, default=0, minimum=0):
            raise cfg.error(f"{count} (KV shared across layers, per-layer inputs) is not modelled yet", count,
                            hint="describe the model as a TOML file")
    mixers = _mixers(cfg, L)
    attention = _attention(cfg, h, L, mixers)
    moe = _moe(cfg)
    ffn = _ffn_types(cfg, L, moe)
    mlp = None
    if any("dense" in k for k in ffn):
        if model_type == "arctic":
            # Arctic's residual MLP is hidden_size wide (modeling_arctic.py: ffn_dim = hidden_size
            # if is_residual_mlp), its experts intermediate_size wide
            width = h
        else:
            width = cfg.int("intermediate_size_mlp", "intermediate_size", "ffn_hidden_size", block="the dense MLP")
        mlp = DenseMlp(intermediate_size=width, bias=cfg.bool("mlp_bias"), gated=_gated(cfg))
    elif moe is not None:
        cfg.consider("intermediate_size", "intermediate_size_mlp")   # no dense layer uses them
    ffn_types: tuple[str, ...] | None = ffn
    if moe is not None:
        leading = next((i for i, k in enumerate(ffn) if k != "dense"), 0)
        if all(k == "moe" for k in ffn[leading:]) and all(k == "dense" for k in ffn[:leading]):
            moe = moe.model_copy(update={"first_dense_layers": leading})
            ffn_types = None
    elif all(k == "dense" for k in ffn):
        ffn_types = None
    family = next((v for k, v in FAMILY_HINTS.items() if k in model_type), model_type)
    tie = cfg.bool("tie_word_embeddings", "tie_word_embedding", default=False)
    max_context = cfg.int("max_position_embeddings", "max_sequence_length", "seq_length", default=4096)
    try:
        model = Model(
            name=name, description=f"imported from {Path(source).name} (model_type {model_type})",
            family=family, hidden_size=h, num_layers=L, vocab_size=vocab, tie_word_embeddings=tie,
            max_context=max_context, attention=attention, mlp=mlp, moe=moe, ffn_types=ffn_types,
            hc_mult=cfg.int("hc_mult", default=1),
            mtp_layers=_mtp_layers(cfg),
            precision=_precision(cfg, quant, attention, moe), sources=(source,))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise cfg.error(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    _refuse_unread_structure(cfg)
    return model, _report(cfg, data, source)


def _gated(cfg: _Config) -> bool:
    """Feed-forward blocks are gated (SwiGLU/GeGLU: gate, up, down) unless the architecture or its
    activation says up/down only (Nemotron-H relu2)."""
    act = cfg.str("mlp_hidden_act", cfg.str("hidden_act", cfg.str("hidden_activation", "silu")))
    return act not in UNGATED_ACTIVATIONS and cfg.model_type not in UNGATED_MODEL_TYPES


def _mtp_layers(cfg: _Config) -> int:
    """Next-token prediction modules: DeepSeek's num_nextn_predict_layers, Qwen 3.5's
    mtp_num_hidden_layers, MiniMax's num_mtp_modules (when use_mtp)."""
    if cfg.has("num_mtp_modules") and not cfg.bool("use_mtp"):
        cfg.used.add("num_mtp_modules")
        return 0
    layers = cfg.int("num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_modules", default=0, minimum=0)
    if layers:
        # the module is one decoder layer of attention and the model's last feed-forward kind
        # (Nemotron 3 Super: "*E"; MiniMax: one transformer layer per module)
        cfg.consider("mtp_hybrid_override_pattern", "mtp_transformer_layers")
    return layers


def _not_needed(key: str) -> bool:
    return key in PRETRAINED_CONFIG_KEYS or bool(IRRELEVANT.search(key))


def _unset(value: Any) -> bool:
    """A value that leaves the architecture as if the field were absent."""
    return value is None or value is False or value == 0 or value == [] or value == "" or value == {}


def _refuse_unread_structure(cfg: _Config) -> None:
    """A field that would change the model's shapes but that the import did not read is an error."""
    for key in sorted(cfg.data):
        if key in cfg.used or _not_needed(key) or _unset(cfg.data[key]) or not STRUCTURAL.search(key):
            continue
        raise cfg.error(f"{key} = {json.dumps(cfg.data[key])[:60]} changes the architecture in a way planner "
                        "does not model yet", key, hint="describe the model as a TOML file")


def _report(cfg: _Config, data: dict[str, Any], source: str) -> ImportReport:
    left = sorted(k for k in data if k not in cfg.used)
    return ImportReport(source=source, model_type=cfg.model_type, used=sorted(cfg.used), assumed=dict(cfg.assumed),
                        not_needed=[k for k in left if _not_needed(k)],
                        unrecognised=[k for k in left if not _not_needed(k)], notes=list(cfg.notes))


# ---- token mixers --------------------------------------------------------------------------------

def _per_layer(cfg: _Config, key: str, values: list[Any], L: int) -> list[Any]:
    if len(values) < L:
        raise cfg.error(f"has {len(values)} entries for {L} layers", key)
    return values[:L]     # trailing entries describe MTP layers (DeepSeek-V4) or are ignored


def _mixers(cfg: _Config, L: int) -> tuple[str, ...] | None:
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
        return tuple(MIXER_NAMES[t] for t in _per_layer(cfg, "layer_types", raw, L))
    if cfg.has("hybrid_override_pattern"):
        pattern = cfg.str("hybrid_override_pattern")
        odd = sorted(set(pattern) - set("M*-E"))
        if odd:
            raise cfg.error(f"hybrid_override_pattern symbols {''.join(odd)} are not modelled "
                            "(M Mamba-2, * attention, - MLP, E MoE)", "hybrid_override_pattern")
        kinds = {"M": "mamba", "*": "full", "-": "none", "E": "none"}
        return tuple(kinds[c] for c in _per_layer(cfg, "hybrid_override_pattern", list(pattern), L))
    if cfg.has("layers_block_type"):
        raw = cfg.raw("layers_block_type")
        names = {"attention": "full", "mamba": "mamba"}
        odd = sorted({t for t in raw if t not in names}) if isinstance(raw, list) else [json.dumps(raw)]
        if odd:
            raise cfg.error(f"layers_block_type {', '.join(map(str, odd))} is not modelled yet "
                            "(attention and mamba are)", "layers_block_type")
        return tuple(names[t] for t in _per_layer(cfg, "layers_block_type", raw, L))
    if cfg.has("attn_type_list"):
        # MiniMax-01/M1: 1 = softmax attention, 0 = lightning (linear) attention
        flags = cfg.ints("attn_type_list")
        return tuple("full" if f else "linear" for f in _per_layer(cfg, "attn_type_list", flags, L))
    if cfg.has("attn_layer_period"):
        # Jamba: attention where i % period == offset, Mamba elsewhere (transformers JambaConfig)
        period = cfg.int("attn_layer_period")
        offset = cfg.int("attn_layer_offset", default=0, minimum=0)
        return tuple("full" if i % period == offset else "mamba" for i in range(L))
    if cfg.has("full_attention_interval"):
        # Qwen3-Next: every n-th layer is full attention, the rest linear attention
        n = cfg.int("full_attention_interval")
        return tuple("full" if (i + 1) % n == 0 else "linear" for i in range(L))
    if _window(cfg) is None:
        return None
    if cfg.has("sliding_window_pattern"):
        # Gemma 2/3: every n-th layer is global, the others local (transformers Gemma3TextConfig)
        n = cfg.int("sliding_window_pattern")
        return tuple("full" if (i + 1) % n == 0 else "sliding" for i in range(L))
    if cfg.model_type.startswith("llama4") and cfg.has("attention_chunk_size"):
        # Llama 4: RoPE layers attend within chunks (at most attention_chunk_size tokens, held like a
        # window), NoPE layers (every 4th by default) attend globally (transformers Llama4TextConfig).
        rope = cfg.ints("no_rope_layers", minimum=0) if cfg.has("no_rope_layers") \
            else [int((i + 1) % 4 != 0) for i in range(L)]
        return tuple("sliding" if r else "full" for r in _per_layer(cfg, "no_rope_layers", rope, L))
    if cfg.has("max_window_layers") and cfg.data.get("use_sliding_window") is True:
        # Qwen 2: layers from max_window_layers on use the sliding window
        first = cfg.int("max_window_layers", minimum=0)
        return tuple("sliding" if i >= first else "full" for i in range(L))
    return ("sliding",) * L


def _window(cfg: _Config) -> int | None:
    """Tokens a sliding (or chunked) layer keeps, when the config uses windows at all."""
    if cfg.data.get("use_sliding_window") is False:
        cfg.consider("use_sliding_window", "sliding_window", "max_window_layers")
        return None
    if cfg.model_type.startswith("llama4") and cfg.has("attention_chunk_size"):
        return cfg.int("attention_chunk_size")
    if cfg.has("sliding_window"):
        return cfg.int("sliding_window")
    return None


def _attention(cfg: _Config, h: int, L: int, mixers: tuple[str, ...] | None):
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
    heads = cfg.int("num_attention_heads", "n_head", block="attention")
    kv_heads = cfg.int("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise cfg.error(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}",
                        "num_key_value_heads")
    head_dim = cfg.int("head_dim", "attention_head_dim", default=h // heads)
    mt = cfg.model_type
    types = mixers
    window = _window(cfg) if types is None or "sliding" in types else None
    if types is None:
        types = ("sliding",) * L if window else None
    linear = _linear(cfg, h) if types and "linear" in types else None
    mamba = _mamba(cfg, h) if types and "mamba" in types else None
    if types is not None and "sliding" in types and window is None:
        window = _window(cfg)
        if window is None:
            raise cfg.error("sliding layers need sliding_window", "sliding_window")
    if types is not None and set(types) <= {"full"} and cfg.model_type not in ("nemotron_h",):
        types = None
    return GqaAttention(
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        qkv_bias=cfg.bool("attention_bias", "qkv_bias", "use_qkv_bias") or mt.startswith(QKV_BIAS_MODEL_TYPES),
        o_bias=cfg.bool("attention_bias") and "gpt_oss" in mt,
        qk_norm=cfg.bool("use_qk_norm") or mt.startswith(("qwen3", "gemma3", "gemma4", "olmoe", "olmo2")),
        # Qwen3-Next/3.5 gate the attention output (gated attention): q_proj emits query and gate
        output_gate=cfg.bool("attn_output_gate", default=mt.startswith(("qwen3_next", "qwen3_5"))),
        sinks="gpt_oss" in mt,
        # Gemma 4: global layers have their own head dim and KV heads, and may share K as V
        full_head_dim=cfg.int("global_head_dim") if cfg.has("global_head_dim") else None,
        full_num_kv_heads=cfg.int("num_global_key_value_heads") if cfg.has("num_global_key_value_heads") else None,
        full_k_eq_v=cfg.bool("attention_k_eq_v"),
        sliding_window=window if types and "sliding" in types else None,
        layer_types=types, linear=linear, mamba=mamba)


def _compressed(cfg: _Config, L: int) -> CompressedAttention:
    blk = "compressed attention (compress_ratios)"
    cfg.consider("num_key_value_heads")     # one shared K=V entry per token
    ratios = tuple(_per_layer(cfg, "compress_ratios", cfg.ints("compress_ratios"), min(L, len(cfg.raw("compress_ratios")))))
    if len(ratios) < L:
        ratios = ratios + (0,) * (L - len(ratios))
    return CompressedAttention(
        num_heads=cfg.int("num_attention_heads", block=blk), head_dim=cfg.int("head_dim", block=blk),
        rope_dim=cfg.int("qk_rope_head_dim", default=64), q_lora_rank=cfg.int("q_lora_rank", block=blk),
        o_groups=cfg.int("o_groups", block=blk), o_lora_rank=cfg.int("o_lora_rank", block=blk),
        window=cfg.int("sliding_window", block=blk), compress_ratios=ratios,
        # V4 §5.2.1: the indexer QK path is cached and multiplied in FP4 (MXFP4 keys: 64 + 4 B).
        indexer=Indexer(num_heads=cfg.int("index_n_heads", block="the CSA indexer"),
                        head_dim=cfg.int("index_head_dim", block="the CSA indexer"),
                        topk=cfg.int("index_topk", block="the CSA indexer"), key_dtype=Dtype.mxfp4))


def _mla(cfg: _Config) -> MlaAttention:
    blk = "MLA attention"
    cfg.consider("num_key_value_heads")     # MLA caches one latent per token; KV heads do not apply
    indexer = None
    if cfg.has("index_topk"):
        # V3.2-Exp inference/model.py: indexer keys are FP8 with one FP32 scale per 128 dims.
        indexer = Indexer(num_heads=cfg.int("index_n_heads", block="the DSA indexer"),
                          head_dim=cfg.int("index_head_dim", block="the DSA indexer"),
                          topk=cfg.int("index_topk"), key_dtype=Dtype.fp8)
    q_lora = cfg.int("q_lora_rank") if cfg.has("q_lora_rank") else None
    return MlaAttention(num_heads=cfg.int("num_attention_heads", block=blk), q_lora_rank=q_lora,
                        kv_lora_rank=cfg.int("kv_lora_rank", block=blk),
                        qk_nope_head_dim=cfg.int("qk_nope_head_dim", block=blk),
                        qk_rope_head_dim=cfg.int("qk_rope_head_dim", block=blk),
                        v_head_dim=cfg.int("v_head_dim", block=blk), indexer=indexer)


def _linear(cfg: _Config, h: int) -> LinearAttention:
    if cfg.has("linear_num_value_heads"):
        blk = "linear-attention layers"
        return LinearAttention(
            num_key_heads=cfg.int("linear_num_key_heads", block=blk),
            num_value_heads=cfg.int("linear_num_value_heads", block=blk),
            key_head_dim=cfg.int("linear_key_head_dim", block=blk),
            value_head_dim=cfg.int("linear_value_head_dim", block=blk),
            conv_kernel=cfg.int("linear_conv_kernel_dim", default=4), state_dtype=_state_dtype(cfg))
    if cfg.model_type.startswith(("minimax", "MiniMax")):
        heads = cfg.int("num_attention_heads")
        d = cfg.int("head_dim", default=h // heads)
        return LinearAttention(form="lightning", num_key_heads=heads, num_value_heads=heads,
                               key_head_dim=d, value_head_dim=d, conv_kernel=1)
    raise cfg.error("linear-attention layers need linear_num_key_heads, linear_num_value_heads, "
                    "linear_key_head_dim, linear_value_head_dim",
                    hint="this architecture is not supported yet; describe it as a model TOML")


def _state_dtype(cfg: _Config) -> Dtype:
    """Recurrent-state format: the config's cache dtype (Nemotron-H, Qwen 3.5), else FP32."""
    key = cfg.first_key("mamba_ssm_cache_dtype", "mamba_ssm_dtype")
    names = {"float32": Dtype.fp32, "bfloat16": Dtype.bf16, "float16": Dtype.fp16}
    if key is None:
        return Dtype.fp32
    name = cfg.str(key)
    if name not in names:
        raise cfg.error(f"expected one of {', '.join(names)}, got {json.dumps(name)}", key)
    return names[name]


def _mamba(cfg: _Config, h: int) -> MambaMixer:
    state_dtype = _state_dtype(cfg)
    conv_bias = cfg.bool("use_conv_bias", "mamba_conv_bias", default=True)
    proj_bias = cfg.bool("mamba_proj_bias", "use_bias", default=False)
    blk = "Mamba layers"
    heads_key = cfg.first_key("mamba_num_heads", "mamba_n_heads")
    if heads_key is not None:           # Mamba-2: Nemotron-H, Granite-4.0-H, Falcon-H1
        cfg.consider("expand", "mamba_expand")   # the inner width is heads x head_dim (transformers NemotronH)
        return MambaMixer(version=2, num_heads=cfg.int(heads_key),
                          head_dim=cfg.int("mamba_head_dim", "mamba_d_head", block=blk),
                          state_size=cfg.int("ssm_state_size", "mamba_d_state", block=blk),
                          n_groups=cfg.int("n_groups", "mamba_n_groups", default=1),
                          conv_kernel=cfg.int("conv_kernel", "mamba_d_conv", default=4),
                          conv_bias=conv_bias, proj_bias=proj_bias, state_dtype=state_dtype)
    if cfg.has("mamba_expand") or cfg.has("mamba_d_state"):   # Mamba-1: Jamba
        inner = cfg.int("mamba_expand", default=2) * h
        rank = cfg.raw("mamba_dt_rank")
        dt_rank = math.ceil(h / 16) if rank in (None, "auto") else cfg.check_int(rank, "mamba_dt_rank")
        return MambaMixer(version=1, num_heads=inner, head_dim=1, state_size=cfg.int("mamba_d_state", block=blk),
                          conv_kernel=cfg.int("mamba_d_conv", default=4), dt_rank=dt_rank,
                          conv_bias=conv_bias, proj_bias=proj_bias, inner_norms=cfg.model_type == "jamba",
                          state_dtype=state_dtype)
    raise cfg.error("Mamba layers need mamba_num_heads/mamba_head_dim/ssm_state_size (Mamba-2) or "
                    "mamba_expand/mamba_d_state (Mamba-1)",
                    hint="this architecture is not supported yet; describe it as a model TOML")


# ---- feed-forward blocks ---------------------------------------------------------------------------

def _moe(cfg: _Config) -> Moe | None:
    experts_key = cfg.first_key("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts")
    if experts_key is None or cfg.raw(experts_key) == 0 or cfg.data.get("enable_moe_block") is False:
        return None
    experts = cfg.int(experts_key)
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
               num_shared_experts=shared_count, shared_intermediate_size=shared_width, gated=_gated(cfg),
               latent_size=cfg.int("moe_latent_size") if cfg.has("moe_latent_size") else None,
               expert_bias=gpt_oss, router_bias=gpt_oss or cfg.str("topk_method") == "noaux_tc",
               hash_layers=cfg.int("num_hash_layers", default=0, minimum=0))


def _shared(cfg: _Config, expert_width: int) -> tuple[int, int | None]:
    """(shared experts, their total width or None for count x expert width); (0, None) for none.
    A width of 0 (Qwen3-Coder, MiniMax) means no shared expert."""
    count_key = cfg.first_key("n_shared_experts", "num_shared_experts", "num_shared_expert", "moe_num_shared_experts")
    count = cfg.uniform(count_key, minimum=0) if count_key else 0
    width_key = cfg.first_key("shared_expert_intermediate_size", "moe_shared_expert_intermediate_size",
                              "shared_intermediate_size")
    if width_key is not None:
        width = cfg.uniform(width_key, minimum=0)
        return (max(count, 1), width) if width else (0, None)
    if cfg.bool("use_mixed_mlp_moe"):
        # Hunyuan: a dense "shared MLP" of intermediate_size x num_shared_expert beside the experts
        shared = cfg.int("intermediate_size") * max(count, 1)
        return max(count, 1), shared
    if cfg.model_type.startswith("llama4"):
        return 1, expert_width      # Llama 4: one shared expert as wide as a routed one
    if cfg.bool("enable_moe_block"):
        # Gemma 4: every layer keeps its dense MLP beside the experts, a shared expert in effect
        return 1, cfg.int("intermediate_size")
    return count, None


def _ffn_types(cfg: _Config, L: int, moe: Moe | None) -> tuple[str, ...]:
    """Feed-forward block of every layer: dense, moe, dense+moe (Arctic) or none (Nemotron-H)."""
    if cfg.has("hybrid_override_pattern"):
        kinds = {"M": "none", "*": "none", "-": "dense", "E": "moe"}
        out = tuple(kinds[c] for c in cfg.str("hybrid_override_pattern")[:L])
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
        step = cfg.int("interleave_moe_layer_step")
        is_moe = [(i + 1) % step == 0 for i in range(L)]
    elif cfg.has("expert_layer_period"):
        period = cfg.int("expert_layer_period")
        offset = cfg.int("expert_layer_offset", default=0, minimum=0)
        is_moe = [i % period == offset for i in range(L)]
    elif cfg.has("moe_layer_freq") and isinstance(cfg.raw("moe_layer_freq"), list):
        is_moe = [bool(f) for f in _per_layer(cfg, "moe_layer_freq", cfg.ints("moe_layer_freq"), L)]
    else:
        # DeepSeek (first_k_dense_replace, moe_layer_freq: MoE where i % freq == 0), Qwen MoE
        # (mlp_only_layers, decoder_sparse_step: MoE where (i + 1) % step == 0), Arctic
        # (moe_layer_frequency), Hunyuan (moe_layer_num_skipped).
        first = cfg.int("first_k_dense_replace", "moe_layer_num_skipped", "moe_layer_start_index",
                        default=0, minimum=0)
        freq = cfg.int("moe_layer_freq", default=1)
        step = cfg.int("decoder_sparse_step", "moe_layer_frequency", "moe_layer_interval", default=1)
        dense_only = set(cfg.ints("mlp_only_layers")) if cfg.has("mlp_only_layers") else set()
        is_moe = [i >= first and i % freq == 0 and (i + 1) % step == 0 and i not in dense_only for i in range(L)]
    if not any(is_moe):
        raise cfg.error("the MoE layer description leaves no MoE layer")
    # Arctic: with use_residual, a MoE layer keeps a dense MLP beside its experts
    both = cfg.model_type == "arctic" and cfg.bool("use_residual")
    return tuple(("dense+moe" if both else "moe") if m else "dense" for m in is_moe)


# ---- precisions ----------------------------------------------------------------------------------

def _precision(cfg: _Config, quant: dict[str, Any] | None, attention, moe: Moe | None) -> Precision:
    q = cfg.raw("quantization_config") or {}
    if not isinstance(q, dict):
        raise cfg.error("expected an object", "quantization_config")
    method = str(q.get("quant_method", "")).lower()
    weights = experts = activations = expert_activations = None
    kv = Dtype.bf16
    if method == "fp8":
        weights, activations = Dtype.fp8, Dtype.fp8
    elif method == "mxfp4":
        experts = Dtype.mxfp4   # gpt-oss: attention, router, embeddings and head stay BF16
    elif method == "compressed-tensors":
        weights, experts, activations, kv = _compressed_tensors(cfg, q)
    elif method == "modelopt":
        quant = {"quantization": q}
    elif method in ("gptq", "awq", "gptq_marlin", "awq_marlin"):
        bits = q.get("bits", q.get("w_bit"))
        if bits not in (4, 8) or isinstance(bits, bool):
            raise cfg.error(f"{method} with {json.dumps(bits)} bits is not modelled (4 and 8 are)",
                            "quantization_config.bits")
        weights = Dtype.int4 if bits == 4 else Dtype.int8   # weight-only: activations stay BF16
    elif method:
        raise cfg.error(f"quant_method '{method}' is not modelled", "quantization_config.quant_method",
                        hint="supported: fp8, mxfp4, compressed-tensors, modelopt, gptq, awq; or set "
                             "model.precision.* with --set")
    if cfg.str("expert_dtype").lower() == "fp4":
        experts = Dtype.mxfp4   # DeepSeek-V4 §5.2.1: MXFP4 routed experts from QAT
    if quant:
        qq = quant.get("quantization", quant)
        layers = qq.get("quantized_layers", {}) if isinstance(qq.get("quantized_layers"), dict) else {}
        algos = {str(v.get("quant_algo", "")).upper() for v in layers.values() if isinstance(v, dict)}
        algo = str(qq.get("quant_algo", "")).upper()
        if "NVFP4" in algos or algo == "NVFP4":
            experts, expert_activations = Dtype.nvfp4, Dtype.nvfp4   # ModelOpt NVFP4 is W4A4
            if algo == "NVFP4":
                weights, activations = Dtype.nvfp4, Dtype.nvfp4
        elif algo == "FP8":
            weights, activations = Dtype.fp8, Dtype.fp8
        elif algo and algo not in ("MIXED_PRECISION", "NONE"):
            raise cfg.error(f"ModelOpt quant_algo '{algo}' is not modelled", "quantization.quant_algo")
        if str(qq.get("kv_cache_quant_algo") or "").upper() == "FP8":
            kv = Dtype.fp8
    # Sparse DeepSeek kernels (FlashMLA FP8Sparse, MODEL1_FP8Sparse) only store FP8 KV entries.
    if isinstance(attention, CompressedAttention) or (isinstance(attention, MlaAttention) and attention.indexer):
        kv = Dtype.fp8
    activations = activations or Dtype.bf16
    fp8_traffic = activations == Dtype.fp8 or (experts is not None and weights == Dtype.fp8)
    return Precision(weights=weights or Dtype.bf16, experts=experts, activations=activations,
                     expert_activations=expert_activations, kv=kv,
                     # DeepSeek Day-6 / V4 §3.1: FP8 dispatch, BF16 combine.
                     dispatch=Dtype.fp8 if (moe and fp8_traffic) else Dtype.bf16, combine=Dtype.bf16)


def _ct_dtype(spec: Any) -> Dtype | None:
    """A compressed-tensors quantisation args block -> our format (None: not quantised)."""
    if not isinstance(spec, dict):
        return None
    bits, kind, group = spec.get("num_bits"), spec.get("type"), spec.get("group_size")
    table = {(8, "float"): Dtype.fp8, (8, "int"): Dtype.int8, (4, "int"): Dtype.int4,
             (4, "float"): Dtype.nvfp4 if group in (16, None) else Dtype.mxfp4}
    return table.get((bits, kind))


def _compressed_tensors(cfg: _Config, q: dict[str, Any]) -> tuple[Dtype | None, Dtype | None, Dtype | None, Dtype]:
    """(weights, experts, activations, kv) from llm-compressor's config_groups: the Linear layers'
    weight and input-activation formats; layers in `ignore` that match attention or experts keep BF16."""
    groups = q.get("config_groups") or {}
    group = next((g for g in groups.values() if isinstance(g, dict)), None) if isinstance(groups, dict) else None
    if group is None:
        raise cfg.error("compressed-tensors without config_groups", "quantization_config.config_groups")
    weights = _ct_dtype(group.get("weights"))
    if weights is None:
        raise cfg.error(f"compressed-tensors weights {json.dumps(group.get('weights'))} are not modelled",
                        "quantization_config.config_groups")
    activations = _ct_dtype(group.get("input_activations"))
    ignore = " ".join(str(p) for p in q.get("ignore") or [])
    attention_kept = "self_attn" in ignore or "attention" in ignore
    experts_kept = "experts" in ignore
    kv = Dtype.fp8 if _ct_dtype(q.get("kv_cache_scheme")) == Dtype.fp8 else Dtype.bf16
    return (None if attention_kept else weights, None if experts_kept else weights,
            None if attention_kept else activations, kv)
