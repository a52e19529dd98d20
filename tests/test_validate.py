"""`planner validate` and the error ranges derived from it (docs/validation.md)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from clihelp import run

from planner.accuracy.uncertainty import bands, time_range
from planner.accuracy.validation import (
    GROUP_BOUND,
    OVERALL_TPOT_BOUND,
    OVERALL_TTFT_BOUND,
    error_bands,
    group_of,
    validate_all,
)

ROOT = Path(__file__).resolve().parents[1]
REPORT = validate_all()


def test_reference_set_covers_the_issue_grid():
    # >= 40 cases across H100, H200, B200, GB200, GB300 and dense, MoE and MLA models
    cases = [r.case for r in REPORT.rows]
    assert len(cases) >= 40
    assert {c.hardware for c in cases} >= {"h100-sxm", "h200-sxm", "b200-hgx", "gb200-nvl72", "gb300-nvl72"}
    assert {c.model for c in cases} >= {"llama-3.1-70b", "qwen3-235b-a22b", "deepseek-v3"}   # dense, MoE, MLA
    assert {group_of(c) for c in cases} == {"hopper/dense", "hopper/moe", "blackwell/dense", "blackwell/moe"}


def test_exit_code_follows_the_documented_bounds():
    result = run("validate", "--format", "json")
    data = json.loads(result.stdout)
    expected = (data["overall"]["tpot_median_abs_error"] <= OVERALL_TPOT_BOUND
                and data["overall"]["ttft_median_abs_error"] <= OVERALL_TTFT_BOUND
                and all(g["tpot_median_abs_error"] <= GROUP_BOUND and g["ttft_median_abs_error"] <= GROUP_BOUND
                        for g in data["groups"]))
    assert data["passed"] is expected
    assert result.exit_code == (0 if expected else 1)
    assert len(data["cases"]) == len(REPORT.rows)


def test_dense_groups_within_their_bound():
    for g in REPORT.groups:
        if g.group.endswith("/dense"):
            assert g.passed, g


def test_table_twin():
    result = run("validate")
    assert "Groups" in result.stdout and "overall:" in result.stdout


def test_error_bands_file_is_current():
    # presets/validation/error_bands.toml is generated from this same report
    data = tomllib.loads((ROOT / "presets" / "validation" / "error_bands.toml").read_text())
    for kind, metrics in error_bands(REPORT).items():
        for metric, (q10, q90) in metrics.items():
            assert data[kind][metric]["q10"] == pytest.approx(q10, abs=1e-4), (kind, metric)
            assert data[kind][metric]["q90"] == pytest.approx(q90, abs=1e-4), (kind, metric)


@pytest.mark.parametrize("is_moe, metric", [(False, "ttft"), (False, "tpot"), (True, "ttft"), (True, "tpot")])
def test_range_is_the_prediction_divided_by_one_plus_the_error_quantiles(is_moe, metric):
    band = bands()["moe" if is_moe else "dense"][metric]
    low, high = time_range(0.010, is_moe, metric)
    assert low == pytest.approx(0.010 / (1 + band["q90"])) and high == pytest.approx(0.010 / (1 + band["q10"]))
    assert low <= high


def test_ranges_in_estimate_and_size_json():
    e = json.loads(run("estimate", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--layout", "tp=1", "--batch", "8",
                       "--isl", "2k", "--osl", "256", "--format", "json").stdout)
    s = json.loads(run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--format", "json").stdout)
    for d in (e, s):
        for key in ("ttft_s", "tpot_s", "tokens_per_s_per_gpu"):
            assert d[f"{key}_low"] <= d[f"{key}_high"]
        # throughput moves inversely with TPOT
        assert d["tokens_per_s_per_gpu_low"] == pytest.approx(
            d["tokens_per_s_per_gpu"] * d["tpot_s"] / d["tpot_s_high"])
