"""The per-phase performance model (planner.perf.phases), its traffic (planner.perf.comm), the HBM budget
(planner.perf.memory) and the verdicts they produce (planner.plan.verdicts, on one replica as `estimate`
evaluates it).

Each test states its source or hand derivation and its tolerance. Property tests check the
monotonicity DESIGN.md "Quality bar" asks for.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.inputs import io
from planner.inputs.io import default_engine
from planner.inputs.layout import parse_layout
from planner.inputs.workload import Workload
from planner.model import facts as M
from planner.perf.comm import ep_all_to_all
from planner.perf.memory import hbm_budget, kv_share, weights_per_gpu
from planner.perf.phases import _expert_hit_fraction, decode_step, decode_work, phase, prefill
from planner.plan.verdicts import judge
from planner.serving.deployment import evaluate_layout

PROPS = settings(max_examples=40, deadline=None)


def model(name: str, *sets: str):
    return io.load_model(name, io.parse_overrides(list(sets)))


def hardware(name: str, *sets: str):
    return io.load_hardware(name, io.parse_overrides(list(sets)))


class Estimate:
    """One replica of a layout at its capacity (what `planner estimate` evaluates), for these tests."""

    def __init__(self, m, hw, layout, isl, osl):
        w = Workload(name="estimate", requests_per_s=1.0, isl=isl, osl=osl, prefix_cache="resident")
        self.model, self.hardware, self.layout, self.isl, self.osl = m, hw, layout, isl, osl
        self.deployment = evaluate_layout(m, hw, w, layout, one_replica=True)
        self.unit = u = self.deployment.unit
        self.verdicts = judge(self.deployment)
        self.feasible = self.deployment.feasible
        self.budget, self.decode, self.prefill = u.budget, u.decode, u.prefill
        self.tpot_s, self.tokens_per_s_per_gpu = u.tpot_s, u.tokens_per_s_per_gpu


def estimate(m, hw, layout, isl, osl):
    return Estimate(m, hw, layout, isl, osl)


def run(model_name, hw_name, layout, batch, isl, osl, *sets, **extra):
    return estimate(model(model_name, *sets), hardware(hw_name, *sets), parse_layout(layout, batch=batch, **extra),
                    isl=isl, osl=osl)


def with_text(verdicts, text):
    return [v for v in verdicts if text in v.message]


# ---- 2. EP traffic against the machine balance (DeepSeek-V4 §3.1) ---------------------------

V4_EP = ("deepseek-v4-pro", "gb200-nvl72", "tp=1,dp=64,ep=64", 64, 4096, 1024)


def test_v4_pro_ep_hides_at_fp8_on_gb200():
    # V4-Pro: 6·d / (1 B + 2 B) = 6·3072/3 = 6144 FLOPs/B. Preset experts are MXFP4 x FP8 activations
    # -> FP8 rate: 5 PFLOP/s / 0.9 TB/s = 5,556 <= 6,144: hidden.
    e = run(*V4_EP)
    hides = with_text(e.verdicts, "hides")
    assert len(hides) == 1
    assert hides[0].severity == "info"
    assert hides[0].resource == "scale_up"
    assert "5,556" in hides[0].message and "6,144" in hides[0].message
    assert not with_text(e.verdicts, "exposed")


def test_v4_pro_ep_exposed_at_fp4_on_gb200():
    # W4A4 experts reach the FP4 peak: 10 PFLOP/s / 0.9 TB/s = 11,111 > 6,144: exposed.
    # Needed scale-up bandwidth = 10e15 / 6144 = 1.6276e12 B/s -> "1.628 TB/s".
    e = run(*V4_EP, "model.precision.expert_activations=nvfp4")
    exposed = with_text(e.verdicts, "exposed")
    assert len(exposed) == 1
    v = exposed[0]
    assert v.severity == "warning"
    assert v.resource == "scale_up"
    assert "11,111" in v.message
    assert f"{10e15 / 6144 / 1e12:.3f} TB/s" == "1.628 TB/s"
    assert "1.628 TB/s" in v.lever
    assert "900 GB/s" in v.lever
    assert e.feasible   # a warning, not an error


# ---- 3. batch-1 dense decode is HBM-bound ------------------------------------------------------

def test_llama70b_batch1_decode_is_hbm_bound():
    # Hand derivation: one decode step reads every non-embedding weight once, TP-sharded 8 ways, plus
    # this GPU's 1/8 of the KV heads (8 KV heads / tp 8) at the mean context isl + osl/2 = 2176, plus
    # the new token's KV write. Rates are the measured ones (presets/validation/kernel_efficiency.toml,
    # h200-sxm): each BF16 matrix streams at the rate of its size bin — QKV 8192 x 10240/8 = 10.5M and
    # O 8192 x 8192/8 = 8.4M elements at 0.446 (4-16M), gate/up 8192 x 57344/8 = 58.7M and down 29.4M
    # at 0.658 (16-64M), the LM head 8192 x 128256/8 = 131M at 0.800 (64-256M), of 4.8 TB/s; decode
    # attention streams BF16 KV at 0.653.
    m, hw = model("llama-3.1-70b"), hardware("h200-sxm")
    assert hw.hbm.bandwidth_bytes_per_s == pytest.approx(4.8e12) and hw.efficiency.kernel_table == "h200-sxm"
    lay = parse_layout("tp=8", batch=1)
    e = estimate(m, hw, lay, isl=2048, osl=256)
    w = M.facts(m).weights
    weight_bytes = (w.attention + w.dense_mlp + w.small_tensors + w.lm_head) / 8
    assert weight_bytes == pytest.approx(17.4e9, rel=0.01)          # ~139 GB of BF16 matmul weights / 8
    mats = [(8192 * 10240 / 8, 80, 0.446), (8192 * 8192 / 8, 80, 0.446), (8192 * 57344 / 8, 80, 0.658),
            (8192 * 28672 / 8, 80, 0.658), (8192 * 128256 / 8, 1, 0.800)]
    stream_eff = sum(n * c for n, c, _ in mats) / sum(n * c / eff for n, c, eff in mats)
    assert stream_eff == pytest.approx(0.609, abs=0.001)
    ctx = 2048 + 256 // 2
    kv_bytes = (M.kv_read_bytes_per_step(m, ctx) + M.kv_bytes_per_token(m)) / 8
    # GQA 2·L·n_kv·d·b = 2·80·8·128·2 = 327,680 B/token (ISCA '25 Table 1 convention)
    assert M.kv_bytes_per_token(m) == 327_680
    expected = weight_bytes / (4.8e12 * stream_eff) + kv_bytes / (4.8e12 * 0.653)   # ~6.1 ms
    assert e.decode.bottleneck == "hbm"
    assert e.decode.hbm_s == pytest.approx(expected, rel=0.05)
    decode_verdicts = [v for v in e.verdicts if v.phase == "decode" and v.resource == "hbm"]
    assert decode_verdicts and "HBM" in decode_verdicts[0].message
    # no MTP: one token per step; the mixed steps a user sees carry prompt chunks, so they take longer
    assert e.unit.accepted_tokens == 1
    assert e.tpot_s == pytest.approx(e.unit.step.time_s, rel=1e-12)
    assert e.unit.step.time_s > e.decode.time_s


# ---- 4. weights that do not fit ----------------------------------------------------------------

def test_llama405b_bf16_on_one_h100_is_infeasible_with_a_lever():
    # 405B x 2 B ~ 812 GB; H100 usable 85.5 GB minus 6.3 GB reserve ~ 79 GB -> /8 = 101 GB does not
    # fit, /16 = 51 GB does: the smallest TP that holds the weights is 16.
    e = run("llama-3.1-405b", "h100-sxm", "tp=1", 1, 2048, 256)
    assert e.feasible is False
    errors = [v for v in e.verdicts if v.severity == "error"]
    assert errors and errors[0].resource == "hbm"
    assert "tp=16" in errors[0].lever
    assert "16 GPUs" in errors[0].lever
    assert e.budget.weights_bytes == pytest.approx(2 * 405e9, rel=0.01)


# ---- 5. MLA at TP8 replicates the latent; GQA shards heads -------------------------------------

def test_mla_kv_replicated_across_tp_ranks():
    # kv_share is 1 for latent KV at any TP; tp=8,dp=1,batch 8 holds 8 sequences each on all 8 GPUs,
    # tp=1,dp=8,batch 1 holds the same 8 sequences once each: 8x the KV per GPU, exactly.
    m = model("deepseek-v3")
    assert kv_share(m, parse_layout("tp=8,dp=1,ep=8")) == 1.0
    tp8 = run("deepseek-v3", "h200-sxm", "tp=8,dp=1,ep=8", 8, 2048, 256)
    dp8 = run("deepseek-v3", "h200-sxm", "tp=1,dp=8,ep=8", 1, 2048, 256)
    assert tp8.budget.kv_per_sequence_bytes == dp8.budget.kv_per_sequence_bytes
    assert tp8.budget.kv_bytes == 8 * dp8.budget.kv_bytes
    msg = "every one of the 8 TP ranks"
    tp8_warn = [v for v in with_text(tp8.verdicts, msg) if v.severity == "warning"]
    assert len(tp8_warn) == 1
    assert not with_text(dp8.verdicts, "TP ranks")


def test_gqa_kv_shards_up_to_the_head_count():
    # llama-3.1-70b has 8 KV heads: tp=8 -> 1 head per GPU (1/8); tp=16 replicates heads (still 1/8).
    m = model("llama-3.1-70b")
    assert kv_share(m, parse_layout("tp=1")) == 1.0
    assert kv_share(m, parse_layout("tp=2")) == pytest.approx(1 / 2)
    assert kv_share(m, parse_layout("tp=8")) == pytest.approx(1 / 8)
    assert kv_share(m, parse_layout("tp=16")) == pytest.approx(1 / 8)
    assert kv_share(m, parse_layout("tp=8,pp=2")) == pytest.approx(1 / 16)   # PP splits the layers


# ---- 6. EP outside the scale-up domain ---------------------------------------------------------

def test_ep64_on_h200_crosses_the_scale_out_network():
    # h200-sxm domain = 8 GPUs: ep=64 spans 8 domains, so 56 of 63 peers sit behind the NICs.
    e = run("deepseek-v3", "h200-sxm", "tp=1,dp=64,ep=64", 8, 2048, 256)
    assert e.decode.scale_out_s > 0
    # prefill's NIC traffic rivals its compute (whichever binds, the crossing is named)
    assert e.prefill.scale_out_s > 0.5 * e.prefill.compute_s
    assert with_text(e.verdicts, "spans 8 scale-up domains")
    # DeepEP-style dedup: a token crosses the NICs once per other node holding one of its 8 experts,
    # 7 x (1 - (7/8)^8) = 4.45 copies, not the 8 x 56/64 = 7 pairs that live behind the NICs
    t = e.prefill.traffic
    per_pair = t.ep_scale_out_bytes / (7 * (1 - (7 / 8) ** 8))
    relayed = 8 * 56 / 64 * 7 / 8 + 8 * 7 / 64      # forwarded inside the destination node + own node
    assert t.ep_bytes - t.ep_scale_out_bytes == pytest.approx(per_pair * relayed, rel=1e-12)


def test_ep64_on_gb200_stays_inside_the_nvl72_domain():
    e = run("deepseek-v3", "gb200-nvl72", "tp=1,dp=64,ep=64", 8, 2048, 256)
    assert e.prefill.scale_out_s == 0
    assert e.decode.scale_out_s == 0
    assert not with_text(e.verdicts, "scale-up domains")


# ---- 7. ISCA '25 §2.3.2 all-to-all -------------------------------------------------------------

def test_ep_all_to_all_bytes_match_isca25():
    # ISCA '25 §2.3.2: (1 B + 2 B) x 32 tokens x 9 experts x 7K hidden / 50 GB/s = 120.96 µs per layer
    # (9 = 8 routed + 1 shared; FP8 dispatch, BF16 combine), every token-expert pair over the NIC.
    # DeepEP's internode dispatch (DeepSeek-V3 §3.2.2) sends a token once per remote node holding one of
    # its experts: of the 31 other 8-GPU nodes of EP256, 31 x (1 - (31/32)^9) = 7.70 on average, and
    # forwards it over NVLink there; pairs on the token's own node go over NVLink directly.
    ep = 256
    m = model("deepseek-v3", "model.moe.experts_per_token=9")
    hw = hardware("h800-sxm")
    lay = parse_layout(f"tp=1,dp={ep},ep={ep}")
    t = ep_all_to_all(m, hw, lay, tokens_per_rank=32)
    layers = m.moe_layer_count()
    assert layers == 58                                   # 61 layers, first 3 dense
    copies = 31 * (1 - (31 / 32) ** 9)
    assert copies == pytest.approx(7.70, abs=0.01)
    assert t.scale_out_bytes / layers == pytest.approx(3 * 32 * copies * 7168, rel=1e-12)
    local, relayed = 9 * 7 / 256, 9 * 248 / 256 * 7 / 8
    assert t.scale_up_bytes / layers == pytest.approx(3 * 32 * (local + relayed) * 7168, rel=1e-12)
    assert t.ep_bytes == pytest.approx(t.scale_up_bytes + t.scale_out_bytes, rel=1e-12)
    # the paper's time, with its rounded hidden size 7K = 7,000, scaled by the deduplicated copies
    m7k = model("deepseek-v3", "model.moe.experts_per_token=9", "model.hidden_size=7000")
    t7k = ep_all_to_all(m7k, hw, lay, tokens_per_rank=32)
    seconds = t7k.scale_out_bytes / layers / hw.scale_out.bandwidth_bytes_per_s
    assert hw.scale_out.bandwidth_bytes_per_s == pytest.approx(50e9)   # 400 Gb/s CX7
    assert seconds == pytest.approx(120.96e-6 * copies / 9, rel=1e-9)


# ---- 8. properties ------------------------------------------------------------------------------

MODELS = ("llama-3.1-70b", "deepseek-v3", "deepseek-v4-pro", "qwen3-30b-a3b", "mixtral-8x7b", "gpt-oss-120b")
PIN_HARDWARE = ("gb200-nvl72", "h200-sxm", "vr200-nvl72", "b200-hgx")
_M = {name: io.load_model(name) for name in MODELS}
_LAYOUT = {"llama-3.1-70b": "tp=8"}   # MoE models: attention-DP with experts over the 8 GPUs


def _layout_for(name: str, batch: int):
    return parse_layout(_LAYOUT.get(name, "tp=1,dp=8,ep=8"), batch=batch)


@PROPS
@given(name=st.sampled_from(MODELS), hw=st.sampled_from(PIN_HARDWARE),
       pins=st.tuples(st.floats(4.0, 16.0), st.floats(4.0, 16.0)), batch=st.integers(1, 256))
def test_faster_hbm_never_slows_a_phase(name, hw, pins, batch):
    lo, hi = sorted(pins)
    m, lay = _M[name], _layout_for(name, batch)
    slow = hardware(hw, f"hardware.hbm.pin_speed_gbps={lo}")
    fast = hardware(hw, f"hardware.hbm.pin_speed_gbps={hi}")
    assert fast.hbm.bandwidth_bytes_per_s >= slow.hbm.bandwidth_bytes_per_s
    for fn in (lambda h: decode_step(m, h, lay, 4096), lambda h: prefill(m, h, lay, 2048)):
        f, s = fn(fast), fn(slow)
        assert f.time_s <= s.time_s * (1 + 1e-12)
        if f.hbm_bytes == s.hbm_bytes:      # same schedule (faster HBM may make two-batch overlap pay)
            assert f.hbm_s <= s.hbm_s * (1 + 1e-12)


@PROPS
@given(name=st.sampled_from(MODELS), hw=st.sampled_from(PIN_HARDWARE),
       bws=st.tuples(st.floats(50.0, 3600.0), st.floats(50.0, 3600.0)), batch=st.integers(1, 256),
       layout=st.sampled_from(("tp=8", "tp=2,dp=4,ep=8", "tp=1,dp=8,ep=8", "tp=4,dp=4,ep=16")))
def test_faster_scale_up_never_slows_a_phase(name, hw, bws, batch, layout):
    lo, hi = sorted(bws)
    m = _M[name]
    if m.moe is None and "ep=" in layout:
        layout = "tp=8"
    lay = parse_layout(layout, batch=batch)
    slow = hardware(hw, f"hardware.scale_up.bandwidth_gbps={lo}")
    fast = hardware(hw, f"hardware.scale_up.bandwidth_gbps={hi}")
    for fn in (lambda h: decode_step(m, h, lay, 4096), lambda h: prefill(m, h, lay, 2048)):
        assert fn(fast).time_s <= fn(slow).time_s * (1 + 1e-12)
        assert fn(fast).scale_up_s <= fn(slow).scale_up_s * (1 + 1e-12)


@PROPS
@given(name=st.sampled_from(MODELS), tp=st.sampled_from((1, 2, 4, 8, 16)), dp=st.sampled_from((1, 2, 4, 8)),
       pp=st.sampled_from((1, 2, 4)), ep_pick=st.integers(0, 10), mtp=st.booleans())
def test_doubling_tp_never_raises_weights_per_gpu(name, tp, dp, pp, ep_pick, mtp):
    m = _M[name]
    divisors = [d for d in range(1, tp * dp + 1) if (tp * dp) % d == 0] if m.moe else [1]
    ep = divisors[ep_pick % len(divisors)]
    a = parse_layout(f"tp={tp},dp={dp},ep={ep},pp={pp}", mtp_depth=int(mtp))
    b = parse_layout(f"tp={2 * tp},dp={dp},ep={ep},pp={pp}", mtp_depth=int(mtp))   # ep still divides 2·tp·dp
    assert weights_per_gpu(m, b) <= weights_per_gpu(m, a)


@PROPS
@given(name=st.sampled_from(("deepseek-v3", "deepseek-v4-pro", "qwen3-30b-a3b", "mixtral-8x7b", "gpt-oss-120b")),
       tokens=st.tuples(st.integers(0, 100_000), st.integers(0, 100_000)))
def test_expert_hit_fraction_grows_with_tokens_and_stays_at_most_one(name, tokens):
    lo, hi = sorted(tokens)
    m = _M[name]
    k, E = m.moe.experts_per_token, m.moe.num_experts
    f_lo, f_hi = _expert_hit_fraction(m, lo), _expert_hit_fraction(m, hi)
    assert 0 <= f_lo <= f_hi <= 1
    assert f_lo == pytest.approx(1 - (1 - k / E) ** lo, abs=1e-15)


def test_expert_hit_fraction_reference_values():
    # DeepSeek-V3, k=8 of E=256: one token hits 8/256; 64 tokens 1-(31/32)^64 = 0.8691.
    m = _M["deepseek-v3"]
    assert _expert_hit_fraction(m, 0) == 0
    assert _expert_hit_fraction(m, 1) == pytest.approx(8 / 256, rel=1e-12)
    assert _expert_hit_fraction(m, 64) == pytest.approx(1 - (31 / 32) ** 64, rel=1e-12)
    assert _expert_hit_fraction(_M["llama-3.1-70b"], 64) == 0      # dense: no experts


@PROPS
@given(name=st.sampled_from(MODELS), hw=st.sampled_from(PIN_HARDWARE),
       batches=st.tuples(st.integers(1, 512), st.integers(1, 512)), ctx=st.integers(1, 131_072),
       mtp=st.booleans())
def test_decode_time_non_decreasing_in_batch(name, hw, batches, ctx, mtp):
    lo, hi = sorted(batches)
    m, h = _M[name], hardware(hw)
    small = decode_step(m, h, _layout_for(name, lo).model_copy(update={"mtp_depth": int(mtp)}), ctx)
    large = decode_step(m, h, _layout_for(name, hi).model_copy(update={"mtp_depth": int(mtp)}), ctx)
    assert large.time_s >= small.time_s * (1 - 1e-12)


@PROPS
@given(name=st.sampled_from(MODELS), hw=st.sampled_from(PIN_HARDWARE),
       ctxs=st.tuples(st.integers(1, 1_000_000), st.integers(1, 1_000_000)), chunk=st.integers(0, 16_384))
def test_max_batch_non_increasing_in_context(name, hw, ctxs, chunk):
    lo, hi = sorted(ctxs)
    m, h, lay = _M[name], hardware(hw), _layout_for(name, 1)
    assert hbm_budget(m, h, lay, hi, chunk).max_batch <= hbm_budget(m, h, lay, lo, chunk).max_batch


# ---- 9. pin-speed sweep ------------------------------------------------------------------------

def test_v4_pro_decode_on_vr200_improves_with_pin_speed():
    # HBM4 pin speed 8 -> 12 Gb/s: decode is HBM-bound, so each step gets faster (never slower).
    m = _M["deepseek-v4-pro"]
    lay = parse_layout("tp=1,dp=64,ep=64", batch=128)
    times, bws = [], []
    for pin in (8, 9, 10, 11, 12):
        hw = hardware("vr200-nvl72", f"hardware.hbm.pin_speed_gbps={pin}")
        bws.append(hw.hbm.bandwidth_bytes_per_s)
        times.append(estimate(m, hw, lay, isl=4096, osl=1024).decode.time_s)
    assert all(b2 == pytest.approx(b1 * (p + 1) / p) for b1, b2, p in zip(bws, bws[1:], (8, 9, 10, 11), strict=False))
    assert all(t2 <= t1 for t1, t2 in zip(times, times[1:], strict=False)), times
    assert times[-1] < times[0]


# ---- 12. MTP -------------------------------------------------------------------------------------

def test_mtp_reduces_tpot_for_deepseek_v3():
    # NVIDIA TRT-LLM DeepSeek-R1 latency blog (2025): per-position MTP acceptance 0.92, 0.717, 0.364,
    # so depth 1 advances 1.92 tokens per step and depth 3 1 + .92 + .92·.717 + .92·.717·.364 = 2.8.
    off = run("deepseek-v3", "h200-sxm", "tp=1,dp=8,ep=8", 8, 2048, 256)
    on = run("deepseek-v3", "h200-sxm", "tp=1,dp=8,ep=8", 8, 2048, 256, mtp_depth=1)
    deep = run("deepseek-v3", "h200-sxm", "tp=1,dp=8,ep=8", 8, 2048, 256, mtp_depth=3)
    assert on.layout.mtp_acceptance == (0.92, 0.717, 0.364)
    assert on.unit.accepted_tokens == pytest.approx(1.92) and off.unit.accepted_tokens == 1
    assert deep.unit.accepted_tokens == pytest.approx(1 + 0.92 + 0.92 * 0.717 + 0.92 * 0.717 * 0.364)
    assert deep.tpot_s < on.tpot_s < off.tpot_s
    assert on.decode.time_s > off.decode.time_s       # verifying drafts costs something
    assert deep.decode.time_s > on.decode.time_s


def _mtp_delta(m, hw, lay, batch, ctx):
    """What the MTP module alone adds to a decode step: the same tokens with and without draft passes."""
    work = decode_work(m, lay, ctx)
    e = default_engine()
    on, off = phase(m, hw, lay, work, engine=e), phase(m, hw, lay, replace(work, draft_passes=0), engine=e)
    return on.hbm_bytes - off.hbm_bytes, on.flops - off.flops


def test_mtp_weight_reads_do_not_exceed_mtp_weights_held():
    # A GPU can only read the MTP weights it holds. Held = weights_per_gpu(mtp) - weights_per_gpu(no mtp).
    m, hw = _M["deepseek-v3"], hardware("h200-sxm")
    lay = parse_layout("tp=1,dp=8,ep=8", batch=8, mtp_depth=1)
    held = weights_per_gpu(m, lay) - weights_per_gpu(m, lay.model_copy(update={"mtp_depth": 0}))
    read, _ = _mtp_delta(m, hw, lay, 8, 2048)
    w = M.facts(m).weights
    # MTP attention/shared parts replicate per DP rank like the main model's; its experts spread
    # over the 8 GPUs: (mtp - mtp_experts) / tp + mtp_experts / (tp * dp) ~ 1.75 GB.
    assert held == pytest.approx((w.mtp - w.mtp_experts) / 1 + w.mtp_experts / 8, rel=1e-9)
    assert read <= held * (1 + 1e-9)


def test_mtp_flops_count_only_active_experts():
    # Active MTP params = all MTP params - (E - k) idle experts x 3·h·d_expert (gate, up, down).
    m, hw = _M["deepseek-v3"], hardware("h200-sxm")
    lay = parse_layout("tp=1,dp=8,ep=8", batch=8, mtp_depth=1)
    expert = 3 * m.hidden_size * m.moe.expert_intermediate_size            # 3·7168·2048 = 44.04M
    idle = (m.moe.num_experts - m.moe.experts_per_token) * expert
    active = M.facts(m).params.mtp - idle
    assert 0.5e9 < active < 1.0e9
    _, flops = _mtp_delta(m, hw, lay, 8, 2048)
    assert flops <= 2 * active * 8 * (1 + 1e-9)


# ---- budget bookkeeping ------------------------------------------------------------------------

@pytest.mark.parametrize("case", [
    ("deepseek-v3", "h200-sxm", "tp=1,dp=8,ep=8", 8, 2048, 256),
    ("llama-3.1-70b", "h200-sxm", "tp=8", 1, 2048, 256),
    ("deepseek-v4-pro", "gb200-nvl72", "tp=1,dp=64,ep=64", 64, 4096, 1024),
])
def test_budget_adds_up_and_max_batch_fits(case):
    e = run(*case)
    b = e.budget
    parts = b.weights_bytes + b.kv_bytes + b.activation_bytes + b.reserve_bytes + b.free_bytes
    assert parts == pytest.approx(b.capacity_bytes, rel=1e-9)
    # the reported max batch fits and one more does not (same context, same prefill chunk)
    m, hw = e.model, e.hardware
    ctx, chunk = e.isl + e.osl, e.isl
    fits = hbm_budget(m, hw, e.layout.model_copy(update={"batch": max(1, b.max_batch)}), ctx, chunk)
    over = hbm_budget(m, hw, e.layout.model_copy(update={"batch": b.max_batch + 1}), ctx, chunk)
    assert fits.fits and not over.fits
    assert math.isfinite(e.tpot_s) and e.tokens_per_s_per_gpu > 0
