"""`planner.serving.deployment.size_deployment` and `planner.machine.cluster`: the layout search, the cluster count and
the scale-up domain comparison (DESIGN.md "The math" -> Scale-up domain, Cluster).

Property tests (DESIGN.md "Quality bar"): more demand, a tighter TPOT or less HBM never lowers
the GPU count; an infeasible plan counts as +infinity GPUs. The combinations are kept small
(llama-3.1-70b on h200-sxm, qwen3-30b-a3b on h100-sxm; chat and batch) so each example takes
tens of milliseconds; the domain comparison is switched off there because it does not change
`best`.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import api
from planner.inputs import io
from planner.inputs.layout import Layout
from planner.machine.cluster import (
    DEFAULT_SYSTEM_OVERHEAD,
    PoolUnits,
    cluster,
    system_power_per_gpu_w,
)
from planner.perf.unit import PREFILL_UTILIZATION
from planner.plan.verdicts import ep_crossing_verdict, judge
from planner.serving.deployment import (
    DOMAIN_SIZES,
    DomainRow,
    demand_requests_per_s,
    size_deployment,
)
from planner.verdict import Severity

COMBOS = [("llama-3.1-70b", "h200-sxm"), ("qwen3-30b-a3b", "h100-sxm")]
WORKLOADS = ["chat", "batch"]
PROPERTY = settings(max_examples=25, deadline=None)


def sized(model: str, hardware: str, workload: str, *sets: str, compare_domains: bool = False):
    o = io.parse_overrides(list(sets))
    return size_deployment(io.load_model(model, o), io.load_hardware(hardware, o), io.load_workload(workload, o),
                           compare_domains=compare_domains)


def gpus(s) -> float:
    """GPUs of the chosen plan; infeasible is +infinity so that 'never fewer' stays one comparison."""
    return s.cluster.gpus if s.feasible and s.cluster is not None else math.inf


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
    # presets give exactly one of capacity_gb (10^9 B), capacity_gib (2^30 B) and capacity_mib (2^20 B)
    key = next(k for k in ("capacity_gb", "capacity_gib", "capacity_mib") if getattr(hbm, k) is not None)
    capacity = getattr(hbm, key)
    before = gpus(sized(model, hardware, workload))
    after = gpus(sized(model, hardware, workload, f"hardware.hbm.{key}={capacity * factor!r}"))
    assert after <= before, f"{factor}x HBM: {after} GPUs > {before}"


@pytest.mark.parametrize("hardware, key", [("vr200-nvl72", "capacity_gb"), ("mi300x", "capacity_gib"),
                                           ("h200-sxm", "capacity_mib")])
def test_presets_give_one_hbm_capacity_field(hardware, key):
    hbm = io.load_hardware(hardware).hbm
    others = {"capacity_gb", "capacity_gib", "capacity_mib"} - {key}
    assert getattr(hbm, key) is not None and all(getattr(hbm, o) is None for o in others)


@pytest.mark.parametrize("unit, value, expected", [("capacity_gb", 100, 100e9), ("capacity_gib", 100, 100 * 2**30),
                                                   ("capacity_mib", 102400, 100 * 2**30)])
def test_capacity_override_in_any_unit_replaces_the_presets(unit, value, expected):
    assert io.load_hardware("h200-sxm", {f"hardware.hbm.{unit}": value}).hbm.capacity_bytes == expected


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
    assert s.feasible and s.unit is not None and s.cluster is not None
    w = s.workload
    assert s.unit.tpot_s <= w.slo.tpot_s * (1 + 1e-9)
    assert s.unit.ttft_s <= w.slo.ttft_s * (1 + 1e-9)
    for pool in s.pools:
        assert pool.units * pool.requests_per_s_per_unit >= s.requests_per_s * (1 - 1e-9)
    assert s.cluster.gpus == sum(p.gpus for p in s.pools)
    assert not [v for v in judge(s) if v.severity == Severity.error]


def test_feasible_means_no_error_verdict_and_every_target_met():
    # `feasible` and the verdict table agree, for a feasible plan and for one whose tiers break TTFT
    for s in (sized("llama-3.1-70b", "h200-sxm", "chat"),
              sized("deepseek-v4-pro", "tpu-v7", "agentic", "workload.slo.ttft_ms=2000")):
        errors = [v for v in judge(s) if v.severity == Severity.error]
        assert s.feasible == (not errors) == all(x.met for x in s.slos), (s.feasible, errors)


# ---- scale-up domain: V4-Pro on an 8-GPU domain vs NVL72 -----------------------------------------

def test_v4_pro_on_h200_ep_crosses_the_8_gpu_domain():
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    assert s.unit is not None
    assert s.unit.layout.ep > 8
    assert s.unit.decode.scale_out_s > 0
    crossing = [v for v in judge(s) if v.resource == "scale_out" and "cross the scale-out network" in v.message]
    assert len(crossing) == 1 and crossing[0].severity == Severity.warning


@pytest.mark.parametrize("model, workload", [("kimi-k2", "chat"), ("deepseek-v4-pro", "chat")])
def test_larger_domain_never_needs_more_gpus(model, workload):
    # A larger scale-up domain only makes placement cheaper, so the best plan can only shrink.
    s = sized(model, "h200-sxm", workload, compare_domains=True)
    counts = [r.gpus for r in s.domain_rows]
    assert all(a is None or b is None or b <= a for a, b in zip(counts, counts[1:], strict=False)), counts


def test_crossing_lever_names_the_domain_that_saves_gpus():
    # The lever reads the domain comparison rows: when a domain that holds the EP group needs fewer
    # GPUs, it names that domain and the saving; otherwise it names the domain size EP needs.
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    u = s.unit
    assert u.layout.ep > 8
    here = s.cluster.gpus
    rows = (DomainRow(8, here, True, None), DomainRow(36, here // 2, False, None),
            DomainRow(72, here // 2, False, None))
    v = ep_crossing_verdict(s.model, s.hardware, u.layout, u.decode, rows)
    assert v.phase == "decode" and v.resource == "scale_out" and v.severity == Severity.warning
    assert "cross the scale-out network" in v.message
    assert v.lever == (f"with a 36-GPU domain the same workload needs {here // 2:,} GPUs instead of {here:,} "
                       f"({1 - (here // 2) / here:.0%} fewer)")
    no_saving = ep_crossing_verdict(s.model, s.hardware, u.layout, u.decode, rows[:1])
    assert no_saving.lever == f"a scale-up domain of ≥ {u.layout.ep} GPUs keeps EP traffic on NVLink-class links"


def test_v4_pro_on_gb300_keeps_ep_inside_the_domain():
    s = sized("deepseek-v4-pro", "gb300-nvl72", "agentic", compare_domains=True)
    assert s.unit is not None
    assert s.unit.layout.ep <= 72
    assert s.unit.decode.scale_out_s == 0
    assert not any("cross the scale-out network" in v.message for v in judge(s))


def test_domain_rows_match_sizing_at_that_domain_size():
    """Each comparison row is the sizing a machine with that domain would get."""
    s = sized("deepseek-v4-pro", "h200-sxm", "agentic", compare_domains=True)
    assert [r.domain_size for r in s.domain_rows] == sorted(DOMAIN_SIZES)
    for row in s.domain_rows:
        alt = sized("deepseek-v4-pro", "h200-sxm", "agentic", f"hardware.scale_up.domain_size={row.domain_size}")
        assert (row.gpus if row.gpus is not None else math.inf) == gpus(alt), row
        if row.gpus is not None:
            assert row.ep_crosses_domain == (alt.unit.layout.ep > row.domain_size)


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
    assert s.unit is None and not s.feasible
    errors = [v for v in judge(s) if v.severity == Severity.error]
    assert [(v.phase, v.resource) for v in errors] == [("decode", "slo")]
    assert "TPOT" in errors[0].message and "× over" in errors[0].message


def test_weights_that_cannot_fit_are_an_hbm_error():
    s = sized("llama-3.1-70b", "h100-sxm", "chat", "hardware.hbm.capacity_gib=1")
    assert s.unit is None and not s.feasible
    (v,) = judge(s)
    assert (v.phase, v.resource, v.severity) == ("memory", "hbm", Severity.error)
    assert "1.074 GB" in v.message     # 1 GiB = 1.074 x 10^9 B, what the machine holds


def test_tier_reloads_that_break_ttft_make_the_plan_infeasible():
    # TPU v7 has no host memory, NVMe or pod flash: a returning turn of the agentic workload (120k
    # prefix) recomputes its prefix unless spare HBM holds it. A unit packed to 160 sequences per rank
    # leaves little spare HBM, so a third of the returning turns recompute 120k tokens and TTFT misses
    # 2 s; the same layout with prefixes assumed resident meets it. The plan must say it misses (the
    # old search assumed prefixes resident, printed a 12.9 s TTFT against the target and exited 0).
    sets = {"workload.slo.ttft_ms": 2000, "workload.slo.tpot_ms": 1000}
    tiers = api.evaluate("deepseek-v4-pro", "tpu-v7", "agentic", "tp=1,dp=16,ep=16", batch=160, sets=sets)
    resident = api.evaluate("deepseek-v4-pro", "tpu-v7", "agentic", "tp=1,dp=16,ep=16", batch=160,
                            sets={**sets, "workload.prefix_cache": "resident"})
    assert resident.feasible and resident.ttft_s < 2.0
    assert not tiers.feasible and tiers.ttft_s > 2.0
    errors = [v for v in tiers.verdicts if v.severity == Severity.error]
    assert [v.resource for v in errors] == ["slo"] and "TTFT" in errors[0].message
    assert "prefixes recomputed" in errors[0].message


# ---- cluster packing (hand-derived) ----------------------------------------------------------------

def unit(gpus: int, **kw) -> Layout:
    return Layout(tp=gpus, **kw)


def test_cluster_packs_units_into_nodes_racks_and_domains():
    # GB300 NVL72: 4 GPUs per tray, 72 per rack = one scale-up domain, 142 kW per rack (preset). A
    # 16-GPU prefill pool x 3 and an 8-GPU decode pool x 2: largest first, four 16s fit a domain, so
    # the three take 48 GPUs of one domain and the two 8s fill 16 more: 1 domain, 64 GPUs, 16 trays,
    # 1 rack.
    hw = io.load_hardware("gb300-nvl72")
    c = cluster(hw, [PoolUnits("prefill", unit(8, dp=2, ep=16), 3), PoolUnits("decode", unit(8), 2)])
    assert (c.gpus, c.gpus_provisioned, c.prefill_gpus, c.decode_gpus, c.nodes, c.racks, c.domains, c.replicas) == \
        (64, 64, 48, 16, 16, 1, 1, 5)
    assert c.power_w == pytest.approx(64 * 142_000 / 72, rel=1e-12)
    # gb300-nvl72 [price]: a purchase price only ($4M rack ÷ 72), so the owned basis: capital over
    # 5 years of 8,760 h plus the system power per GPU at PUE 1.58 and $0.0806/kWh
    per_gpu = 55556 / (5 * 8760) + 142_000 / 72 / 1e3 * 1.58 * 0.0806
    assert c.cost_per_hour == pytest.approx(64 * per_gpu, rel=1e-9)


def test_units_smaller_than_a_node_share_it():
    # H800: 8 GPUs per node = one NVLink domain, 32 per rack, $2.0/GPU-hour, power from the GPU TDP.
    # 9 units of 4 GPUs: two per node -> 5 nodes (the last half used), 40 GPUs provisioned,
    # ceil(5 / 4) = 2 racks. Power and cost count the provisioned GPUs: 40 x 700 W x 1.8.
    hw = io.load_hardware("h800-sxm")
    c = cluster(hw, [PoolUnits("colocated", unit(4), 9)])
    assert (c.gpus, c.gpus_provisioned, c.nodes, c.racks, c.domains) == (36, 40, 5, 2, 5)
    assert c.power_w == pytest.approx(40 * 700 * DEFAULT_SYSTEM_OVERHEAD)
    assert c.cost_per_hour == 80.0
    assert c.cost_per_month == pytest.approx(80.0 * 730)


def test_a_stage_wider_than_the_domain_takes_whole_domains():
    # H200: EP 16 spans two 8-GPU domains (on purpose: expert parallelism over the NICs): 2 units ->
    # 4 nodes. Pipeline stages that fit a domain are placed one by one: tp=4, pp=4 is four 4-GPU
    # blocks, two per node.
    hw = io.load_hardware("h200-sxm")
    c = cluster(hw, [PoolUnits("decode", Layout(tp=2, dp=8, ep=16), 2)])
    assert (c.gpus, c.nodes, c.domains) == (32, 4, 4)
    c = cluster(hw, [PoolUnits("colocated", Layout(tp=4, pp=4), 1)])
    assert (c.gpus, c.nodes, c.domains) == (16, 2, 2)


@pytest.mark.parametrize("hardware, watts, basis", [
    ("gb300-nvl72", 142_000 / 72, "rack figure"),   # rack_w / gpus_per_rack
    ("h100-sxm", 10_200 / 8, "node figure"),        # node_w / gpus_per_node
    ("h200-sxm", 10_200 / 8, "node figure"),        # DGX H200: same 10.2 kW system as DGX H100
    ("h800-sxm", 700 * DEFAULT_SYSTEM_OVERHEAD, "GPU TDP"),   # GPU TDP x the stated overhead
])
def test_power_per_gpu_is_system_power_on_one_basis(hardware, watts, basis):
    w, how = system_power_per_gpu_w(io.load_hardware(hardware))
    assert w == pytest.approx(watts, rel=1e-12)
    assert how.startswith(basis)


def test_default_system_overhead_comes_from_published_8_gpu_systems():
    # DGX H100 10.2 kW / (8 x 700 W) = 1.82; DGX B200 14.3 kW / (8 x 1,000 W) = 1.79 (presets' sources)
    h100, b200 = io.load_hardware("h100-sxm"), io.load_hardware("b200-hgx")
    ratios = [hw.power.node_w / (hw.gpus_per_node * hw.power.gpu_w) for hw in (h100, b200)]
    assert ratios == [pytest.approx(1.821, abs=1e-3), pytest.approx(1.7875, abs=1e-4)]
    assert min(ratios) <= DEFAULT_SYSTEM_OVERHEAD <= max(ratios)


def test_pods_count_racks_sharing_the_pod_flash_tier():
    # vr200-nvl72: pod flash scope 8 racks (a labelled assumption in the preset); no tier, no pods.
    vr = io.load_hardware("vr200-nvl72")
    assert vr.pod_flash is not None and vr.pod_flash.scope_racks == 8
    c = cluster(vr, [PoolUnits("colocated", Layout(tp=8, dp=9, ep=72), 20)])   # 20 racks of 72 GPUs
    assert c.racks == 20 and c.pods == math.ceil(20 / 8) == 3
    assert cluster(io.load_hardware("h200-sxm"), [PoolUnits("colocated", unit(8), 4)]).pods is None


MACHINES = ("h200-sxm", "gb300-nvl72", "tpu-v7", "rubin-ultra-nvl144", "mi355x")


@PROPERTY
@given(machine=st.sampled_from(MACHINES), tp=st.sampled_from([1, 2, 4, 8]), dp=st.sampled_from([1, 2, 3, 4, 8, 16, 36]),
       pp=st.sampled_from([1, 2, 4]), units=st.integers(1, 400), p_tp=st.sampled_from([1, 2, 4, 8]),
       p_units=st.integers(0, 50))
def test_packing_never_counts_fewer_nodes_or_racks_than_the_gpus_need(machine, tp, dp, pp, units, p_tp, p_units):
    hw = io.load_hardware(machine)
    pools = [PoolUnits("decode", Layout(tp=tp, dp=dp, ep=tp * dp, pp=pp), units)]
    if p_units:
        pools.insert(0, PoolUnits("prefill", Layout(tp=p_tp), p_units))
    c = cluster(hw, pools)
    n, r = hw.gpus_per_node, hw.gpus_per_rack
    assert c.gpus == sum(p.units * p.layout.gpus for p in pools)
    assert c.nodes >= c.gpus / n and c.gpus_provisioned == c.nodes * n >= c.gpus
    assert c.racks >= c.nodes / (r // n)
    assert c.domains >= c.gpus / hw.scale_up.domain_size
    assert c.power_w == pytest.approx(c.gpus_provisioned * system_power_per_gpu_w(hw)[0])


def test_plan_folds_tier_loads_into_prefill_and_ttft():
    # The unit's prefill is the expected one: prefix loads from the tiers (the storage term) and, for
    # the share that misses every tier, recomputation; TTFT adds the prefill pool's M/D/1 wait.
    s = sized("deepseek-v4-pro", "gb300-nvl72", "agentic")
    u, kv = s.unit, s.kv
    assert u.prefill.storage_s > 0 and u.layout.disaggregated
    assert kv.prefill_resident_s < u.prefill.time_s < kv.prefill_recompute_s
    assert u.ttft_s == pytest.approx(u.prefill.time_s * (1 + PREFILL_UTILIZATION / (2 * (1 - PREFILL_UTILIZATION))))
    # the reuse the prefill assumed is the one the plan's own tiers give (the loop settled)
    assert s.reuse == kv.reuse


def test_balanced_routing_never_needs_more_gpus():
    # An expert-parallel load balancer removes the busiest-GPU penalty of power-law routing.
    skewed = sized("deepseek-v3", "h200-sxm", "chat")
    balanced = sized("deepseek-v3", "h200-sxm", "chat", "workload.expert_routing=balanced")
    assert gpus(balanced) <= gpus(skewed)
    assert balanced.unit.layout.routing == "balanced"
