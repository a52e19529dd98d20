"""Hybrid linear-attention models (Gated DeltaNet, Qwen3-Next): a fixed recurrent state per
sequence instead of KV that grows with the context."""

from __future__ import annotations

import json

import pytest

from planner.errors import InputError
from planner.inputs import io
from planner.inputs.hfimport import import_hf
from planner.model import facts as M

QWEN3_NEXT = io.load_model("qwen3-next-80b-a3b")


def test_layer_split():
    # config.json: full_attention_interval 4 over 48 layers -> 12 full, 36 linear
    assert M.facts(QWEN3_NEXT).layer_kinds == {"full": 12, "sliding": 0, "linear": 36, "mamba": 0, "no_mixer": 0}


def test_growing_kv_comes_only_from_full_attention_layers():
    # 12 layers x K and V x 2 KV heads x head_dim 256 x 2 B (BF16) = 24,576 B per token; exact
    assert M.kv_bytes_per_token(QWEN3_NEXT) == 12 * 2 * 2 * 256 * 2 == 24_576


def test_recurrent_state_per_sequence():
    # Per linear layer: 32 value heads x 128 x 128 state + (4 - 1) x (2 x 16 x 128 + 32 x 128) conv
    # inputs = 524,288 + 24,576 elements (the geometry llama.cpp allocates), in FP32; exact.
    per_layer = 32 * 128 * 128 + 3 * (2 * 2048 + 4096)
    assert per_layer == 548_864
    assert M.kv_window_state_bytes(QWEN3_NEXT) == 36 * per_layer * 4 == 79_036_416
    # present from the first token, independent of the context
    assert M.kv_bytes_per_sequence(QWEN3_NEXT, 1) == 79_036_416 + 24_576
    assert M.kv_bytes_per_sequence(QWEN3_NEXT, 262_144) == 79_036_416 + 24_576 * 262_144


def test_state_dtype_override_halves_the_state():
    bf16 = io.load_model("qwen3-next-80b-a3b", io.parse_overrides(["model.attention.linear.state_dtype=bf16"]))
    assert M.kv_window_state_bytes(bf16) == 79_036_416 // 2


def test_parameters_against_the_model_card():
    # Qwen3-Next model card: 80B total, "3B activated" (rounded; we count attention, the LM head
    # and 10 of 512 experts plus the shared expert: 3.56B). Total within 3%.
    p = M.facts(QWEN3_NEXT).params
    assert p.total == pytest.approx(80e9, rel=0.03)
    assert 3.0e9 <= p.active <= 4.0e9


def test_decode_flops_do_not_grow_in_linear_layers():
    # Only the 12 full-attention layers add FLOPs with context: 4 x 16 heads x 256 per token each.
    step = M.decode_flops_per_token(QWEN3_NEXT, 20_001) - M.decode_flops_per_token(QWEN3_NEXT, 10_001)
    assert step == pytest.approx(10_000 * 12 * 4 * 16 * 256, rel=1e-12)


def test_linear_layers_without_their_fields_name_what_is_missing(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "qwen3_next", "hidden_size": 2048, "num_hidden_layers": 4,
                                "vocab_size": 1000, "num_attention_heads": 16, "num_key_value_heads": 2,
                                "head_dim": 256, "intermediate_size": 5120,
                                "layer_types": ["linear_attention"] * 3 + ["full_attention"]}))
    with pytest.raises(InputError) as exc:
        import_hf(path)
    assert "linear_num_key_heads" in exc.value.one_line() and "qwen3_next" in exc.value.one_line()


def test_sizes_on_a_machine():
    from planner.serving.deployment import size_deployment
    s = size_deployment(QWEN3_NEXT, io.load_hardware("h200-sxm"), io.load_workload("chat"), compare_domains=False)
    assert s.unit is not None and s.feasible
