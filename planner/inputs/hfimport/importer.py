"""Building a `Model` from a config (see the package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.inputs.hfimport.ffn import gated, layer_ffn_kinds, moe_block
from planner.inputs.hfimport.fields import FAMILY_HINTS, ConfigFields, ImportReport, refuse_unread_structure, report
from planner.inputs.hfimport.layers import attention_block, layer_mixers
from planner.inputs.hfimport.quant import precision
from planner.inputs.hfimport.source import read_config, text_config
from planner.inputs.model import DenseMlp, Model


def import_hf(path: str | Path, name: str | None = None) -> Model:
    return import_hf_report(path, name)[0]


def import_hf_report(path: str | Path, name: str | None = None) -> tuple[Model, ImportReport]:
    """The model a config.json describes, and what the import read to build it."""
    path = Path(path)
    outer, quant, source = read_config(path)
    data, model_type = text_config(outer)
    cfg = ConfigFields(data, source, model_type)
    try:
        model = _build(cfg, quant, name or (path.name if path.is_dir() else path.stem).lower())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise cfg.error(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        # a field of a shape no check above expected (a list of lists, an object for a name): one
        # line naming what Python met, not a traceback
        raise cfg.error(f"a field has a value planner cannot use ({exc.__class__.__name__}: {exc})") from None
    refuse_unread_structure(cfg)
    return model, report(cfg, data, cfg.source)


def _build(cfg: ConfigFields, quant: dict[str, Any] | None, name: str) -> Model:
    h = cfg.integer("hidden_size", block="the decoder")
    L = cfg.integer("num_hidden_layers", "n_layer", "num_layers", block="the decoder")
    vocab = cfg.integer("vocab_size", block="the decoder")
    for flag in ("use_cla", "use_double_wide_mlp", "add_classification_head", "use_mla"):
        if cfg.flag(flag):
            raise cfg.error(f"{flag} is not modelled yet", flag, hint="describe the model as a TOML file")
    cfg.consider("cla_share_factor", "dense_list", "class_num", "pool_type")   # only with the flags above
    for count in ("num_kv_shared_layers", "hidden_size_per_layer_input"):   # Gemma 3n/4 E2B/E4B
        if cfg.integer(count, default=0, minimum=0):
            raise cfg.error(f"{count} (KV shared across layers, per-layer inputs) is not modelled yet", count,
                            hint="describe the model as a TOML file")
    attention = attention_block(cfg, h, L, layer_mixers(cfg, L))
    moe = moe_block(cfg)
    ffn = layer_ffn_kinds(cfg, L, moe)
    mlp = None
    if any("dense" in k for k in ffn):
        # Arctic's residual MLP is hidden_size wide (modeling_arctic.py: ffn_dim = hidden_size if
        # is_residual_mlp), its experts intermediate_size wide
        width = h if cfg.model_type == "arctic" else cfg.integer(
            "intermediate_size_mlp", "intermediate_size", "ffn_hidden_size", block="the dense MLP")
        mlp = DenseMlp(intermediate_size=width, bias=cfg.flag("mlp_bias"), gated=gated(cfg))
    elif moe is not None:
        cfg.consider("intermediate_size", "intermediate_size_mlp")   # no dense layer uses them
    # A stack of k dense layers then MoE layers is first_dense_layers = k; anything else is listed.
    ffn_types: tuple[str, ...] | None = ffn
    leading = next((i for i, k in enumerate(ffn) if k != "dense"), len(ffn))
    if all(k == ("moe" if moe else "dense") for k in ffn[leading:]):
        ffn_types = None
        if moe is not None:
            moe = moe.model_copy(update={"first_dense_layers": leading})
    return Model(
        name=name, description=f"imported from {Path(cfg.source).name} (model_type {cfg.model_type})",
        family=next((v for k, v in FAMILY_HINTS.items() if k in cfg.model_type), cfg.model_type),
        hidden_size=h, num_layers=L, vocab_size=vocab,
        tie_word_embeddings=cfg.flag("tie_word_embeddings", "tie_word_embedding", default=False),
        max_context=cfg.integer("max_position_embeddings", "max_sequence_length", "seq_length", default=4096),
        attention=attention, mlp=mlp, moe=moe, ffn_types=ffn_types, hc_mult=cfg.integer("hc_mult", default=1),
        mtp_layers=_mtp_layers(cfg), precision=precision(cfg, quant, attention, moe, L), sources=(cfg.source,))


def _mtp_layers(cfg: ConfigFields) -> int:
    """Next-token prediction modules: DeepSeek's num_nextn_predict_layers, Qwen 3.5's
    mtp_num_hidden_layers, MiniMax's num_mtp_modules (when use_mtp)."""
    if cfg.has("num_mtp_modules") and not cfg.flag("use_mtp"):
        cfg.consider("num_mtp_modules")
        return 0
    layers = cfg.integer("num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_modules", default=0, minimum=0)
    if layers:
        # the module is one decoder layer of attention and the model's last feed-forward kind
        # (Nemotron 3 Super: "*E"; MiniMax: one transformer layer per module)
        cfg.consider("mtp_hybrid_override_pattern", "mtp_transformer_layers")
    return layers
