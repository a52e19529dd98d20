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

import importlib
from typing import Any

# The importer loads on first use (PEP 562): `planner size` on a preset reads no HF config and
# should not pay for the import machinery; the hub-cache lookup (`source`) is light.
_EXPORTS = {"import_hf": "importer", "import_hf_report": "importer", "ImportReport": "fields",
            "hub_config_path": "source", "is_hub_id": "source", "read_config": "source"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
