"""`planner.sizing.size` and `planner.cluster`: the layout search, the cluster count and the
scale-up domain comparison (DESIGN.md "The math" -> Scale-up domain, Cluster).

Property tests (DESIGN.md "Quality bar"): more demand, a tighter TPOT or less HBM never lowers
the GPU count; an infeasible plan counts as +infinity GPUs. The combinations are kept small
(llama-3.1-70b on h200-sxm, qwen3-30b-a3b on h100-sxm; chat and batch) so each example takes
tens of milliseconds; the domain comparison is switched off there because it does not change
`best`.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from planner import io
from planner.cluster import cluster, power_per_gpu_w
from planner.sizing import DOMAIN_SIZES, DomainRow, demand_requests_per_s, size
from planner.verdicts import Severity, ep_crossing_verdict

COMBOS = [("llama-3.1-70b", "h200-sxm"), ("qwen3-30b-a3b", "h100-sxm")]
WORKLOADS = ["chat", "batch"]
PROPERTY = settings(max_examples=25, deadline=None)


def sized(model: str, hardware: str, workload: str, *sets: str, compare_domains: bool = False):
    o = io.parse_overrides(list(sets))
    return size(io.load_model(model, o), io.load_hardware(hardware, o), io.load_workload(workload, o),
                compare_domains=compare_domains)


def gpus(s) -> float:
    """GPUs of the chosen plan; infeasible is +infinity so that 'never fewer' stays one comparison."""
    return math.inf if s.best is None else s.best.cluster.gpus


# ---- properties ----------------------------------------------------------------------------------

@PROPERTY
@given(combo=st.sampled_from(COMBOS), workload=st.sampled_from(WORKLOADS), factor=st.floats(1.0, 4.0))
def test_more_demand_never_needs_fewer_gpus(combo, workload, factor):
    model, hardware = combo
    base = io.load_workload(workload).requests_per_s
    before = gpus(sized(model, hardware, workload))
    after = gpus(sized(model, hardware, workload, f"workload.requests_per_s={base * factor!r}"))
    assert after >= before, f"{factor}x demand: {after} GPUs < {before}"


@PROPERTY
@given(combo=st.sampled_from(COMBOS), workload=st.sampled_from(WORKLOADS), factor=st.floats(0.05, 1.0))
def test_tighter_tpot_never_needs_fewer_gpus(combo, workload, factor):
    model, hardware = combo
    tpot_ms = io.load_workload(workload).slo.tpot_ms
    before = gpus(sized(model, hardware, workload))
    after = gpus(sized(model, hardware, workload, f"workload.slo.tpot_ms={tpot_ms * factor!r}"))
    assert after >= before, f"TPOT x{factor}: {after} GPUs < {before}"


@PROPERTY
@given(combo=st.sampled_from(COMBOS), workload=st.sampled_from(WORKLOADS), factor=st.floats(1.0, 4.0))
def test_more_hbm_never_needs_more_gpus(combo, workload, factor):
    model, hardware = combo
    hbm = io.load_hardware(hardware).hbm
    # presets give exactly one of capacity_gb (10^9 B) and capacity_gib (2^30 B)
    key = "capacity_gb" if hbm.capacity_gb is not None else "capacity_gib"
    capacity = getattr(hbm, key)
    before = gpus(sized(model, hardware, workload))
    after = gpus(sized(model, hardware, workload, f"hardware.hbm.{key}={capacity * factor!r}"))
    assert after <= before, f"{factor}x HBM: {after} GPUs > {before}"


@pytest.mark.parametrize("hardware, key", [("h200-sxm", "capacity_gb"), ("h100-sxm", "capacity_gib")])
def test_presets_give_one_hbm_capacity_field(hardware, key):
    hbm = io.load_hardware(hardware).hbm
    other = {"capacity_gb": "capacity_gib", "capacity_gib": "capacity_gb"}[key]
    assert getattr(hbm, key) is not None and getattr(hbm, other) is None


# ---- demand --------------------------------------------------------------------------------------

def test_demand_from_request_rate_is_taken_as_given():
    assert demand_requests_per_s(io.load_workload("chat")) == 100.0


def test_demand_from_concurrency_by_littles_law():
    # 600 sessions, one turn per (TTFT 1 s + 400 x 50 ms + 30 s gap) = 51 s -> 600 / 51 turns/s
    w = io.load_workload({"isl": 800, "osl": 400, "concurrent_sessions": 600, "turn_gap_s": 30,
                          "slo": {"ttft_ms": 1000, "tpot_ms": 50}})
    assert demand_requests_per_s(w) == pytest.approx(600 / 51, rel=1e-12)


# ---- the chosen plan meets its targets ---------------------------------------------------------

@pytest.mark.parametrize("model, hardware, workload", [
    ("llama-3.1-70b", "h200-sxm", "chat"),
    ("qwen3-30b-a3b", "h100-sxm", "batch"),
    ("deepseek-v4-pro", "gb300-nvl72", "agentic"),
])
def test_best_meets_slos_and_covers_demand(model, hardware, workload):
    s = sized(model, hardware, workload)
    assert s.feasible and s.best is not None
    w = s.workload
    assert s.best.tpot_s <= w.slo.tpot_s * (1 + 1e-9)
    assert s.best.ttft_s <= w.slo.ttft_s * (1 + 1e-9)
    for pool in s.best.pools:
        assert pool.units * pool.requests_per_s_per_unit >= s.requests_per_s * (1 - 1e-9)
    assert s.best.cluster.gpus == sum(p.gpus for p in s.best.pools)
    assert len(s.estimates) == len(s.best.pools)


# ---- scale-up domain: V4-Pro on an 8-GPU domain vs NVL72 -----------------------------------------

def test_v4_pro_on_h200_ep_crosses_the_8_gpu_domain():
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    assert s.best is not None
    assert s.best.decode.layout.ep > 8
    assert s.estimates[-1].decode.scale_out_s > 0
    crossing = [v for v in s.verdicts if v.resource == "scale_out" and "cross the scale-out network" in v.message]
    assert len(crossing) == 1 and crossing[0].severity == Severity.warning


@pytest.mark.parametrize("model, workload", [("kimi-k2", "chat"), ("deepseek-v4-pro", "chat")])
def test_larger_domain_never_needs_more_gpus(model, workload):
    # A larger scale-up domain only makes placement cheaper, so the best plan can only shrink.
    s = sized(model, "h200-sxm", workload, compare_domains=True)
    gpus = [r.gpus for r in s.domain_rows]
    assert all(a is None or b is None or b <= a for a, b in zip(gpus, gpus[1:])), gpus


def test_crossing_lever_names_the_domain_that_saves_gpus():
    # The lever reads the domain comparison rows: when a domain that holds the EP group needs fewer
    # GPUs, it names that domain and the saving; otherwise it names the domain size EP needs.
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    dec = s.estimates[-1]
    assert dec.layout.ep > 8
    here = s.best.cluster.gpus
    rows = (DomainRow(8, here, True, None), DomainRow(36, here // 2, False, None), DomainRow(72, here // 2, False, None))
    v = ep_crossing_verdict(s.model, s.hardware, dec.layout, dec.decode, rows)
    assert v.phase == "decode" and v.resource == "scale_out" and v.severity == Severity.warning
    assert "cross the scale-out network" in v.message
    assert v.lever == (f"with a 36-GPU domain the same workload needs {here // 2:,} GPUs instead of {here:,} "
                       f"({1 - (here // 2) / here:.0%} fewer)")
    no_saving = ep_crossing_verdict(s.model, s.hardware, dec.layout, dec.decode, rows[:1])
    assert no_saving.lever == f"a scale-up domain of ≥ {dec.layout.ep} GPUs keeps EP traffic on NVLink-class links"


def test_v4_pro_on_gb300_keeps_ep_inside_the_domain():
    s = sized("deepseek-v4-pro", "gb300-nvl72", "agentic", compare_domains=True)
    assert s.best is not None
    assert s.best.decode.layout.ep <= 72
    assert s.estimates[-1].decode.scale_out_s == 0
    assert not any("cross the scale-out network" in v.message for v in s.verdicts)


def test_domain_rows_match_sizing_at_that_domain_size():
    """Each comparison row is the sizing a machine with that domain would get."""
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    assert [r.domain_size for r in s.domain_rows] == sorted(DOMAIN_SIZES)
    for row in s.domain_rows:
        alt = sized("deepseek-v4-pro", "h200-sxm", "agentic", f"hardware.scale_up.domain_size={row.domain_size}")
        assert row.gpus == gpus(alt), row
        assert row.ep_crosses_domain == (alt.best.decode.layout.ep > row.domain_size)


def test_domain_rows_add_the_machines_own_size():
    # TPU v7: a 64-chip cube is not one of the standard sizes, so it is added to the comparison
    s = sized("deepseek-v3", "tpu-v7", "reasoning", compare_domains=True)
    assert [r.domain_size for r in s.domain_rows] == [8, 36, 64, 72, 144, 576]


@pytest.mark.parametrize("model, hardware, workload", [
    ("deepseek-v4-pro", "h200-sxm", "agentic"),
    ("deepseek-v3", "tpu-v7", "reasoning"),
    ("qwen3-235b-a22b", "h100-sxm", "chat"),
])
def test_smallest_working_domain_and_knee(model, hardware, workload):
    s = sized(model, hardware, workload, compare_domains=True)
    ok = [r for r in s.domain_rows if r.gpus is not None and not r.ep_crosses_domain]
    assert s.smallest_domain == ok[0].domain_size
    assert s.smallest_domain <= s.knee_domain
    knee = next(r for r in ok if r.domain_size == s.knee_domain)
    # no larger domain saves 5% or more of the GPUs beyond the knee
    assert all(r.gpus > knee.gpus * 0.95 for r in ok if r.domain_size > knee.domain_size)


def test_dense_model_has_no_domain_comparison():
    s = sized("llama-3.1-70b", "h200-sxm", "chat", compare_domains=True)
    assert s.domain_rows == () and s.smallest_domain is None and s.knee_domain is None


# ---- infeasible ----------------------------------------------------------------------------------

def test_impossible_tpot_is_an_error_verdict_with_the_ratio():
    s = sized("llama-3.1-405b", "h100-sxm", "agentic", "workload.slo.tpot_ms=1")
    assert s.best is None and not s.feasible
    errors = [v for v in s.verdicts if v.severity == Severity.error]
    assert [(v.phase, v.resource) for v in errors] == [("decode", "slo")]
    assert "TPOT" in errors[0].message and "× over" in errors[0].message


def test_weights_that_cannot_fit_are_an_hbm_error():
    s = sized("llama-3.1-70b", "h100-sxm", "chat", "hardware.hbm.capacity_gib=1")
    assert s.best is None and not s.feasible
    (v,) = s.verdicts
    assert (v.phase, v.resource, v.severity) == ("memory", "hbm", Severity.error)
    assert "1.074 GB" in v.message     # 1 GiB = 1.074 x 10^9 B, what the machine holds


# ---- cluster arithmetic (hand-derived) -----------------------------------------------------------

def test_cluster_packs_units_into_nodes_racks_and_domains():
    # GB300 NVL72: 4 GPUs per tray, 72 per rack, 142 kW per rack (preset). A 16-GPU prefill pool x 3
    # and an 8-GPU decode pool x 2: 64 GPUs; nodes 3 x 16/4 + 2 x 8/4 = 16; racks ceil(16 x 4 / 72) = 1.
    hw = io.load_hardware("gb300-nvl72")
    c = cluster(hw, [(3, 16), (2, 8)], 5)
    assert (c.gpus, c.prefill_gpus, c.decode_gpus, c.nodes, c.racks, c.domains, c.replicas) == (64, 48, 16, 16, 1, 1, 5)
    assert c.power_w == pytest.approx(64 * 142_000 / 72, rel=1e-12)
    assert c.cost_per_hour is None


def test_cluster_units_smaller_than_a_node_take_a_node_each():
    # H800: 8 GPUs per node, 32 per rack, no node or rack power -> GPU TDP 700 W, $2.0/GPU-hour
    hw = io.load_hardware("h800-sxm")
    c = cluster(hw, [(9, 4)], 9)
    assert (c.gpus, c.nodes, c.racks, c.domains) == (36, 9, 3, 5)     # racks ceil(72/32), domains ceil(36/8)
    assert c.power_w == 36 * 700
    assert c.cost_per_hour == 72.0
    assert c.to_dict()["cost_per_month"] == pytest.approx(72.0 * 730)


@pytest.mark.parametrize("hardware, watts", [
    ("gb300-nvl72", 142_000 / 72),   # rack_w / gpus_per_rack
    ("h100-sxm", 10_200 / 8),        # node_w / gpus_per_node
    ("h200-sxm", 700),               # gpu_w alone
])
def test_power_per_gpu_prefers_rack_then_node_then_gpu(hardware, watts):
    assert power_per_gpu_w(io.load_hardware(hardware)) == pytest.approx(watts, rel=1e-12)


def test_pods_count_racks_sharing_the_pod_flash_tier():
    # vr200-nvl72: pod flash scope 8 racks (a labelled assumption in the preset); no tier, no pods.
    from planner.cluster import cluster
    vr = io.load_hardware("vr200-nvl72")
    assert vr.pod_flash is not None and vr.pod_flash.scope_racks == 8
    c = cluster(vr, [(20, 72)], 20)                 # 20 racks of 72 GPUs
    assert c.racks == 20 and c.pods == math.ceil(20 / 8) == 3
    assert cluster(io.load_hardware("h200-sxm"), [(4, 8)], 4).pods is None


def test_plan_folds_tier_loads_into_prefill_and_ttft():
    # The search times prefill with the prefix resident in HBM; the plan adds the expected tier load
    # (prefill storage term) and the extra time of loads and misses, scaled by the prefill pool's
    # M/D/1 queueing factor when disaggregated.
    from planner.sizing import PREFILL_UTILIZATION
    s = sized("deepseek-v4-pro", "gb300-nvl72", "agentic")
    kv, pre = s.kv, s.estimates[0]
    assert pre.prefill.storage_s == pytest.approx(kv.expected_load_s) and kv.expected_load_s > 0
    extra = kv.ttft_with_s - kv.prefill_resident_s
    assert extra > 0
    queueing = 1 + PREFILL_UTILIZATION / (2 * (1 - PREFILL_UTILIZATION)) if s.best.disaggregated else 1.0
    resident = s.best.ttft_s - extra * queueing               # what the search itself found
    assert resident > 0 and s.best.ttft_s == pytest.approx(resident + extra * queueing)
    assert pre.prefill.time_s == pytest.approx(kv.prefill_resident_s + extra, rel=0.05)


def test_balanced_routing_never_needs_more_gpus():
    # An expert-parallel load balancer removes the busiest-GPU penalty of power-law routing.
    skewed = sized("deepseek-v3", "h200-sxm", "chat")
    balanced = sized("deepseek-v3", "h200-sxm", "chat", "workload.expert_routing=balanced")
    assert gpus(balanced) <= gpus(skewed)
    assert balanced.estimates[-1].layout.routing == "balanced"
