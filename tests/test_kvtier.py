"""KV-cache tiers (issue 5), library level: DeepSeek-V4's on-disk format, the Little's-law reuse
model of `plan_tiers`, and monotonicity of hit rates, TTFT and capacity.

Sources: /work/shared/reference/models.md §1.3 (584 B V4 entry, 68 B CSA indexer key, 30 CSA + 31 HCA
layers for Pro, 43 layers for Flash), §1.5 (V4 §3.5.2 on-disk KV cache: compressed entries stored,
tail of an unfinished block recomputed, three window-state policies), §7 (reference values);
the reuse model is the module doc of planner/kv/tiers.py and DESIGN.md "KV tiers".
Tolerances are stated per assertion; integer formulas are exact.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import api
from planner.inputs import io
from planner.inputs.workload import Workload
from planner.kv.tiers import RETENTION_GAPS, WindowPolicy, disk_format, plan_tiers
from planner.serving.deployment import size_deployment

# models.md §1.3 / §7 (exact integers)
ENTRY = 584                       # V4 KV entry, MODEL1_FP8Sparse
INDEXER = 68                      # V4 CSA indexer key
N_WIN = 128                       # sliding window
PRO_LAYERS, FLASH_LAYERS = 61, 43
PRO_SWA_PER_TOKEN = 61 * 584      # 35,624 B
PRO_CHECKPOINT = 61 * 128 * 584   # 4,559,872 B (≈4.56 MB)
FLASH_CHECKPOINT = 43 * 128 * 584  # 3,214,336 B (≈3.21 MB)

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@cache
def _model(name: str):
    return io.load_model(name, {})


def _pro_compressed(ctx: int) -> int:
    """V4-Pro compressed entries stored for ctx tokens (only complete blocks): 30 CSA layers, one
    entry + indexer key per 4 tokens; 31 HCA layers, one entry per 128 tokens (models.md §1.3)."""
    return 30 * (ENTRY + INDEXER) * (ctx // 4) + 31 * ENTRY * (ctx // 128)


# ---- 1. V4 on-disk format (models.md §1.5) ---------------------------------------------------------

@pytest.mark.parametrize("ctx", [7_808, 100_000, 1_000_001, 2**20])
def test_recompute_policy_recomputes_window_times_layers(ctx):
    # §1.5 option 3 (zero SWA caching): recompute n_win·L = 128×61 = 7,808 tokens (Pro),
    # 128×43 = 5,504 (Flash); exact, for ctx ≥ that many tokens.
    pro = disk_format(_model("deepseek-v4-pro"), ctx, WindowPolicy.recompute)
    assert pro.recompute_tokens == N_WIN * PRO_LAYERS == 7_808
    assert pro.window_bytes == 0
    assert pro.stored_bytes == _pro_compressed(ctx)
    flash = disk_format(_model("deepseek-v4-flash"), ctx, WindowPolicy.recompute)
    assert flash.recompute_tokens == N_WIN * FLASH_LAYERS == 5_504
    assert flash.window_bytes == 0


def test_recompute_policy_short_context_recomputes_the_whole_context():
    # fewer tokens than n_win·L: everything there is gets recomputed, not more (exact)
    f = disk_format(_model("deepseek-v4-pro"), 5_000, WindowPolicy.recompute)
    assert f.recompute_tokens == 5_000


@pytest.mark.parametrize("ctx,period", [(2**20, 4096), (100_000, 4096), (1_000_001, 4096), (131_072, 8192),
                                        (8192, 8192)])
def test_checkpoint_policy_window_bytes(ctx, period):
    # §1.5 option 2: every p tokens store the window state of the last n_win tokens:
    # window bytes = 61×128×584 × (ctx // p) (exact); stored = compressed entries + checkpoints.
    f = disk_format(_model("deepseek-v4-pro"), ctx, WindowPolicy.checkpoint, period)
    assert f.window_bytes == PRO_CHECKPOINT * (ctx // period), (f.window_bytes, ctx, period)
    assert f.stored_bytes == _pro_compressed(ctx) + PRO_CHECKPOINT * (ctx // period)
    flash = disk_format(_model("deepseek-v4-flash"), ctx, WindowPolicy.checkpoint, period)
    assert flash.window_bytes == FLASH_CHECKPOINT * (ctx // period)


def test_checkpoint_policy_before_first_checkpoint_stores_none():
    f = disk_format(_model("deepseek-v4-pro"), 2_000, WindowPolicy.checkpoint, 4096)
    assert f.recompute_tokens == 2_000
    assert f.window_bytes == PRO_CHECKPOINT * (2_000 // 4096) == 0, f.window_bytes


@pytest.mark.parametrize("ctx", [7_808, 100_000, 1_000_001, 2**20])
def test_full_policy_stores_window_for_every_token(ctx):
    # §1.5 option 1: SWA for every token, 61×584 = 35,624 B per token (models.md §7, exact)
    f = disk_format(_model("deepseek-v4-pro"), ctx, WindowPolicy.full)
    assert PRO_SWA_PER_TOKEN == 35_624
    assert f.window_bytes == PRO_SWA_PER_TOKEN * ctx
    assert f.stored_bytes == _pro_compressed(ctx) + PRO_SWA_PER_TOKEN * ctx


def test_compressed_bytes_at_one_mebitoken_exact():
    # models.md §1.3: at 2^20 tokens, 30×(584+68)×2^18 CSA + 31×584×2^13 HCA bytes (exact)
    expected = 30 * (584 + 68) * 2**18 + 31 * 584 * 2**13
    assert expected == 5_275_844_608
    for policy in WindowPolicy:
        f = disk_format(_model("deepseek-v4-pro"), 2**20, policy)
        assert f.stored_bytes - f.window_bytes == expected, (policy, f)


@pytest.mark.parametrize("ctx", [1_000_001, 100_000, 2**20 - 1, 130])
def test_tail_tokens_of_unfinished_block_are_recomputed(ctx):
    # §1.5: tokens of an incomplete compression block (ctx % 128 with HCA m' = 128) are not stored
    # and are recomputed on a hit; under `full` there is nothing else to recompute (exact).
    assert ctx % 128 != 0 or ctx == 2**20
    f = disk_format(_model("deepseek-v4-pro"), ctx, WindowPolicy.full)
    assert f.recompute_tokens == ctx % 128
    assert f.stored_bytes - f.window_bytes == _pro_compressed(ctx)   # only complete blocks stored


def test_model_without_windows_stores_plain_kv():
    # V3 (MLA, no sliding window): the disk holds exactly the HBM KV, 70,272 B/token (ISCA Table 1)
    for policy in WindowPolicy:
        f = disk_format(_model("deepseek-v3"), 5_595, policy)
        assert f.stored_bytes == 70_272 * 5_595 and f.window_bytes == 0 and f.recompute_tokens == 0


# ---- 8. Little's law (hand-derived) ------------------------------------------------------------------

def test_littles_law_retention_and_capacity():
    # Hand derivation (planner/kv/tiers.py module doc, DESIGN "capacity = rate × lifetime × bytes"):
    # turns end at r·(1 − 1/T) per second; with no session lifetime a state is kept 5 mean gaps;
    # capacity = r·(1 − 1/T) · 5g · disk bytes per session. V3 has no window: disk bytes =
    # 70,272 B × final context. r = 4/s, T = 10, g = 30 s, final ctx 30,000 + 2,000 + 500.
    m, hw = _model("deepseek-v3"), io.load_hardware("h200-sxm", {})
    w = Workload(name="t", requests_per_s=4.0, isl=2000, prefix=30_000, osl=500, turns_per_session=10,
                 turn_gap_s=30)
    assert w.session_lifetime_s is None
    s = size_deployment(m, hw, w, compare_domains=False)
    assert s.unit is not None and s.cluster is not None
    kv = plan_tiers(m, hw, w, s.unit, s.requests_per_s, s.cluster, s.engine)
    assert kv.retention_s == pytest.approx(5 * 30, rel=1e-12) and RETENTION_GAPS == 5
    assert kv.turn_end_rate == pytest.approx(4 * (1 - 1 / 10), rel=1e-12)
    disk = 70_272 * 32_500
    assert kv.disk.stored_bytes == disk
    needed = 4 * (1 - 1 / 10) * 150 * disk
    g1 = kv.tiers[0]
    assert g1.tier == "G1"
    assert g1.capacity_needed_bytes == pytest.approx(needed, rel=1e-9)       # total, before any tier holds
    assert g1.alone_capacity_bytes == pytest.approx(needed, rel=1e-9)
    # what each tier holds plus what is still needed after the last adds back to the total
    held = sum(min(t.capacity_needed_bytes, t.capacity_available_bytes) for t in kv.tiers if t.present)
    assert held <= needed * (1 + 1e-9)
    # the sizing pipeline computes the same tiers
    assert s.kv is not None and s.kv.tiers[0].capacity_needed_bytes == pytest.approx(needed, rel=1e-9)


def test_session_lifetime_caps_retention():
    # lifetime shorter than 5 gaps: retention = lifetime (exact)
    m, hw = _model("deepseek-v3"), io.load_hardware("h200-sxm", {})
    w = Workload(name="t", requests_per_s=4.0, isl=2000, prefix=30_000, osl=500, turns_per_session=10,
                 turn_gap_s=30, session_lifetime_s=60)
    s = size_deployment(m, hw, w, compare_domains=False)
    assert s.kv is not None
    assert s.kv.retention_s == 60
    assert s.kv.tiers[0].capacity_needed_bytes == pytest.approx(4 * 0.9 * 60 * 70_272 * 32_500, rel=1e-9)


# ---- 4. zero capacity, hit-rate bounds and monotonicity in capacity -----------------------------------

@cache
def _day6(*sets: str):
    """deepseek-v3 / deepseek-day6 on h200-sxm with overrides, sized as the `kv` command does."""
    return api.size("deepseek-v3", "h200-sxm", "deepseek-day6", sets=io.parse_overrides(list(sets)),
                    compare_domains=False)


def _tier(p, name: str):
    return next(t for t in p.kv_tiers if t.tier == name)


def test_zero_capacity_tiers_give_zero_hits():
    d = _day6("hardware.nvme.drives_per_node=0", "hardware.host.capacity_gb_per_node=0")
    for name in ("G2", "G3"):
        t = _tier(d, name)
        assert t.capacity_available_bytes == 0 and t.hit_rate == 0, t
    # present but zero-sized drives: still no hits
    d = _day6("hardware.nvme.drive_capacity_tb=0", "hardware.host.capacity_gb_per_node=0")
    g3 = _tier(d, "G3")
    assert g3.present and g3.capacity_available_bytes == 0 and g3.hit_rate == 0, g3
    # a zero-capacity pod flash tier on vr200
    ov = io.parse_overrides(["hardware.pod_flash.capacity_tb_per_rack=0", "hardware.host.capacity_gb_per_node=0",
                             "hardware.nvme.drives_per_node=0"])
    d = api.size("deepseek-v3", "vr200-nvl72", "deepseek-day6", sets=ov, compare_domains=False)
    g35 = _tier(d, "G3.5")
    assert g35.present and g35.capacity_available_bytes == 0 and g35.hit_rate == 0, g35


@FAST
@given(drives=st.lists(st.integers(0, 16), min_size=2, max_size=2),
       tb=st.lists(st.sampled_from([0.0, 0.01, 0.03, 0.05, 0.1, 0.2]), min_size=2, max_size=2))
def test_hit_rate_never_falls_with_more_nvme_capacity(drives, tb):
    # host memory off so that G3 is the tier that matters; capacity = drives × drive TB × nodes
    # (0 … 16 × 0.2 TB × nodes, below and above the ~142 TB the sessions need)
    (d1, d2), (t1, t2) = sorted(drives), sorted(tb)
    small = _day6(f"hardware.nvme.drives_per_node={d1}", f"hardware.nvme.drive_capacity_tb={t1}",
                  "hardware.host.capacity_gb_per_node=0")
    big = _day6(f"hardware.nvme.drives_per_node={d2}", f"hardware.nvme.drive_capacity_tb={t2}",
                "hardware.host.capacity_gb_per_node=0")
    for d in (small, big):
        rates = [t.hit_rate for t in d.kv_tiers]
        assert all(0 <= r <= 1 for r in rates) and sum(rates) <= 1 + 1e-12, rates
        assert d.kv.hit_rate == pytest.approx(sum(rates), abs=1e-12)
        if _tier(d, "G3").capacity_available_bytes == 0:
            assert _tier(d, "G3").hit_rate == 0
    assert _tier(small, "G3").capacity_available_bytes <= _tier(big, "G3").capacity_available_bytes
    assert _tier(big, "G3").hit_rate >= _tier(small, "G3").hit_rate - 1e-12, (d1, t1, d2, t2)
    assert big.kv.hit_rate >= small.kv.hit_rate - 1e-12, (small.kv.hit_rate, big.kv.hit_rate)


# ---- 9. monotonicity in read bandwidth and turn gap -----------------------------------------------------

@FAST
@given(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.5, 7.0, 14.0, 28.0, 64.0]), min_size=2, max_size=2))
def test_faster_nvme_never_lowers_hits_or_raises_ttft(reads):
    # host memory off so that G3 serves most hits; tolerance 1e-12 absolute on rates, 1e-9 rel on TTFT
    lo, hi = sorted(reads)
    slow = _day6(f"hardware.nvme.drive_read_gbps={lo}", "hardware.host.capacity_gb_per_node=0")
    fast = _day6(f"hardware.nvme.drive_read_gbps={hi}", "hardware.host.capacity_gb_per_node=0")
    # Hits may move between tiers (a G3 slower than break-even is skipped and G4 serves instead), so
    # the invariants are the upgraded tier's own hits, the total, and TTFT.
    assert _tier(fast, "G3").hit_rate >= _tier(slow, "G3").hit_rate - 1e-12, (lo, hi)
    assert fast.kv.hit_rate >= slow.kv.hit_rate - 1e-12
    assert fast.kv.ttft_with_tiers_s <= slow.kv.ttft_with_tiers_s * (1 + 1e-9), \
        (lo, hi, slow.kv.ttft_with_tiers_s, fast.kv.ttft_with_tiers_s)


def test_unreadable_tier_is_not_faster_than_a_slow_one():
    zero = _day6("hardware.nvme.drive_read_gbps=0", "hardware.host.capacity_gb_per_node=0")
    slow = _day6("hardware.nvme.drive_read_gbps=0.001", "hardware.host.capacity_gb_per_node=0")
    assert zero.kv.ttft_with_tiers_s >= slow.kv.ttft_with_tiers_s, \
        (zero.kv.ttft_with_tiers_s, slow.kv.ttft_with_tiers_s, _tier(zero, "G3").hit_rate)


@FAST
@given(st.lists(st.sampled_from([0.0, 1.0, 10.0, 60.0, 300.0, 700.0, 3600.0]), min_size=2, max_size=2))
def test_longer_turn_gap_never_lowers_needed_capacity(gaps):
    # needed = r(1 − 1/T) · min(lifetime, 5g) · bytes: non-decreasing in g (day6 lifetime 3,600 s caps it)
    lo, hi = sorted(gaps)
    a = _day6(f"workload.turn_gap_s={lo}")
    b = _day6(f"workload.turn_gap_s={hi}")
    need_a, need_b = _tier(a, "G1").capacity_needed_bytes, _tier(b, "G1").capacity_needed_bytes
    assert need_b >= need_a * (1 - 1e-12), (lo, hi, need_a, need_b)
    assert _tier(b, "G3").alone.capacity_needed_bytes >= _tier(a, "G3").alone.capacity_needed_bytes * (1 - 1e-12)
    expected = 1603 * 0.75 * min(3600, 5 * max(hi, 1e-3)) * 70_272 * 5_595
    assert need_b == pytest.approx(expected, rel=1e-9)


# ---- 10. no prefix, no reuse --------------------------------------------------------------------------

def test_no_prefix_means_no_hits():
    d = api.size("deepseek-v3", "h200-sxm", "rag", compare_domains=False)
    assert all(t.hit_rate == 0 for t in d.kv_tiers)
    assert d.kv.hit_rate == 0
    assert any("reuses no prefix" in v.message for v in d.verdicts)
    assert d.kv.break_even_bytes_per_s_per_gpu is None   # nothing to load: no break-even


# ---- issue 19: tiers that share a storage link (BlueField-4 class) share its bandwidth -----------

def test_pod_flash_and_shared_storage_are_capped_by_their_shared_link():
    """vr200-nvl72: one BlueField-4 (800 Gb/s = 100 GB/s) per 4-GPU tray carries both G3.5 and G4.
    Each alone is capped at the link; with the link halved, G3.5 reads 12.5 GB/s per GPU."""
    from planner.kv.tiers import available_tiers
    hw = io.load_hardware("vr200-nvl72")
    tiers = {t.tier: t for t in available_tiers(hw, 72, 18, 1, 0.0)}
    assert tiers["G3.5"].link == tiers["G4"].link == "BlueField-4 DPU (800 Gb/s)"
    assert tiers["G3.5"].read_bytes_per_s_per_gpu == pytest.approx(25e9)         # 100 GB/s / 4 GPUs
    assert tiers["G3.5"].write_bytes_per_s_available == pytest.approx(25e9 * 72)
    assert tiers["G4"].write_bytes_per_s_available == pytest.approx(50e9 * 18)
    assert tiers["G3.5"].latency_s == pytest.approx(100e-6)
    halved = io.load_hardware("vr200-nvl72", {"hardware.storage_link.bandwidth_gbps_per_node": 50})
    tiers = {t.tier: t for t in available_tiers(halved, 72, 18, 1, 0.0)}
    assert tiers["G3.5"].read_bytes_per_s_per_gpu == pytest.approx(12.5e9)
    assert tiers["G4"].read_bytes_per_s_available == pytest.approx(50e9 * 18)


def test_shared_link_over_its_bandwidth_is_a_verdict():
    """Reads and writes of G3.5 and G4 together are checked against the link, not each tier alone:
    with host memory and NVMe taken away, the agentic sessions of a one-GPU unit (little spare HBM)
    land on pod flash and shared storage, whose writes together (~10.5 GB/s per tray) exceed a
    10 GB/s link. (The layout is pinned: sized freely, the search avoids the link with a unit whose
    spare HBM holds most sessions.)"""
    from planner.inputs.layout import Layout
    from planner.kv.tiers import tier_verdicts
    from planner.serving.deployment import evaluate_layout
    sets = {"hardware.host.capacity_gb_per_node": 0, "hardware.nvme.drives_per_node": 0,
            "hardware.pod_flash.capacity_tb_per_rack": 1}
    w = io.load_workload("agentic", {})
    for link, over in ((100, False), (10, True)):
        hw = io.load_hardware("vr200-nvl72", {**sets, "hardware.storage_link.bandwidth_gbps_per_node": link})
        d = evaluate_layout(_model("deepseek-v4-flash"), hw, w, Layout(tp=1, batch=249))
        assert d.kv is not None
        linked = [t for t in d.kv.tiers if t.link]
        assert {t.tier for t in linked} == {"G3.5", "G4"}
        writes = sum(t.write_bytes_per_s_needed for t in linked)
        assert (writes > link * 1e9 * d.kv.nodes) == over
        flagged = any("share the BlueField-4" in v.message for v in tier_verdicts(hw, w, d.kv))
        assert flagged == over
