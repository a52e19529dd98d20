"""The Hugging Face config corpus (tests/fixtures/hf, origins in its SOURCES.md): every config
imports with its published parameter counts, agrees with an independent count from the weight
shapes it implies, and has the KV bytes a hand count gives; or it is refused in one line naming
the field. Published figures name their source; tolerances: total ±2%, active ±5%."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from weight_shapes import count

from cli.main import app
from planner.errors import InputError
from planner.inputs import io
from planner.inputs.hfimport import import_hf, import_hf_report
from planner.model.facts import facts, kv_bytes_per_sequence, kv_bytes_per_token, kv_window_state_bytes
from planner.precision import Dtype

FIXTURES = Path(__file__).parent / "fixtures" / "hf"
REFUSED = {"XiaomiMiMo--MiMo-V2-Flash"}       # hand-edited copy with SWA-specific head counts
CORPUS = sorted(p.stem for p in FIXTURES.glob("*.json") if p.stem not in REFUSED)
FOLDERS = ["deepseek-v4-pro-nvfp4", "gemma-4-26b-a4b-nvfp4"]

# Published (total, active) parameters; None where the source gives no active figure (dense models).
# Model cards count "active" with or without the input embedding; the test accepts either reading.
PUBLISHED = {
    "MiniMaxAI--MiniMax-M1-40k": (456e9, 45.9e9),               # MiniMax-M1 README: 456B, 45.9B activated
    "Qwen--Qwen2.5-72B-Instruct": (72.7e9, None),               # Qwen2.5-72B-Instruct card: 72.7B
    "Qwen--Qwen3-235B-A22B": (235e9, 22e9),                     # Qwen3 card: 235B total, 22B activated
    "Qwen--Qwen3-30B-A3B": (30.5e9, 3.3e9),                     # Qwen3 card: 30.5B total, 3.3B activated
    "Qwen--Qwen3-32B": (32.8e9, None),                          # Qwen3-32B card: 32.8B
    "Qwen--Qwen3-8B": (8.2e9, None),                            # Qwen3-8B card: 8.2B
    "Qwen--Qwen3-Coder-480B-A35B-Instruct": (480e9, 35e9),      # NVIDIA NIM page: 480B total, 35B activated
    # Qwen3-Next card: 80B total; its "3B activated" is the A3B of the name: the weights give 3.56B
    # (attention, the head, 10 of 512 experts and the shared expert; the independent count agrees)
    "Qwen--Qwen3-Next-80B-A3B-Instruct": (80e9, None),
    "Qwen--Qwen3.5-35B-A3B": (35e9, 3e9),                       # transformers docs, qwen3_5_moe: 35B / 3B
    "Qwen--Qwen3.5-397B-A17B": (397e9, 17e9),                   # Qwen3.5 release (nxcode guide): 397B / 17B
    "Snowflake--snowflake-arctic-instruct": (480e9, 17e9),      # Snowflake Arctic card: 480B total, 17B active
    "ai21labs--Jamba-v0.1": (52e9, 12e9),                       # AI21 Jamba card: 52B total, 12B active
    "allenai--OLMoE-1B-7B-0924": (6.9e9, 1.3e9),                # OLMoE card: 6.9B total, 1.3B active
    "deepseek-ai--DeepSeek-V3": (671e9, 37e9),                  # DeepSeek-V3 report: 671B, 37B activated
    "deepseek-ai--DeepSeek-V3.2": (671e9, 37e9),                # V3.2-Exp: V3.1 shape + DSA indexer (685B with MTP)
    "deepseek-ai--DeepSeek-V4-Flash": (284e9, 13e9),            # DeepSeek-V4 paper abstract: 284B / 13B
    "deepseek-ai--DeepSeek-V4-Pro": (1.6e12, 49e9),             # DeepSeek-V4 paper abstract: 1.6T / 49B
    "google--gemma-3-27b-it": (27e9, None),                     # Gemma 3 technical report: 27B
    "google--gemma-4-26B-A4B": (25.2e9, 3.8e9),                 # gemma-4-26b-a4b listings (vast.ai, apxml)
    "hpcai-tech--grok-1": (314e9, None),                        # xAI Grok-1 release: 314B (active: see below)
    "inclusionAI--Ling-plus": (290e9, 28.8e9),                  # inclusionAI Ling README: 290B / 28.8B
    "meta-llama--Llama-4-Maverick-17B-128E-Instruct": (400e9, 17e9),   # Meta Llama 4 release: 400B / 17B
    "meta-llama--Llama-4-Scout-17B-16E-Instruct": (109e9, 17e9),       # Meta Llama 4 release: 109B / 17B
    "meta-llama--Meta-Llama-3.1-405B": (405.8e9, None),         # Llama 3.1 card: 405B
    "meta-llama--Meta-Llama-3.1-70B": (70.6e9, None),           # Llama 3.1 card: 70B (70.6B on the HF page)
    "meta-llama--Meta-Llama-3.1-8B": (8.03e9, None),            # Llama 3.1 card: 8B (8.03B on the HF page)
    # microsoft/phi-4 on Hugging Face: six BF16 shards of 4.93 + 4.95 + 4.9 + 4.77 + 4.77 + 4.99 GB
    # = 29.31 GB, i.e. 14.66B parameters (the report's "14B" is rounded)
    "microsoft--phi-4": (14.66e9, None),
    "mistralai--Mixtral-8x7B-v0.1": (46.7e9, 12.9e9),           # Mistral AI, Mixtral of experts: 46.7B / 12.9B
    "moonshotai--Kimi-K2-Instruct": (1.04e12, 32e9),            # Kimi K2 report: 1.04T total, 32B activated
    "moonshotai--Kimi-K2.5": (1.04e12, 32.6e9),                 # Kimi-K2.5 (glennklockwood.com notes): 1.04T / 32.6B
    # NVIDIA Nemotron 3 Nano card (quoted by crafiq.ai, open-source-ai.tech): 31.6B total,
    # 3.2B active (3.6B with embeddings)
    "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": (31.6e9, 3.2e9),
    "nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8": (120e9, 12e9),   # model name: 120B total, 12B active
    "nvidia--Nemotron-H-56B-Base-8K": (56e9, None),             # Nemotron-H card: 56B
    "openai--gpt-oss-120b": (116.8e9, 5.1e9),                   # gpt-oss model card: 116.8B total, 5.1B active
    "openai--gpt-oss-20b": (20.9e9, 3.6e9),                     # gpt-oss model card: 20.9B total, 3.6B active
    "tencent--Hunyuan-A13B-Instruct": (80e9, 13e9),             # Hunyuan-A13B README: 80B / 13B
}


def load(stem: str):
    return import_hf(FIXTURES / f"{stem}.json")


def test_corpus_is_fully_described():
    assert set(CORPUS) == set(PUBLISHED)
    assert len(CORPUS) >= 35


@pytest.mark.parametrize("stem", CORPUS)
def test_parameters_match_the_published_counts(stem):
    p = facts(load(stem)).params
    total, active = PUBLISHED[stem]
    assert p.total == pytest.approx(total, rel=0.02)
    if active is not None:
        error = min(abs(p.active - active), abs(p.active_with_embeddings - active)) / active
        assert error <= 0.05, (p.active, p.active_with_embeddings, active)


def test_grok_active_share():
    # xAI, "Open Release of Grok-1": 25% of the weights active on a given token (2 of 8 experts);
    # the figure is rounded, so ±2 points
    p = facts(load("hpcai-tech--grok-1")).params
    assert 0.23 <= p.active / p.total <= 0.27


@pytest.mark.parametrize("path", [f"{s}.json" for s in CORPUS] + [f"{f}/config.json" for f in FOLDERS])
def test_parameters_match_an_independent_count_from_weight_shapes(path):
    m = import_hf(FIXTURES / path)
    p = facts(m).params
    total, active = count(json.loads((FIXTURES / path).read_text()))
    assert p.total == pytest.approx(total, rel=1e-5)
    assert p.active == pytest.approx(active, rel=1e-5)


# KV bytes per token (growing) and fixed per-sequence state, counted by hand from each config.
KV_BY_HAND = {
    # BF16 K and V: layers x 2 x kv heads x head dim x 2 B
    "meta-llama--Meta-Llama-3.1-8B": (32 * 2 * 8 * 128 * 2, 0),
    "meta-llama--Meta-Llama-3.1-70B": (80 * 2 * 8 * 128 * 2, 0),
    "Qwen--Qwen3-235B-A22B": (94 * 2 * 4 * 128 * 2, 0),
    "Qwen--Qwen3-Coder-480B-A35B-Instruct": (62 * 2 * 8 * 128 * 2, 0),
    "microsoft--phi-4": (40 * 2 * 10 * 128 * 2, 0),
    "inclusionAI--Ling-plus": (88 * 2 * 6 * 128 * 2, 0),
    "tencent--Hunyuan-A13B-Instruct": (32 * 2 * 8 * 128 * 2, 0),
    # MLA: 61 layers x (512 latent + 64 RoPE) x 2 B
    "deepseek-ai--DeepSeek-V3": (61 * 576 * 2, 0),
    "moonshotai--Kimi-K2.5": (61 * 576 * 2, 0),
    # Gemma 3 27B: 10 global layers grow; 52 local layers keep a 1,024-token window
    "google--gemma-3-27b-it": (10 * 2 * 16 * 128 * 2, 52 * 1024 * 2 * 16 * 128 * 2),
    # Gemma 4 26B-A4B: 5 global layers of 2 KV heads x 512 dims; 25 local of 8 x 256 over 1,024 tokens
    "google--gemma-4-26B-A4B": (5 * 2 * 2 * 512 * 2, 25 * 1024 * 2 * 8 * 256 * 2),
    # Llama 4: 12 NoPE layers attend globally, 36 chunked layers hold at most 8,192 tokens
    "meta-llama--Llama-4-Maverick-17B-128E-Instruct": (12 * 2 * 8 * 128 * 2, 36 * 8192 * 2 * 8 * 128 * 2),
    # gpt-oss-20b: 12 full layers; 12 sliding layers of a 128-token window; 8 KV heads of 64 dims
    "openai--gpt-oss-20b": (12 * 2 * 8 * 64 * 2, 12 * 128 * 2 * 8 * 64 * 2),
    # Nemotron-H 56B: 10 attention layers; 54 Mamba-2 layers hold BF16 state (the model dtype, vLLM's
    # default): 256 heads x 64 x 256 SSM + 3 conv columns x (16,384 + 2 x 8 groups x 256)
    "nvidia--Nemotron-H-56B-Base-8K": (10 * 2 * 8 * 128 * 2, 54 * (256 * 64 * 256 + 3 * (16384 + 2 * 8 * 256)) * 2),
    # Nemotron 3 Nano: 6 attention layers (2 KV heads); 23 Mamba-2 layers of 64 heads x 64 x 128, FP32
    # as its config asks (mamba_ssm_cache_dtype)
    "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": (6 * 2 * 2 * 128 * 2,
                                                    23 * (64 * 64 * 128 + 3 * (4096 + 2 * 8 * 128)) * 4),
    # Jamba: 4 attention layers; 28 Mamba-1 layers of 8,192 channels x 16 states + 3 conv columns, BF16
    "ai21labs--Jamba-v0.1": (4 * 2 * 8 * 128 * 2, 28 * (8192 * 16 + 3 * 8192) * 2),
    # MiniMax-M1: 10 softmax layers; 70 lightning layers hold 64 heads x 128 x 128 in BF16 (vLLM)
    "MiniMaxAI--MiniMax-M1-40k": (10 * 2 * 8 * 128 * 2, 70 * 64 * 128 * 128 * 2),
    # Qwen3.5-35B-A3B: 10 full layers (2 KV heads x 256); 30 Gated DeltaNet layers: 32 value heads x
    # 128 x 128 state + 3 conv columns x (2 x 16 x 128 + 32 x 128), FP32 (mamba_ssm_dtype)
    "Qwen--Qwen3.5-35B-A3B": (10 * 2 * 2 * 256 * 2, 30 * (32 * 128 * 128 + 3 * (2 * 16 * 128 + 32 * 128)) * 4),
}


@pytest.mark.parametrize("stem", sorted(KV_BY_HAND))
def test_kv_bytes_match_the_hand_count(stem):
    growing, fixed = KV_BY_HAND[stem]
    m = load(stem)
    assert kv_bytes_per_token(m) == growing
    assert kv_window_state_bytes(m) == fixed


def test_gemma3_27b_kv_at_128k_matches_its_local_global_mix():
    # 128k tokens: 10 global layers hold all of them, 52 local layers only their 1,024-token window.
    # Importing every layer as sliding (the old behaviour) gave ~20x less.
    m = load("google--gemma-3-27b-it")
    expected = 10 * 2 * 16 * 128 * 2 * 131072 + 52 * 2 * 16 * 128 * 2 * 1024
    assert kv_bytes_per_sequence(m, 131072) == expected == 11_173_625_856
    assert expected / (62 * 2 * 16 * 128 * 2 * 1024) > 20


# ---- the per-layer descriptions the issue names ------------------------------------------------------

def test_llama4_maverick_interleaves_moe_and_dense_layers():
    # interleave_moe_layer_step 2: 24 MoE layers, 24 dense (intermediate_size_mlp 16,384); every MoE
    # layer counted as MoE would give ~778B instead of ~400B
    m = load("meta-llama--Llama-4-Maverick-17B-128E-Instruct")
    f = facts(m)
    assert (f.moe_layers, f.dense_layers) == (24, 24)
    assert m.mlp is not None and m.mlp.intermediate_size == 16384
    assert f.params.total == pytest.approx(400e9, rel=0.02)


def test_zero_shared_expert_width_means_no_shared_expert():
    m = load("Qwen--Qwen3-Coder-480B-A35B-Instruct")
    assert m.moe is not None and m.moe.shared_width == 0
    assert facts(m).params.shared_experts == 0


def test_gemma4_routing_fields_and_global_geometry():
    m = load("google--gemma-4-26B-A4B")
    assert m.moe is not None and (m.moe.num_experts, m.moe.experts_per_token) == (128, 8)   # top_k_experts
    assert m.moe.shared_width == 2112          # the dense MLP beside the experts
    a = m.attention
    assert (a.full_head_dim, a.full_num_kv_heads, a.full_k_eq_v) == (512, 2, True)


def test_moe_layer_freq_as_a_per_layer_list(tmp_path):
    data = json.loads((FIXTURES / "Qwen--Qwen3-30B-A3B.json").read_text())
    data["moe_layer_freq"] = [0, 0] + [1] * 46          # DeepSeek-style list: two dense layers first
    data.pop("decoder_sparse_step")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    f = facts(import_hf(path))
    assert (f.dense_layers, f.moe_layers) == (2, 46)


def test_mlp_only_layers_are_dense(tmp_path):
    data = json.loads((FIXTURES / "Qwen--Qwen3-30B-A3B.json").read_text())
    data["mlp_only_layers"] = [0, 47]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    m = import_hf(path)
    assert m.ffn_kinds()[0] == m.ffn_kinds()[47] == "dense" and facts(m).moe_layers == 46


def test_hybrid_layers_are_modelled_not_refused():
    nemotron = facts(load("nvidia--Nemotron-H-56B-Base-8K")).layer_kinds
    assert (nemotron["mamba"], nemotron["full"], nemotron["no_mixer"]) == (54, 10, 54)
    jamba = facts(load("ai21labs--Jamba-v0.1"))
    assert (jamba.layer_kinds["mamba"], jamba.layer_kinds["full"], jamba.moe_layers, jamba.dense_layers) == \
        (28, 4, 16, 16)
    assert load("MiniMaxAI--MiniMax-M1-40k").attention.linear.form == "lightning"


# ---- quantization_config ---------------------------------------------------------------------------

def test_compressed_tensors_int4_experts_only():
    # Kimi-K2.5: W4A16 int4 with attention, shared experts and dense MLPs in `ignore`
    p = load("moonshotai--Kimi-K2.5").precision
    assert (p.weights, p.experts, p.shared_expert_weights, p.activations) == \
        (Dtype.bf16, Dtype.int4, Dtype.bf16, Dtype.bf16)


def test_modelopt_nvfp4_with_excluded_modules():
    # NVIDIA's Gemma-4 NVFP4: every layer's self_attn, mlp and router excluded: experts alone are W4A4
    p = import_hf(FIXTURES / "gemma-4-26b-a4b-nvfp4").precision
    assert (p.weights, p.experts, p.expert_inputs, p.kv) == (Dtype.bf16, Dtype.nvfp4, Dtype.nvfp4, Dtype.fp8)


@pytest.mark.parametrize("quant, expected", [
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, (Dtype.fp8, Dtype.fp8, Dtype.fp8)),
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, (Dtype.int4, Dtype.int4, Dtype.bf16)),
    ({"quant_method": "gptq", "bits": 8}, (Dtype.int8, Dtype.int8, Dtype.bf16)),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 8, "type": "float"},
        "input_activations": {"num_bits": 8, "type": "float"}}}, "ignore": ["lm_head"]},
     (Dtype.fp8, Dtype.fp8, Dtype.fp8)),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized", "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 4, "type": "float", "group_size": 16},
        "input_activations": {"num_bits": 4, "type": "float", "group_size": 16}}}, "ignore": ["lm_head"]},
     (Dtype.nvfp4, Dtype.nvfp4, Dtype.nvfp4)),
    ({"quant_method": "modelopt", "quant_algo": "FP8", "kv_cache_quant_algo": "FP8"},
     (Dtype.fp8, Dtype.fp8, Dtype.fp8)),
])
def test_quantization_methods(tmp_path, quant, expected):
    data = json.loads((FIXTURES / "Qwen--Qwen3-30B-A3B.json").read_text())
    data["quantization_config"] = quant
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    p = import_hf(path).precision
    assert (p.weights, p.expert_weights, p.activations) == expected


# ---- refusals and strict fields ---------------------------------------------------------------------

def write_variant(tmp_path, stem: str, **changes):
    data = json.loads((FIXTURES / f"{stem}.json").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def one_line_error(path) -> str:
    with pytest.raises(InputError) as exc:
        import_hf(path)
    line = exc.value.one_line()
    assert "\n" not in line and "http" not in line
    return line


def test_unmodelled_structure_is_refused_by_name():
    # MiMo-V2-Flash gives its sliding layers their own head counts and attention-sink biases
    line = one_line_error(FIXTURES / "XiaomiMiMo--MiMo-V2-Flash.json")
    assert "add_swa_attention_sink_bias" in line and "does not model" in line


@pytest.mark.parametrize("key, value, words", [
    ("num_hidden_layers", True, "expected an integer, got true"),
    ("num_hidden_layers", 32.5, "expected an integer, got 32.5"),
    ("hidden_size", -4096, "expected an integer >= 1, got -4096"),
    ("num_key_value_heads", 0, "expected an integer >= 1, got 0"),
    ("num_experts_per_tok", "8", "expected an integer"),
    ("vocab_size", None, "needs vocab_size"),
    ("tie_word_embeddings", "yes", "expected true or false"),
    ("layer_types", ["full_attention"] * 47 + ["conv"], "layer_types conv are not modelled"),
    ("num_key_value_heads", 5, "not a multiple of num_key_value_heads 5"),
])
def test_bad_fields_are_one_line_naming_the_field(tmp_path, key, value, words):
    line = one_line_error(write_variant(tmp_path, "Qwen--Qwen3-30B-A3B", **{key: value}))
    assert words in line and key in line


def test_contradictory_aliases_are_refused(tmp_path):
    line = one_line_error(write_variant(tmp_path, "openai--gpt-oss-20b", experts_per_token=2))
    assert "experts_per_token" in line and "contradicts num_experts_per_tok" in line


MUTATIONS = st.sampled_from([True, False, 0, -1, 1, 2.5, 1e30, "x", "", None, [], [1, 2], {"a": 1}])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=st.sampled_from(CORPUS), data=st.data())
def test_mutated_configs_import_or_fail_in_one_line(tmp_path, stem, data):
    config = json.loads((FIXTURES / f"{stem}.json").read_text())
    target = config.get("text_config", config) if isinstance(config.get("text_config"), dict) else config
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(MUTATIONS)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    try:
        m = import_hf(path)
    except InputError as exc:
        assert "\n" not in exc.one_line()
        return
    p = facts(m).params
    assert p.total > 0 and math.isfinite(kv_bytes_per_token(m))


# ---- hub ids from the local cache and what the import reports --------------------------------------

def fake_cache(root: Path, repo: str, stem: str, ref: str = "0123abcd") -> Path:
    org, name = repo.split("/")
    snapshot = root / "hub" / f"models--{org}--{name}" / "snapshots" / ref
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((FIXTURES / f"{stem}.json").read_text())
    (root / "hub" / f"models--{org}--{name}" / "refs").mkdir()
    (root / "hub" / f"models--{org}--{name}" / "refs" / "main").write_text(ref)
    return snapshot


def test_hub_id_resolves_from_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    fake_cache(tmp_path, "meta-llama/Llama-3.1-70B-Instruct", "meta-llama--Meta-Llama-3.1-70B")
    m = io.load_model("meta-llama/Llama-3.1-70B-Instruct")
    assert m.name == "llama-3.1-70b-instruct"
    assert facts(m).params.total == facts(io.load_model("llama-3.1-70b")).params.total


def test_hub_id_missing_from_the_cache_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError) as exc:
        io.load_model("meta-llama/Llama-3.1-70B-Instruct")
    line = exc.value.one_line()
    assert "not in the local Hugging Face cache" in line
    assert str(tmp_path / "cache" / "models--meta-llama--Llama-3.1-70B-Instruct" / "snapshots") in line
    assert "never uses the network" in line


def test_models_show_hub_id_reports_used_assumed_and_ignored_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    fake_cache(tmp_path, "google/gemma-3-27b-it", "google--gemma-3-27b-it")
    runner = CliRunner()
    table = runner.invoke(app, ["models", "show", "google/gemma-3-27b-it"])
    assert table.exit_code == 0, table.output
    assert "10 full, 52 sliding" in table.output
    assert "assumed (architecture defaults): vocab_size = 262208, sliding_window_pattern = 6" in table.output
    result = runner.invoke(app, ["models", "show", "google/gemma-3-27b-it", "--format", "json"])
    report = json.loads(result.output)["import"]
    assert report["model_type"] == "gemma3_text"
    assert "sliding_window" in report["used"] and "query_pre_attn_scalar" in report["not_needed"]
    assert report["assumed"]["tie_word_embeddings"] is True


def test_report_lists_unrecognised_fields(tmp_path):
    path = write_variant(tmp_path, "meta-llama--Meta-Llama-3.1-8B", frobnicate=3)
    _, report = import_hf_report(path)
    assert report.unrecognised == ["frobnicate"]
    assert "hidden_size" in report.used and "bos_token_id" in report.not_needed


def test_granite4_style_hybrid_field_names(tmp_path):
    # Field names of IBM's GraniteMoeHybrid configs (granite-4.0-h): layer_types "mamba"/"attention",
    # mamba_n_heads / mamba_d_head / mamba_d_state / mamba_n_groups / mamba_d_conv, experts
    # intermediate_size wide beside a shared_intermediate_size shared expert. No published copy is
    # in the corpus, so the sizes here are illustrative; the test checks the field wiring.
    L = 8
    config = {"model_type": "granitemoehybrid", "hidden_size": 1536, "num_hidden_layers": L, "vocab_size": 100352,
              "num_attention_heads": 12, "num_key_value_heads": 4, "layer_types": ["mamba"] * 6 + ["attention"] * 2,
              "mamba_n_heads": 48, "mamba_d_head": 64, "mamba_d_state": 128, "mamba_n_groups": 1,
              "mamba_d_conv": 4, "mamba_expand": 2, "num_local_experts": 62, "num_experts_per_tok": 6,
              "intermediate_size": 512, "shared_intermediate_size": 1024, "tie_word_embeddings": True}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    m = import_hf(path)
    f = facts(m)
    assert (f.layer_kinds["mamba"], f.layer_kinds["full"], f.moe_layers) == (6, 2, 8)
    mamba = m.attention.mamba
    assert (mamba.num_heads, mamba.head_dim, mamba.state_size, mamba.conv_kernel) == (48, 64, 128, 4)
    assert m.moe.expert_intermediate_size == 512 and m.moe.shared_width == 1024
    assert f.params.total == count(config)[0]
