"""KV-cache tiers (issue 5) through the CLI: `planner kv` and the `kv_tiers` of `planner size`, run
with typer's CliRunner (COLUMNS=100, no colour; see conftest.py).

Sources: /work/shared/reference/models.md §1.3 (V4-Pro ≈5.28 GB at 2^20 tokens; Llama-3.1-405B
516,096 B/token, ISCA Table 1), §4 (Day-6: 56.3% of input tokens hit the on-disk KV cache),
DESIGN.md "Command surface" (`kv --format json` keys). Tolerances are stated per assertion.
"""

from __future__ import annotations

import json
import math
import tomllib
from functools import cache

import pytest
from clihelp import run

from planner import units as U
from planner.inputs import io

TIERS = ["G1", "G2", "G3", "G3.5", "G4"]
TIER_KEYS = ("tier", "capacity_needed_bytes", "capacity_available_bytes", "read_bytes_per_s_needed",
             "read_bytes_per_s_available", "write_bytes_per_s_needed", "hit_rate")        # DESIGN.md
TOP_KEYS = ("bytes_per_session", "break_even_bytes_per_s_per_gpu")                          # DESIGN.md




@cache
def kv_json(*args: str) -> dict:
    r = run("kv", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def tier(d: dict, name: str) -> dict:
    return next(t for t in d["kv_tiers"] if t["tier"] == name)


V4 = ("--model", "deepseek-v4-pro", "--hardware", "gb300-nvl72", "--workload", "agentic",
      "--set", "workload.context=1Mi")
LLAMA = ("--model", "llama-3.1-405b", "--hardware", "gb300-nvl72", "--workload", "agentic",
         "--set", "workload.context=128k")
DAY6 = ("--model", "deepseek-v3", "--hardware", "h800-sxm", "--workload", "deepseek-day6")


def test_kv_json_has_design_keys():
    d = kv_json(*V4)
    for k in TOP_KEYS:
        assert k in d
    assert [t["tier"] for t in d["kv_tiers"]] == TIERS
    for t in d["kv_tiers"]:
        for k in TIER_KEYS:
            assert k in t, (t["tier"], k)


# ---- 2. acceptance A: V4-Pro 1M-token agentic sessions vs Llama-3.1-405B at 128k --------------------

def test_acceptance_v4_vs_llama_bytes_per_session():
    v4, ll = kv_json(*V4), kv_json(*LLAMA)
    # models.md §1.3: V4-Pro ≈5.28 GB at 2^20 tokens (±1%); as an integer formula
    # 30×652×2^18 + 31×584×2^13 (compressed) + 61×128×584 (window state) = 5,280,404,480 B (exact)
    assert v4["bytes_per_session"] == pytest.approx(5.28e9, rel=0.01), v4["bytes_per_session"]
    assert v4["bytes_per_session"] == 30 * 652 * 2**18 + 31 * 584 * 2**13 + 61 * 128 * 584
    # ISCA Table 1: 516,096 B/token; context 128k = 128,000 tokens = the final context (exact)
    assert ll["bytes_per_session"] == 516_096 * 128_000, ll["bytes_per_session"]


def test_acceptance_v4_reload_from_nvme_beats_recompute_by_far():
    v4, ll = kv_json(*V4), kv_json(*LLAMA)
    v4_nvme, ll_nvme = tier(v4, "G3")["read_bytes_per_s_per_gpu"], tier(ll, "G3")["read_bytes_per_s_per_gpu"]
    v4_be, ll_be = v4["break_even_bytes_per_s_per_gpu"], ll["break_even_bytes_per_s_per_gpu"]
    v4_margin, ll_margin = v4_nvme / v4_be, ll_nvme / ll_be
    # today: NVMe 14 GB/s per GPU; V4 break-even ≈57 MB/s (≈247×); Llama ≈896 MB/s (≈16×)
    assert v4_margin >= 100, f"V4 NVMe {v4_nvme:.3g} B/s per GPU vs break-even {v4_be:.3g}: {v4_margin:.1f}×"
    assert v4_margin >= 5 * ll_margin, \
        f"V4 margin {v4_margin:.1f}× (break-even {v4_be:.3g}) vs Llama {ll_margin:.1f}× (break-even {ll_be:.3g})"
    ratio = v4["ttft_without_tiers_s"] / v4["ttft_with_tiers_s"]
    assert ratio >= 10, \
        (f"V4 TTFT {v4['ttft_with_tiers_s']:.3g} s with tiers vs "
         f"{v4['ttft_without_tiers_s']:.3g} s without ({ratio:.1f}×)")
    # and the NVMe load itself is far faster than recomputing the prefix
    assert tier(v4, "G3")["load_time_s"] * 100 <= v4["recompute_s"], (tier(v4, "G3")["load_time_s"], v4["recompute_s"])


def test_acceptance_numbers_shown_in_table():
    r = run("kv", *V4)
    assert r.exit_code == 0, r.output
    v4 = kv_json(*V4)
    text = " ".join(r.stdout.split())
    assert U.format_bytes(v4["bytes_per_session"]) in text                 # "5.28 GB"
    assert U.format_rate(v4["break_even_bytes_per_s_per_gpu"]) in text     # "56.66 MB/s"
    assert U.format_seconds(v4["ttft_with_tiers_s"]) in text and U.format_seconds(v4["ttft_without_tiers_s"]) in text


# ---- 3. acceptance B: deepseek-day6 (Day-6: 56.3% prefix hit) --------------------------------------------

def test_day6_prefix_share_and_hit():
    d = kv_json(*DAY6)
    # models.md §4: 342B of 608B input tokens (56.3%) hit the on-disk cache (±1%)
    assert d["reusable_token_share"] == pytest.approx(0.563, rel=0.01), d["reusable_token_share"]
    assert d["reusable_token_share"] == pytest.approx(2468 / (2468 + 1916), rel=1e-12)
    # the planner's prompt-token hit rate loses e^-5 (states kept 5 mean gaps): within 1% of 56.3%
    assert d["prefix_token_hit_rate"] == pytest.approx(0.563, rel=0.01), d["prefix_token_hit_rate"]


def test_day6_disk_tier_alone_totals_and_per_node():
    d = kv_json(*DAY6)
    g3 = tier(d, "G3")
    assert g3["present"] and g3["scope"] == "per node"
    assert g3["units"] == d["cluster"]["nodes"]
    a = g3["alone"]
    for k in ("capacity_needed_bytes", "read_bytes_per_s_needed", "write_bytes_per_s_needed"):
        assert a[k] > 0, k
        assert a["per_unit"][k] * g3["units"] == pytest.approx(a[k], rel=1e-9), k
    # hand derivation (planner/kv/tiers.py doc): r = 1,603/s, T = 4, g = 60 s, lifetime 3,600 s → kept 300 s;
    # V3 70,272 B/token; session 2,468 + 1,916 + 1,211 = 5,595 tokens; prefix 2,468 (rel 1e-9)
    r, kvt = 1603, 70_272
    assert a["capacity_needed_bytes"] == pytest.approx(r * 0.75 * 300 * kvt * 5_595, rel=1e-9)
    assert a["read_bytes_per_s_needed"] == pytest.approx(r * 0.75 * (1 - math.exp(-5)) * kvt * 2_468, rel=1e-9)
    assert a["write_bytes_per_s_needed"] == pytest.approx(r * kvt * (5_595 - 2_468), rel=1e-9)


def test_day6_write_through_verdict_names_per_node_figures():
    d = kv_json(*DAY6)
    g3 = tier(d, "G3")
    per = g3["units"]
    msgs = [v["message"] for v in d["verdicts"] if "write-through" in v["message"]]
    assert len(msgs) == 1, [v["message"] for v in d["verdicts"]]
    m = msgs[0]
    a = g3["alone"]
    for figure in (U.format_bytes(a["capacity_needed_bytes"] / per), U.format_rate(a["read_bytes_per_s_needed"] / per),
                   U.format_rate(a["write_bytes_per_s_needed"] / per)):
        assert f"{figure} per node" in m, (figure, m)
    assert U.format_bytes(a["capacity_needed_bytes"]) in m      # and the total


# ---- 4. zero capacity → zero hits (CLI) ------------------------------------------------------------------

def test_zero_capacity_via_cli():
    d = kv_json("--model", "deepseek-v3", "--hardware", "h200-sxm", "--workload", "deepseek-day6",
                "--set", "hardware.nvme.drives_per_node=0", "--set", "hardware.host.capacity_gb_per_node=0")
    for name in ("G2", "G3"):
        t = tier(d, name)
        assert t["hit_rate"] == 0 and t["capacity_available_bytes"] == 0, t
    assert sum(t["hit_rate"] for t in d["kv_tiers"]) <= 1 + 1e-12
    assert any("has no local NVMe" in v["message"] for v in d["verdicts"])


def test_hit_rates_sum_at_most_one():
    for args in (V4, LLAMA, DAY6):
        d = kv_json(*args)
        rates = [t["hit_rate"] for t in d["kv_tiers"]]
        assert all(0 <= x <= 1 for x in rates) and sum(rates) <= 1 + 1e-12, rates


# ---- 5. a preset without a tier says so ---------------------------------------------------------------

def test_no_pod_flash_said_plainly():
    args = ("--model", "deepseek-v3", "--hardware", "h200-sxm", "--workload", "deepseek-day6")
    d = kv_json(*args)
    g35 = tier(d, "G3.5")
    assert g35["present"] is False and g35["hit_rate"] == 0 and g35["capacity_available_bytes"] == 0
    assert any("has no pod flash" in v["message"] for v in d["verdicts"]), [v["message"] for v in d["verdicts"]]
    r = run("kv", *args)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if line.strip().startswith("G3.5"))
    assert "absent" in row, row
    assert "has no pod flash" in r.stdout


# ---- 6. pod flash assumptions printed with its numbers -------------------------------------------------

def test_pod_flash_assumption_printed():
    r = run("kv", "--hardware", "vr200-nvl72")
    assert r.exit_code == 0, r.output
    assumption = io.load_hardware("vr200-nvl72", {}).pod_flash.assumption
    assert assumption
    assert f"G3.5 assumption: {assumption}" in " ".join(r.stdout.split())    # wrapped at the width
    row = next(line for line in r.stdout.splitlines() if line.strip().startswith("G3.5"))
    assert "absent" not in row and "1 PB" in row, row     # 1,000 TB per rack × 1 rack


# ---- 7. tiers in the plan (JSON, TOML, round trip) ------------------------------------------------------

def test_size_plan_kv_tiers_json_toml_round_trip(tmp_path):
    r = run("size", "--format", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert [t["tier"] for t in plan["kv_tiers"]] == TIERS
    for t in plan["kv_tiers"]:
        for k in TIER_KEYS:
            assert k in t, (t["tier"], k)
    for k in TOP_KEYS:
        assert k in plan["kv"]
    # TOML: [[kv_tiers]] tables with every DESIGN key; TOML has no null, so a value JSON gives as
    # null (G4's unbounded capacity) is left out and reads back as None
    r = run("size", "--format", "toml")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("[[kv_tiers]]") == 5
    toml = tomllib.loads(r.stdout)
    assert [t["tier"] for t in toml["kv_tiers"]] == TIERS
    for t, j in zip(toml["kv_tiers"], plan["kv_tiers"], strict=True):
        for k in TIER_KEYS:
            assert k in t or j[k] is None, (t["tier"], k)
    # export then re-evaluate: same kv_tiers and kv section
    path = tmp_path / "plan.toml"
    r = run("size", "--export", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    r = run("size", "--plan", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert again["kv_tiers"] == first["kv_tiers"] == plan["kv_tiers"]
    assert again["kv"] == first["kv"]


def test_size_table_has_tiers_section():
    r = run("size")
    assert r.exit_code == 0, r.output
    assert "KV-cache tiers" in r.stdout
    assert "write-through" in " ".join(r.stdout.split())


# ---- 10. no prefix ---------------------------------------------------------------------------------------

def test_rag_reuses_no_prefix():
    d = kv_json("--workload", "rag")
    assert all(t["hit_rate"] == 0 for t in d["kv_tiers"])
    assert any("reuses no prefix" in v["message"] for v in d["verdicts"])
