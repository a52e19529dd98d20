"""The plan (DESIGN.md "Outputs"): TOML with fully resolved inputs, so the plan alone reproduces
itself; loading and re-evaluating it gives the same numbers; writes are atomic and never replace a
file without --force.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from clihelp import run, stderr_of

from planner import api
from planner.errors import InputError
from planner.files import write_output
from planner.inputs import io
from planner.plan.schema import (
    Plan,
    evaluate_plan_file,
    load_plan_inputs,
    plan_toml,
    read_plan,
)

COMBOS = [
    ("llama-3.1-70b", "h200-sxm", "chat", ()),                          # dense, capacity_gb, gpu_w only
    ("qwen3-30b-a3b", "gb300-nvl72", "batch", ()),                      # MoE, capacity_gib, rack_w
    ("deepseek-v4-pro", "h200-sxm", "agentic", ()),                     # EP crosses the domain
    ("llama-3.1-405b", "h100-sxm", "agentic", ("workload.slo.tpot_ms=1",)),   # infeasible
]






def sizing(model: str, hardware: str, workload: str, sets=()) -> Plan:
    return api.size(model, hardware, workload, sets=io.parse_overrides(list(sets)))


# ---- CLI round trip ------------------------------------------------------------------------------

def test_exported_plan_reproduces_the_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run("size", "--format", "json")
    assert first.exit_code == 0, stderr_of(first)
    export = run("size", "--export", "plan.toml")
    assert export.exit_code == 0, stderr_of(export)
    assert "plan written to plan.toml" in stderr_of(export)
    again = run("size", "--plan", "plan.toml", "--format", "json")
    assert again.exit_code == 0, stderr_of(again)
    assert json.loads(again.stdout) == json.loads(first.stdout)


@pytest.mark.parametrize("model, hardware, workload, sets", COMBOS[:3] + [
    ("deepseek-v4-flash", "gb200-nvl72", "agentic", ("hardware.hbm.pin_speed_gbps=12", "workload.context=1M")),
])
def test_exported_plan_reproduces_the_json_with_overrides(tmp_path, model, hardware, workload, sets):
    args = ["--model", model, "--hardware", hardware, "--workload", workload]
    for s in sets:
        args += ["--set", s]
    plan = tmp_path / "p.toml"
    first = run("size", *args, "--export", str(plan), "--format", "json")
    assert first.exit_code == 0, stderr_of(first)
    again = run("size", "--plan", str(plan), "--format", "json")
    assert again.exit_code == 0, stderr_of(again)
    assert json.loads(again.stdout) == json.loads(first.stdout)


def test_infeasible_plan_round_trips_with_exit_1(tmp_path):
    plan = tmp_path / "p.toml"
    args = ("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--set", "workload.slo.tpot_ms=1")
    first = run("size", *args, "--export", str(plan), "--format", "json")
    assert first.exit_code == 1
    again = run("size", "--plan", str(plan), "--format", "json")
    assert again.exit_code == 1
    assert json.loads(again.stdout) == json.loads(first.stdout)


def test_exported_toml_holds_resolved_inputs(tmp_path):
    plan = tmp_path / "plan.toml"
    assert run("size", "--export", str(plan)).exit_code == 0
    data = tomllib.loads(plan.read_text(encoding="utf-8"))
    assert {"model", "hardware", "workload"} <= set(data["inputs"])
    assert data["inputs"]["model"]["name"] == "deepseek-v4-pro"
    assert data["inputs"]["hardware"]["name"] == "gb300-nvl72"
    assert data["inputs"]["workload"]["name"] == "agentic"
    assert data["tool"]["name"] == "planner"
    assert data["cluster"]["gpus"] > 0 and data["verdicts"]


def test_export_never_replaces_without_force(tmp_path):
    plan = tmp_path / "plan.toml"
    assert run("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
               "--export", str(plan)).exit_code == 0
    before = plan.read_bytes()
    refused = run("size", "--export", str(plan))
    assert refused.exit_code == 2
    lines = stderr_of(refused).strip().splitlines()
    assert len(lines) == 1 and "--force" in lines[0]
    assert plan.read_bytes() == before
    replaced = run("size", "--export", str(plan), "--force")
    assert replaced.exit_code == 0, stderr_of(replaced)
    after = plan.read_bytes()
    assert after != before
    assert tomllib.loads(after.decode())["inputs"]["model"]["name"] == "deepseek-v4-pro"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.toml"]    # no temporary file left behind


def test_export_into_a_missing_folder_is_one_line_exit_2(tmp_path):
    result = run("size", "--export", str(tmp_path / "nope" / "plan.toml"))
    assert result.exit_code == 2
    assert len(stderr_of(result).strip().splitlines()) == 1
    assert "folder does not exist" in stderr_of(result)


def test_plan_that_does_not_exist_is_exit_2(tmp_path):
    result = run("size", "--plan", str(tmp_path / "missing.toml"))
    assert result.exit_code == 2
    assert "no such file" in stderr_of(result)


def test_not_a_plan_names_the_missing_tables(tmp_path):
    src = Path(__file__).parent.parent / "presets" / "workloads" / "chat.toml"
    plan = tmp_path / "chat.toml"
    plan.write_bytes(src.read_bytes())
    result = run("size", "--plan", str(plan))
    assert result.exit_code == 2
    assert "[inputs.model], [inputs.hardware] and [inputs.workload]" in stderr_of(result)


def test_plan_with_overrides_re_sizes(tmp_path):
    plan = tmp_path / "p.toml"
    assert run("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
               "--export", str(plan)).exit_code == 0
    result = run("size", "--plan", str(plan), "--set", "workload.requests_per_s=400", "--format", "json")
    assert result.exit_code == 0, stderr_of(result)
    d = json.loads(result.stdout)
    assert d["requests_per_s"] == 400.0 and d["model"] == "llama-3.1-70b"


# ---- library: write_output, load_plan_inputs, evaluate_plan_file ---------------------------------

def test_write_output_refuses_then_replaces(tmp_path):
    path = tmp_path / "x.toml"
    write_output(path, "a = 1\n", force=False)
    with pytest.raises(InputError, match="file exists"):
        write_output(path, "a = 2\n", force=False)
    assert path.read_text() == "a = 1\n"
    write_output(path, "a = 2\n", force=True)
    assert path.read_text() == "a = 2\n"


def test_evaluate_plan_file_equals_size_on_the_same_inputs(tmp_path):
    s = sizing("deepseek-v4-pro", "gb300-nvl72", "agentic")
    path = tmp_path / "plan.toml"
    write_output(path, plan_toml(s), force=False)
    again = evaluate_plan_file(path)
    assert again.cluster is not None and s.cluster is not None
    assert again.cluster == s.cluster
    assert (again.tpot_s, again.ttft_s, again.feasible) == (s.tpot_s, s.ttft_s, s.feasible)
    inputs = load_plan_inputs(path)
    assert inputs == s.inputs


# ---- plan -> TOML -> plan is identity ------------------------------------------------------------

@pytest.mark.parametrize("model, hardware, workload, sets", COMBOS)
def test_plan_toml_round_trip_is_identity(model, hardware, workload, sets, tmp_path):
    s = sizing(model, hardware, workload, sets)
    text = plan_toml(s)
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    # the typed plan read back is the plan written (TOML has no null: None fields are their defaults)
    assert read_plan(path) == s
    # and re-evaluating its inputs gives the same plan again
    assert plan_toml(evaluate_plan_file(path)) == text
