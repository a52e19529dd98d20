"""Per-component precisions from `quantization_config` (fp8, mxfp4, compressed-tensors, ModelOpt,
GPTQ/AWQ) and ModelOpt's hf_quant_config.json.

A scheme says what format the quantised Linear layers have and which modules it leaves out
(compressed-tensors `ignore`, ModelOpt `exclude_modules`, `modules_to_not_convert`). Module names
differ by architecture, so a pattern is read by what it names (attention, the dense MLP, shared
experts, routed experts) and by the layers it covers; a component most layers leave out stays BF16.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from planner.inputs.hfimport.fields import ConfigFields
from planner.inputs.model import CompressedAttention, MlaAttention, Moe, Precision
from planner.precision import Dtype

COMPONENTS = ("attention", "dense", "shared", "experts")


@dataclass(frozen=True)
class Scheme:
    weights: Dtype                       # format of the quantised Linear weights
    activations: Dtype | None            # their GEMM inputs (None: as they were)
    excluded: frozenset[str] = frozenset()   # components left in BF16
    kv: Dtype | None = None


def _component(pattern: str) -> str | None:
    """Which component a module pattern names, by the words in it."""
    p = pattern.lower()
    if "shared_expert" in p:
        return "shared"
    if "expert" in p:
        return "experts"
    if "attn" in p or "attention" in p:
        return "attention"
    if re.search(r"(^|[.*:])(mlp|ffn|feed_forward)", p) and "router" not in p and not p.rstrip("$").endswith("gate"):
        return "dense"
    return None


def _excluded(patterns: Any, layers: int, moe_shares_dense: bool) -> frozenset[str]:
    """Components that most layers leave out: a pattern with a layer index covers that layer, a
    wildcard or regex covers them all."""
    if not isinstance(patterns, list):
        return frozenset()
    covered: dict[str, set[int]] = {c: set() for c in COMPONENTS}
    for pattern in patterns:
        component = _component(str(pattern))
        if component is None:
            continue
        index = re.search(r"layers\.(\d+)\.", str(pattern))
        covered[component] |= {int(index.group(1))} if index else set(range(layers))
    out = {c for c, hit in covered.items() if 2 * len(hit) >= layers}
    if moe_shares_dense and "dense" in out:
        out.add("shared")    # Gemma 4's shared expert is the layer's dense MLP
    return frozenset(out)


def _ct_dtype(spec: Any) -> Dtype | None:
    """A compressed-tensors quantisation-args block -> our format (None: not quantised)."""
    if not isinstance(spec, dict):
        return None
    bits, kind, group = spec.get("num_bits"), spec.get("type"), spec.get("group_size")
    if bits == 4 and kind == "float":
        return Dtype.nvfp4 if group in (16, None) else Dtype.mxfp4
    table: dict[tuple[Any, Any], Dtype] = {(8, "float"): Dtype.fp8, (8, "int"): Dtype.int8, (4, "int"): Dtype.int4}
    return table.get((bits, kind))


def _scheme(cfg: ConfigFields, q: dict[str, Any], layers: int, moe_shares_dense: bool) -> Scheme | None:
    """The scheme of a config's quantization_config (None when it has none)."""
    method = str(q.get("quant_method", "")).lower()

    def excluded(*keys: str) -> frozenset[str]:
        return _excluded(next((q[k] for k in keys if k in q), None), layers, moe_shares_dense)

    if method == "fp8":
        # DeepSeek-style block FP8 (128x128 weight scales, dynamic FP8 activations)
        return Scheme(Dtype.fp8, Dtype.fp8, excluded("modules_to_not_convert", "ignored_layers"))
    if method == "mxfp4":
        # gpt-oss: only the experts; attention, router, embeddings and head stay BF16
        return Scheme(Dtype.mxfp4, Dtype.bf16, frozenset(COMPONENTS) - {"experts"})
    if method == "compressed-tensors":
        groups = q.get("config_groups")
        group = next((g for g in groups.values() if isinstance(g, dict)), None) if isinstance(groups, dict) else None
        weights = _ct_dtype(group.get("weights")) if group else None
        if weights is None:
            raise cfg.error(f"compressed-tensors weights {json.dumps(group and group.get('weights'))[:80]} are "
                            "not modelled", "quantization_config.config_groups")
        assert group is not None
        return Scheme(weights, _ct_dtype(group.get("input_activations")) or Dtype.bf16, excluded("ignore"),
                      Dtype.fp8 if _ct_dtype(q.get("kv_cache_scheme")) == Dtype.fp8 else None)
    if method in ("gptq", "awq", "gptq_marlin", "awq_marlin"):
        bits = q.get("bits", q.get("w_bit"))
        if isinstance(bits, bool) or bits not in (4, 8):
            raise cfg.error(f"{method} with {json.dumps(bits)} bits is not modelled (4 and 8 are)",
                            "quantization_config.bits")
        return Scheme(Dtype.int4 if bits == 4 else Dtype.int8, Dtype.bf16, excluded("modules_to_not_convert"))
    if method == "modelopt":
        return _modelopt(cfg, q, layers, moe_shares_dense)
    if method:
        raise cfg.error(f"quant_method '{method}' is not modelled", "quantization_config.quant_method",
                        hint="supported: fp8, mxfp4, compressed-tensors, modelopt, gptq, awq; or set "
                             "model.precision.* with --set")
    return None


def _modelopt(cfg: ConfigFields, qq: dict[str, Any], layers: int, moe_shares_dense: bool) -> Scheme | None:
    """ModelOpt (in config.json or hf_quant_config.json): one algorithm for all Linear layers but the
    excluded ones, or MIXED_PRECISION with the quantised layers listed (DeepSeek-V4 NVFP4: experts)."""
    algo = str(qq.get("quant_algo") or "").upper()
    kv = Dtype.fp8 if str(qq.get("kv_cache_quant_algo") or "").upper() == "FP8" or \
        _ct_dtype(qq.get("kv_cache_scheme")) == Dtype.fp8 else None
    listed = qq.get("quantized_layers")
    if algo == "MIXED_PRECISION" and isinstance(listed, dict):
        algos = {str(v.get("quant_algo", "")).upper() for v in listed.values() if isinstance(v, dict)}
        if algos - {"NVFP4"}:
            raise cfg.error(f"ModelOpt mixed precision with {', '.join(sorted(algos))} is not modelled",
                            "quantization.quantized_layers")
        named = {c for c in (_component(str(k)) for k in listed) if c}
        return Scheme(Dtype.nvfp4, Dtype.nvfp4, frozenset(COMPONENTS) - named, kv)
    formats = {"NVFP4": (Dtype.nvfp4, Dtype.nvfp4), "FP8": (Dtype.fp8, Dtype.fp8)}
    if algo in ("", "NONE"):
        return Scheme(Dtype.bf16, Dtype.bf16, frozenset(COMPONENTS), kv) if kv else None
    if algo not in formats:
        raise cfg.error(f"ModelOpt quant_algo '{algo}' is not modelled", "quantization.quant_algo",
                        hint="NVFP4, FP8 and MIXED_PRECISION (NVFP4) are")
    weights, activations = formats[algo]
    return Scheme(weights, activations,
                  _excluded(qq.get("exclude_modules", qq.get("ignore")), layers, moe_shares_dense), kv)


def precision(cfg: ConfigFields, quant: dict[str, Any] | None, attention: Any, moe: Moe | None,
              layers: int) -> Precision:
    """Formats per component. Schemes apply in order, each to the components it quantises:
    quantization_config, then DeepSeek-V4's `expert_dtype`, then a sibling hf_quant_config.json."""
    q = cfg.raw("quantization_config") or {}
    if not isinstance(q, dict):
        raise cfg.error("expected an object", "quantization_config")
    shares = cfg.flag("enable_moe_block")
    schemes = [_scheme(cfg, q, layers, shares)]
    if cfg.text("expert_dtype").lower() == "fp4":
        # DeepSeek-V4 §5.2.1: MXFP4 routed experts from QAT
        schemes.append(Scheme(Dtype.mxfp4, None, frozenset(COMPONENTS) - {"experts"}))
    if quant:
        schemes.append(_modelopt(cfg, quant.get("quantization", quant), layers, shares))
    weights = experts = shared = expert_activations = None
    activations = kv = Dtype.bf16
    for scheme in (s for s in schemes if s is not None):
        kept = scheme.excluded
        if "attention" not in kept:
            weights, activations = scheme.weights, scheme.activations or activations
        if moe is not None and "experts" not in kept:
            experts, expert_activations = scheme.weights, scheme.activations
        if moe is not None and moe.shared_width and ("shared" in kept) != ("attention" in kept):
            shared = Dtype.bf16 if "shared" in kept else scheme.weights
        kv = scheme.kv or kv
    # Sparse DeepSeek kernels (FlashMLA FP8Sparse, MODEL1_FP8Sparse) only store FP8 KV entries.
    if isinstance(attention, CompressedAttention) or (isinstance(attention, MlaAttention) and attention.indexer):
        kv = Dtype.fp8
    fp8_traffic = activations == Dtype.fp8 or (experts is not None and weights == Dtype.fp8)
    weights = weights or Dtype.bf16
    return Precision(weights=weights, experts=experts if experts != weights else None, shared_experts=shared,
                     activations=activations,
                     expert_activations=expert_activations if expert_activations != activations else None, kv=kv,
                     # DeepSeek Day-6 / V4 §3.1: FP8 dispatch, BF16 combine.
                     dispatch=Dtype.fp8 if (moe and fp8_traffic) else Dtype.bf16, combine=Dtype.bf16)
