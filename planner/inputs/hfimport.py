"""Import a Hugging Face `config.json` (a file, or a folder holding one) as a `Model`.

The config's fields decide the building blocks, `model_type` is only a hint:
- `compress_ratios` -> DeepSeek-V4 compressed attention (CSA/HCA + window + indexer);
- `kv_lora_rank` -> MLA, plus a DSA indexer when `index_topk` is set;
- otherwise GQA/MHA, with `sliding_window` and per-layer `layer_types`;
- expert counts (`n_routed_experts` | `num_local_experts` | `num_experts`) -> MoE, with
  `first_k_dense_replace`, `decoder_sparse_step`/`moe_layer_freq`, shared experts, hash layers.
Precisions come from `quantization_config` and a sibling `hf_quant_config.json` (ModelOpt).
A block we do not model (linear attention, Mamba state) is an `InputError` naming what is
missing, never a guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError
from planner.files import read_input
from planner.inputs.base import validation_error
from planner.inputs.model import (
    CompressedAttention,
    DenseMlp,
    GqaAttention,
    Indexer,
    LinearAttention,
    MlaAttention,
    Model,
    Moe,
    Precision,
)
from planner.precision import Dtype

FAMILY_HINTS = {"deepseek": "deepseek", "kimi": "moonshot", "llama": "llama", "qwen": "qwen",
                "mixtral": "mistral", "mistral": "mistral", "gpt_oss": "openai", "gemma": "google"}
UNSUPPORTED_LAYER_TYPES = {"mamba", "conv"}
# Fields that announce recurrent-state blocks (Mamba/SSM, Gated DeltaNet, hybrid patterns)
# even when a config has no `layer_types`: Nemotron-H, Jamba, Zamba, Qwen3-Next, Falcon-H1 ...
RECURRENT_STATE_FIELDS = ("hybrid_override_pattern", "layers_block_type", "attn_layer_indices",
                          "attn_layer_period", "mamba_d_state", "mamba_num_heads", "ssm_state_size",
                          "state_size")
BOOL_FIELDS = {"attention_bias", "mlp_bias", "tie_word_embeddings", "use_sliding_window"}
LINEAR_FIELDS = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim")


class _Config:
    """Field access that records what was missing, for one clear error."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data, self.source = data, source
        self.model_type = str(data.get("model_type", "unknown"))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _checked(self, key: str, value: Any) -> Any:
        # JSON's true is not 1 and "no" is not a boolean: Python's int(True) and bool("no") would
        # turn either into a plausible model silently.
        if key in BOOL_FIELDS:
            if not isinstance(value, bool):
                raise InputError(f"{key}: expected true or false, got {value!r:.40}", source=self.source)
        elif isinstance(value, bool):
            raise InputError(f"{key}: expected a number, got {str(value).lower()}", source=self.source)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else self._checked(key, value)

    def first(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.has(key):
                return self._checked(key, self.data[key])
        return default

    def need(self, *keys: str, block: str) -> list[Any]:
        missing = [k for k in keys if not self.has(k)]
        if missing:
            raise InputError(f"model_type '{self.model_type}': {block} needs {', '.join(missing)}",
                             source=self.source,
                             hint="this architecture is not supported yet; describe it as a model TOML")
        return [self._checked(k, self.data[k]) for k in keys]


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """Read config.json (and hf_quant_config.json beside it). Returns (config, quant, source)."""
    config_path = path / "config.json" if path.is_dir() else path
    if not config_path.exists():
        raise InputError("no config.json here", source=str(path), hint="pass a config.json or its folder")
    data = _read_json(config_path)
    quant_path = config_path.parent / "hf_quant_config.json"
    quant = _read_json(quant_path) if quant_path.is_file() else None
    return data, quant, str(config_path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_input(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                         source=str(path)) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object at the top level", source=str(path))
    return data


def import_hf(path: str | Path, name: str | None = None) -> Model:
    path = Path(path)
    data, quant, source = read_config(path)
    try:
        return _import(path, data, quant, source, name)
    except ValidationError as exc:
        raise validation_error(exc, source) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        # a field of the wrong shape (a string where a count belongs, a zero head count, a list of
        # lists): the conversions above meet it first; one line, not a traceback
        raise InputError(f"a field has a value planner cannot use ({exc.__class__.__name__}: {exc})",
                         source=source) from None


def _import(path: Path, data: dict[str, Any], quant: dict[str, Any] | None, source: str,
            name: str | None) -> Model:
    if "text_config" in data and "hidden_size" not in data:
        data = {**data["text_config"], "model_type": data.get("model_type", "unknown")}
    cfg = _Config(data, source)
    if name is None:
        name = (path.name if path.is_dir() else path.stem).lower()
    h, L, vocab = cfg.need("hidden_size", "num_hidden_layers", "vocab_size", block="the decoder")
    layer_types = cfg.get("layer_types") or []
    odd = sorted({t for t in layer_types if t in UNSUPPORTED_LAYER_TYPES})
    if odd:
        raise InputError(f"model_type '{cfg.model_type}': layer_types {', '.join(odd)} hold a recurrent "
                         "state that planner does not model yet", source=source,
                         hint="full, sliding and Gated DeltaNet linear-attention layers are supported")
    recurrent = [k for k in RECURRENT_STATE_FIELDS if k in cfg.data]
    if cfg.get("mlp_only_layers"):
        raise InputError(f"model_type '{cfg.model_type}': mlp_only_layers (dense layers at arbitrary positions) "
                         "is not modelled yet", source=source, hint="describe the model as a TOML file")
    if recurrent:
        raise InputError(f"model_type '{cfg.model_type}': fields {', '.join(recurrent)} announce recurrent-state "
                         "(Mamba/SSM) layers that planner does not model yet", source=source,
                         hint="full, sliding and Gated DeltaNet linear-attention layers are supported")
    attention = _attention(cfg, h, L)
    moe = _moe(cfg)
    mlp = None
    if moe is None or moe.first_dense_layers:
        (width,) = cfg.need("intermediate_size", block="the dense MLP")
        mlp = DenseMlp(intermediate_size=width, bias=bool(cfg.get("mlp_bias", False)))
    family = next((v for k, v in FAMILY_HINTS.items() if k in cfg.model_type), cfg.model_type)
    try:
        return Model(
            name=name, description=f"imported from {Path(source).name} (model_type {cfg.model_type})",
            family=family, hidden_size=h, num_layers=L, vocab_size=vocab,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            max_context=int(cfg.first("max_position_embeddings", "max_sequence_length", default=4096)),
            attention=attention, mlp=mlp, moe=moe, hc_mult=int(cfg.get("hc_mult", 1)),
            mtp_layers=int(cfg.get("num_nextn_predict_layers", 0)),
            precision=_precision(cfg, quant, attention, moe), sources=(source,))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"model_type '{cfg.model_type}': {where}: {err['msg']}", source=source) from None


def _attention(cfg: _Config, h: int, L: int):
    if cfg.has("compress_ratios"):
        heads, head_dim, q_lora, groups, o_rank, window = cfg.need(
            "num_attention_heads", "head_dim", "q_lora_rank", "o_groups", "o_lora_rank", "sliding_window",
            block="compressed attention (compress_ratios)")
        ix_heads, ix_dim, topk = cfg.need("index_n_heads", "index_head_dim", "index_topk", block="the CSA indexer")
        ratios = tuple(int(r) for r in cfg.get("compress_ratios"))[:L]   # trailing entries: MTP layers
        if len(ratios) < L:
            ratios = ratios + (0,) * (L - len(ratios))
        return CompressedAttention(
            num_heads=heads, head_dim=head_dim, rope_dim=int(cfg.get("qk_rope_head_dim", 64)),
            q_lora_rank=q_lora, o_groups=groups, o_lora_rank=o_rank, window=window, compress_ratios=ratios,
            # V4 §5.2.1: the indexer QK path is cached and multiplied in FP4 (MXFP4 keys: 64 + 4 B).
            indexer=Indexer(num_heads=ix_heads, head_dim=ix_dim, topk=topk, key_dtype=Dtype.mxfp4))
    if cfg.has("kv_lora_rank"):
        heads, kv_lora, nope, rope, v = cfg.need(
            "num_attention_heads", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
            block="MLA attention")
        indexer = None
        if cfg.has("index_topk"):
            ix_heads, ix_dim, topk = cfg.need("index_n_heads", "index_head_dim", "index_topk", block="the DSA indexer")
            # V3.2-Exp inference/model.py: indexer keys are FP8 with one FP32 scale per 128 dims.
            indexer = Indexer(num_heads=ix_heads, head_dim=ix_dim, topk=topk, key_dtype=Dtype.fp8)
        return MlaAttention(num_heads=heads, q_lora_rank=cfg.get("q_lora_rank"), kv_lora_rank=kv_lora,
                            qk_nope_head_dim=nope, qk_rope_head_dim=rope, v_head_dim=v, indexer=indexer)
    (heads,) = cfg.need("num_attention_heads", block="attention")
    kv_heads = int(cfg.get("num_key_value_heads", heads))
    head_dim = int(cfg.get("head_dim", h // heads))
    window = cfg.get("sliding_window")
    if cfg.data.get("use_sliding_window") is False:
        window = None
    types = None
    raw_types = cfg.get("layer_types")
    if not raw_types and cfg.has("full_attention_interval"):
        # Qwen3-Next convention: every n-th layer is full attention, the rest linear attention.
        n = int(cfg.get("full_attention_interval"))
        raw_types = ["full_attention" if (i + 1) % n == 0 else "linear_attention" for i in range(L)]
    linear = None
    if raw_types and "linear_attention" in raw_types:
        kh, vh, kd, vd = cfg.need(*LINEAR_FIELDS, block="linear-attention layers")
        linear = LinearAttention(num_key_heads=kh, num_value_heads=vh, key_head_dim=kd, value_head_dim=vd,
                                 conv_kernel=int(cfg.get("linear_conv_kernel_dim", 4)))
    if raw_types:
        mapping = {"full_attention": "full", "sliding_attention": "sliding", "linear_attention": "linear"}
        unknown = sorted({t for t in raw_types if t not in mapping})
        if unknown:
            raise InputError(f"model_type '{cfg.model_type}': unknown layer_types {', '.join(unknown)}",
                             source=cfg.source)
        types = tuple(mapping[t] for t in raw_types[:L])
        if "sliding" not in types:
            window = None
    elif window is not None:
        types = ("sliding",) * L
    return GqaAttention(
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        qkv_bias=bool(cfg.first("attention_bias", "qkv_bias", default=False)),
        o_bias=bool(cfg.get("attention_bias", False)) and "gpt_oss" in cfg.model_type,
        qk_norm=cfg.model_type.startswith("qwen3"),
        # Qwen3-Next/3.5 gate the attention output (gated attention): q_proj emits query and gate
        output_gate=cfg.model_type.startswith(("qwen3_next", "qwen3_5")),
        sinks="gpt_oss" in cfg.model_type,
        sliding_window=window if types and "sliding" in types else None,
        layer_types=types, linear=linear)


def _moe(cfg: _Config) -> Moe | None:
    experts = cfg.first("n_routed_experts", "num_local_experts", "num_experts")
    if not experts:
        return None
    (k,) = [cfg.first("num_experts_per_tok", "experts_per_token")] if cfg.first(
        "num_experts_per_tok", "experts_per_token") else cfg.need("num_experts_per_tok", block="MoE routing")
    width = cfg.first("moe_intermediate_size", "intermediate_size")
    if width is None:
        cfg.need("moe_intermediate_size", block="MoE experts")
    shared = int(cfg.get("n_shared_experts", 0))
    shared_width = cfg.get("shared_expert_intermediate_size")
    if shared_width and not shared:
        shared = 1
    gpt_oss = "gpt_oss" in cfg.model_type
    return Moe(num_experts=experts, experts_per_token=k, expert_intermediate_size=width,
               num_shared_experts=shared, shared_intermediate_size=shared_width,
               first_dense_layers=int(cfg.get("first_k_dense_replace", 0)),
               layer_interval=int(cfg.first("decoder_sparse_step", "moe_layer_freq", default=1)),
               expert_bias=gpt_oss, router_bias=gpt_oss or cfg.get("topk_method") == "noaux_tc",
               hash_layers=int(cfg.get("num_hash_layers", 0)))


def _precision(cfg: _Config, quant: dict[str, Any] | None, attention, moe: Moe | None) -> Precision:
    q = cfg.get("quantization_config") or {}
    method = str(q.get("quant_method", "")).lower()
    weights = experts = activations = None
    if method == "fp8":
        weights, activations = Dtype.fp8, Dtype.fp8
    elif method == "mxfp4":
        experts = Dtype.mxfp4   # gpt-oss: attention, router, embeddings and head stay BF16
    if str(cfg.get("expert_dtype", "")).lower() == "fp4":
        experts = Dtype.mxfp4   # DeepSeek-V4 §5.2.1: MXFP4 routed experts from QAT
    expert_activations = None
    kv = Dtype.bf16
    if quant:
        qq = quant.get("quantization", {})
        algos = {str(v.get("quant_algo", "")).upper() for v in qq.get("quantized_layers", {}).values()}
        algo = str(qq.get("quant_algo", "")).upper()
        if "NVFP4" in algos or algo == "NVFP4":
            experts, expert_activations = Dtype.nvfp4, Dtype.nvfp4   # ModelOpt NVFP4 is W4A4
            if algo == "NVFP4":
                weights, activations = Dtype.nvfp4, Dtype.nvfp4
        elif algo == "FP8":
            weights, activations = Dtype.fp8, Dtype.fp8
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
