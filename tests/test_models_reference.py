"""planner.model.facts against published values (shared/reference/models.md §7) and hand-derived cases.

Each expected value names its source and tolerance next to it. "exact" means integer formulas
and config integers; derived values that involve division get ±1%; parameter and FLOP counts
that the sources print rounded get ±1-5% as stated.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.inputs import io, presets
from planner.model.facts import (
    Term,
    decode_flops_per_token,
    ep_flops_per_comm_byte,
    facts,
    indexer_key_bytes,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    kv_read_bytes_per_step,
    kv_window_state_bytes,
    packed_entry_bytes,
    prefill_flops,
    train_flops_per_token,
)
from planner.precision import Dtype, weight_bytes_per_param

MILLION = 2**20   # "1M context" in the V4 paper: max_position_embeddings 1048576
BF16_KV = io.parse_overrides(["model.precision.kv=bf16"])
PRESETS = presets.names("models")


def model(name, overrides=None):
    return io.load_model(name, overrides)


# ---- KV bytes per token --------------------------------------------------------------------------

@pytest.mark.parametrize("preset, expected", [
    ("deepseek-v3", 70_272),       # ISCA '25 Table 1: 61 x 576 x 2
    ("llama-3.1-405b", 516_096),   # ISCA '25 Table 1: 2 x 8 x 128 x 126 x 2
    ("llama-3.1-70b", 327_680),    # models.md §5: 2 x 80 x 8 x 128 x 2
])
def test_kv_bytes_per_token_bf16(preset, expected):
    assert kv_bytes_per_token(model(preset, BF16_KV)) == expected   # exact


def test_kv_bytes_per_token_v32_native_fp8():
    # models.md §2: 61 x (656 FlashMLA FP8Sparse + 132 indexer key) = 40,016 + 8,052; exact
    assert kv_bytes_per_token(model("deepseek-v3.2")) == 48_068


@pytest.mark.parametrize("preset, entry, key", [
    ("deepseek-v3.2", 656, 132),     # FlashMLA README: 512 FP8 + 4 x FP32 + 64 BF16; V3.2-Exp model.py: 128 FP8 + FP32
    ("deepseek-v4-pro", 584, 68),    # FlashMLA tests/quant.py MODEL1_FP8Sparse: 448 + 7 + 1 + 128; MXFP4 key 64 + 4
    ("deepseek-v4-flash", 584, 68),
])
def test_packed_entry_and_indexer_key_bytes(preset, entry, key):
    a = model(preset).attention
    dims = a.head_dim if a.kind == "compressed" else a.kv_lora_rank + a.qk_rope_head_dim
    assert packed_entry_bytes(dims, Dtype.fp8, a.kv_layout) == entry   # exact
    assert indexer_key_bytes(a.indexer) == key                          # exact


# ---- expert-parallel intensity -------------------------------------------------------------------

@pytest.mark.parametrize("preset, expected", [
    ("deepseek-v4-pro", 6144),     # V4 paper §3.1: 6hd / 3h = 2d, d = 3072
    ("deepseek-v4-flash", 4096),   # models.md §1.4: 2d, d = 2048 [D]
    ("deepseek-v3", 4096),         # 2d, d = 2048; Day-6: FP8 dispatch, BF16 combine
])
def test_ep_flops_per_comm_byte(preset, expected):
    m = model(preset)
    assert (m.precision.dispatch, m.precision.combine) == (Dtype.fp8, Dtype.bf16)
    assert ep_flops_per_comm_byte(m) == expected   # exact


def test_ep_flops_per_comm_byte_dense_is_none():
    assert ep_flops_per_comm_byte(model("llama-3.1-70b")) is None


# ---- DeepSeek-V4 KV at long context --------------------------------------------------------------

def test_v4_layer_split():
    # models.md §1.7, config compress_ratios: Pro 30 CSA + 31 HCA; Flash 21 CSA + 20 HCA + 2 SWA-only (exact)
    assert facts(model("deepseek-v4-pro")).layer_kinds == {"csa": 30, "hca": 31, "window_only": 0}
    assert facts(model("deepseek-v4-flash")).layer_kinds == {"csa": 21, "hca": 20, "window_only": 2}


@pytest.mark.parametrize("preset, at_1m", [
    ("deepseek-v4-pro", 5.28e9),     # models.md §1.3: 5,031 B x 2^20 + 4.56 MB window; ±1%
    ("deepseek-v4-flash", 3.69e9),   # models.md §1.3: 3,514 B x 2^20 + 3.21 MB window; ±1%
    ("deepseek-v3.2", 50.4e9),       # models.md §1.3: 48,068 B x 2^20; ±1%
])
def test_kv_bytes_per_sequence_at_1m(preset, at_1m):
    assert kv_bytes_per_sequence(model(preset), MILLION) == pytest.approx(at_1m, rel=0.01)


@pytest.mark.parametrize("preset, paper_ratio", [
    ("deepseek-v4-pro", 9.5),      # V4 paper Figure 1: "9.5x smaller" accumulated KV vs V3.2; ±5%
    ("deepseek-v4-flash", 13.7),   # V4 paper Figure 1: "13.7x smaller"; ±5%
])
def test_v4_kv_ratio_vs_v32_at_1m(preset, paper_ratio):
    ratio = kv_bytes_per_sequence(model("deepseek-v3.2"), MILLION) / kv_bytes_per_sequence(model(preset), MILLION)
    assert ratio == pytest.approx(paper_ratio, rel=0.05)


@pytest.mark.parametrize("preset, growing, window_state", [
    ("deepseek-v4-pro", 5_031, 61 * 128 * 584),     # models.md §1.3: 30 x 652/4 + 31 x 584/128; 4.56 MB
    ("deepseek-v4-flash", 3_514, 43 * 128 * 584),   # models.md §1.3: 21 x 652/4 + 20 x 584/128; 3.21 MB
])
def test_v4_growing_kv_and_window_state(preset, growing, window_state):
    m = model(preset)
    assert kv_bytes_per_token(m) == pytest.approx(growing, rel=0.01)   # ±1%
    assert kv_window_state_bytes(m) == window_state                    # exact integer product
    # the sequence total is the two together once the window is full
    assert kv_bytes_per_sequence(m, MILLION) == pytest.approx(
        kv_bytes_per_token(m) * MILLION + window_state, rel=1e-12)


def test_v4_pro_swa_bytes_per_token_and_ratio_to_compressed():
    m = model("deepseek-v4-pro")
    swa_per_token = kv_window_state_bytes(m) / m.attention.window
    assert swa_per_token == 61 * 584 == 35_624     # models.md §1.3: 61 x 584, exact
    # compressed volume without indexer keys: 4,521 B; V4 §3.5.2 "approximately 8 times"; 7.9 ±1%
    n_csa = facts(m).layer_kinds["csa"]
    compressed = kv_bytes_per_token(m) - n_csa * indexer_key_bytes(m.attention.indexer) / 4
    assert compressed == pytest.approx(4_521, rel=0.01)
    assert swa_per_token / compressed == pytest.approx(7.9, rel=0.01)


def test_v4_pro_kv_vs_bf16_gqa8_baseline():
    # V4 paper §2.3.4: "approximately 2%" of a BF16 GQA8 (head_dim 128) baseline;
    # models.md §1.3: 5,031 / (61 x 4,096) = 2.0%, ±1% relative. Baseline per token:
    # 61 layers x 2 (K, V) x 8 heads x 128 dims x 2 B = 61 x 4,096.
    baseline = 61 * 2 * 8 * 128 * 2
    assert kv_bytes_per_token(model("deepseek-v4-pro")) / baseline == pytest.approx(0.020, rel=0.01)


# ---- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("preset, total, active, rel", [
    ("deepseek-v3", 671e9, 37e9, 0.03),          # V3 README: 671B total, 37B active; ±3%
    ("deepseek-v4-pro", 1.6e12, 49e9, 0.03),     # V4 paper abstract: 1.6T / 49B; ±3%
    ("deepseek-v4-flash", 284e9, 13e9, 0.03),    # V4 paper abstract: 284B / 13B; ±3%
    ("gpt-oss-120b", 116.8e9, 5.1e9, 0.03),      # OpenAI gpt-oss model card: 116.8B total, 5.1B active; ±3%
])
def test_param_counts(preset, total, active, rel):
    p = facts(model(preset)).params
    assert p.total == pytest.approx(total, rel=rel)
    assert p.active == pytest.approx(active, rel=rel)


def test_llama_405b_params():
    # Meta Llama 3.1 model card: 405B (405.8e9 counted from the config); ±1%
    assert facts(model("llama-3.1-405b")).params.total == pytest.approx(405.8e9, rel=0.01)


def test_mixtral_params():
    # Mistral AI, Mixtral of Experts: 46.7B total; ±1%
    assert facts(model("mixtral-8x7b")).params.total == pytest.approx(46.7e9, rel=0.01)


def test_v3_mtp_params():
    # DeepSeek-V3 README_WEIGHTS.md: the MTP module adds 11.5B unique parameters; ±5%
    assert facts(model("deepseek-v3")).params.mtp == pytest.approx(11.5e9, rel=0.05)


# ---- training FLOPs --------------------------------------------------------------------------------

@pytest.mark.parametrize("preset, gflops", [
    ("deepseek-v3", 250),        # ISCA '25 Table 2: V3 MoE 250 GFLOPs/token; ±4%
    ("llama-3.1-405b", 2448),    # ISCA '25 Table 2: LLaMA-405B dense 2448 GFLOPs/token; ±4%
])
def test_train_flops_per_token_at_4096(preset, gflops):
    assert train_flops_per_token(model(preset), 4096) == pytest.approx(gflops * 1e9, rel=0.04)


# ---- decode FLOPs: the V4 efficiency claim ----------------------------------------------------------

@pytest.mark.parametrize("preset, share, tol", [
    ("deepseek-v4-pro", 0.27, 0.05),     # V4 abstract / Figure 1: 27% of V3.2's single-token FLOPs at 1M
    ("deepseek-v4-flash", 0.10, 0.04),   # V4 abstract / Figure 1: 10%
])
def test_v4_decode_flops_share_of_v32_at_1m(preset, share, tol):
    ratio = decode_flops_per_token(model(preset), MILLION) / decode_flops_per_token(model("deepseek-v3.2"), MILLION)
    assert ratio == pytest.approx(share, abs=tol)


# ---- weight bytes and formats ------------------------------------------------------------------------

def test_v4_flash_checkpoint_bytes():
    # models.md §1.7: V4-Flash safetensors ≈ 160.0e9 B (MTP included) [S]; ±3%
    assert facts(model("deepseek-v4-flash")).weights.total_with_mtp == pytest.approx(160.0e9, rel=0.03)


def test_v4_pro_routed_experts_at_mxfp4():
    # models.md §1.7: 1.547T routed-expert params x 4.25 bit ≈ 822 GB; ±1%
    m = model("deepseek-v4-pro")
    assert m.precision.expert_weights == Dtype.mxfp4
    assert facts(m).params.routed_experts == pytest.approx(1.547e12, rel=0.01)
    assert facts(m).weights.routed_experts == pytest.approx(822e9, rel=0.01)


@pytest.mark.parametrize("dtype, bits", [
    (Dtype.mxfp4, 4.25),             # OCP MX v1.0: 32-element blocks, 8-bit E8M0 scale
    (Dtype.nvfp4, 4.5),              # NVFP4: 16-element blocks, FP8 E4M3 scale
    (Dtype.fp8, 8 + 32 / 16384),     # DeepSeek-V3 §3.3: 128x128 blocks, one FP32 scale each
    (Dtype.bf16, 16),
])
def test_weight_bits_per_param(dtype, bits):
    assert weight_bytes_per_param(dtype) * 8 == bits   # exact


# ---- sliding window (hand-derived) -----------------------------------------------------------------

def test_gpt_oss_sliding_window_kv_per_sequence():
    # gpt-oss-120b: 36 layers alternating sliding (window 128) and full, 8 KV heads x 64 dims, BF16.
    # At 100,000 tokens: full layers hold every token, sliding layers only the last 128.
    m = model("gpt-oss-120b")
    per_token_layer = 2 * 8 * 64 * 2      # K and V, 8 heads, 64 dims, 2 B
    expected = 18 * 100_000 * per_token_layer + 18 * 128 * per_token_layer
    assert kv_bytes_per_sequence(m, 100_000) == expected        # exact
    assert kv_bytes_per_token(m) == 18 * per_token_layer         # only full layers grow
    assert kv_window_state_bytes(m) == 18 * 128 * per_token_layer


def test_kv_read_per_step_sparse_reads_top_k():
    # V3.2 (DSA): a decode step scans every indexer key but reads only the top-2048 latents.
    m = model("deepseek-v3.2")
    assert kv_read_bytes_per_step(m, MILLION) == 61 * 132 * MILLION + 61 * 656 * 2048   # exact
    # V4-Pro: window in every layer, CSA keys all scanned, top-1024 CSA entries, all HCA entries.
    p = model("deepseek-v4-pro")
    expected = 61 * 584 * 128 + 30 * 68 * (MILLION // 4) + 30 * 584 * 1024 + 31 * 584 * (MILLION // 128)
    assert kv_read_bytes_per_step(p, MILLION) == expected   # exact


# ---- causal sums -------------------------------------------------------------------------------------

@pytest.mark.parametrize("new, prefix", [(1, 0), (4096, 0), (1000, 3000)])
def test_dense_prefill_is_matmuls_plus_causal_attention(new, prefix):
    # Llama-3.1-8B: 32 layers x 32 heads x 128 dims; a token at position x does QK^T and AV over
    # x keys: 2 matmuls x 2 FLOPs x heads x dims x x. Summed over positions prefix+1 .. prefix+new.
    m = model("llama-3.1-8b")
    per_position = 32 * 4 * 32 * 128
    positions = (prefix + 1 + prefix + new) * new // 2
    expected = 2 * facts(m).params.active_matmul * new + per_position * positions
    assert prefill_flops(m, new, prefix) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(prefix=st.integers(0, 5000), new=st.integers(0, 5000), coef=st.floats(0.5, 1e4))
def test_causal_sum_ratio1_matches_loop(prefix, new, coef):
    t = Term(coef)
    brute = math.fsum(t.at(prefix + i) for i in range(1, new + 1))
    assert t.causal_sum(prefix, new) == pytest.approx(brute, rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(prefix=st.integers(0, 5000), new=st.integers(0, 5000), ratio=st.integers(1, 256),
       cap=st.one_of(st.just(math.inf), st.integers(1, 2048)), coef=st.floats(0.5, 1e4))
def test_causal_sum_matches_continuous_loop(prefix, new, ratio, cap, coef):
    # Term.causal_sum is the continuous form: sum of coef x min((p + i) / ratio, cap), i = 1..new
    brute = coef * math.fsum(min((prefix + i) / ratio, cap) for i in range(1, new + 1))
    assert Term(coef, ratio, cap).causal_sum(prefix, new) == pytest.approx(brute, rel=1e-9, abs=1e-9)


# ---- invariants ----------------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(PRESETS), a=st.integers(0, 2**21), b=st.integers(0, 2**21))
def test_kv_per_sequence_non_decreasing_in_context(name, a, b):
    m = model(name)
    lo, hi = sorted((a, b))
    assert kv_bytes_per_sequence(m, lo) <= kv_bytes_per_sequence(m, hi)


@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(PRESETS), a=st.integers(0, 2**21), b=st.integers(0, 2**21))
def test_decode_flops_non_decreasing_in_context(name, a, b):
    m = model(name)
    lo, hi = sorted((a, b))
    assert decode_flops_per_token(m, lo) <= decode_flops_per_token(m, hi)


NARROWING = ("bf16", "fp8", "nvfp4")


@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(PRESETS), field=st.sampled_from(("weights", "experts", "shared_experts", "embeddings")))
def test_narrower_precision_never_adds_weight_bytes(name, field):
    totals = []
    for dtype in NARROWING:
        w = facts(model(name, io.parse_overrides([f"model.precision.{field}={dtype}"]))).weights
        totals.append((w.total, w.total_with_mtp))
    for wider, narrower in zip(totals, totals[1:], strict=False):
        assert narrower[0] <= wider[0] and narrower[1] <= wider[1]
