"""`planner check`, `diff` and `schema`: the CI gate (docs/ci.md)."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from clihelp import run

from planner.plan.check import check_file, find_line

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "proposals"
EXPECTED = {  # documented exit codes of the shipped examples (docs/ci.md)
    "v4-pro-gb300-agentic.toml": 0,
    "pin-speed-whatif.toml": 0,
    "llama70b-h200-chat-pinned.toml": 0,
    "v4-pro-h200-agentic.toml": 1,
    "llama70b-h200-chat-underprovisioned.toml": 1,
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name, code", sorted(EXPECTED.items()))
def test_examples_give_their_documented_exit_codes(name, code):
    result = run("check", str(EXAMPLES / name))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_github_format_names_the_file_and_the_failing_line():
    path = EXAMPLES / "v4-pro-h200-agentic.toml"
    result = run("check", str(path), "--format", "github")
    assert result.exit_code == 1
    lines = path.read_text().splitlines()
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert errors
    for error in errors:
        head = error.split("::")[1]                          # "error file=...,line=N,title=..."
        fields = dict(part.split("=", 1) for part in head[len("error "):].split(","))
        assert fields["file"] == str(path)
        assert fields["title"].startswith("planner check ")
        check = fields["title"].removeprefix("planner check ")
        # the annotated line holds the failing assertion's key
        assert lines[int(fields["line"]) - 1].split("=")[0].strip() == check


def test_pinned_gpu_shortfall_points_at_layout_gpus():
    path = EXAMPLES / "llama70b-h200-chat-underprovisioned.toml"
    r = check_file(path)
    demand = next(c for c in r.checks if c.name == "demand")
    assert not demand.passed
    assert "24 GPUs hold 6 unit(s) of 4 GPUs" in demand.message and "the demand is 100.00" in demand.message
    assert path.read_text().splitlines()[demand.line - 1].startswith("gpus =")


def test_junit_is_valid_xml_with_one_case_per_file():
    result = run("check", *(str(EXAMPLES / n) for n in sorted(EXPECTED)), "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    cases = root.findall(".//testcase")
    assert len(cases) == len(EXPECTED) == int(root.get("tests"))
    failed = {c.get("name").rsplit("/", 1)[-1] for c in cases if c.find("failure") is not None}
    assert failed == {n for n, code in EXPECTED.items() if code} and int(root.get("failures")) == len(failed)


def test_json_and_markdown_twins():
    path = str(EXAMPLES / "v4-pro-gb300-agentic.toml")
    data = json.loads(run("check", path, "--format", "json").stdout)
    assert data[0]["passed"] is True and data[0]["kind"] == "proposal"
    names = {c["name"] for c in data[0]["checks"]}
    assert {"fits", "tpot_ms", "ttft_ms", "max_gpus", "max_racks", "max_power_kw"} <= names
    md = run("check", path, "--format", "markdown").stdout
    assert md.startswith("## planner check: 1 of 1 file(s) pass") and "| check | expected | actual | result |" in md


def test_output_file_is_written_and_not_overwritten(tmp_path):
    out = tmp_path / "report.xml"
    path = str(EXAMPLES / "v4-pro-gb300-agentic.toml")
    assert run("check", path, "--format", "junit", "--output", str(out)).exit_code == 0
    ET.parse(out)
    before = out.read_bytes()
    again = run("check", path, "--format", "junit", "--output", str(out))
    assert again.exit_code == 2 and "--force" in again.output and out.read_bytes() == before


def test_exported_plan_passes_check_unchanged(tmp_path):
    plan = tmp_path / "plan.toml"
    assert run("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
               "--export", str(plan)).exit_code == 0
    result = run("check", str(plan))
    assert result.exit_code == 0, result.output
    checks = json.loads(run("check", str(plan), "--format", "json").stdout)[0]
    assert checks["kind"] == "plan" and all(c["passed"] for c in checks["checks"])


def test_malformed_toml_is_exit_2_with_line_and_column(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "llama-3.1-8b"\nhardware = \n')
    result = run("check", str(bad))
    assert result.exit_code == 2
    assert "line 2" in result.output and "column" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_unknown_key_is_exit_2_naming_it(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "llama-3.1-8b"\nhardware = "h100-sxm"\nworkload = "chat"\n[assert]\nmax_gpu = 8\n')
    result = run("check", str(bad))
    assert result.exit_code == 2 and "assert.max_gpu" in result.output and "unknown key" in result.output


def test_bad_forbid_rule_is_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "llama-3.1-8b"\nhardware = "h100-sxm"\nworkload = "chat"\n'
                   '[assert]\nforbid_bottleneck = ["decode:network"]\n')
    assert run("check", str(bad)).exit_code == 2


def test_relative_model_file_resolves_next_to_the_proposal(tmp_path):
    model = tmp_path / "m.toml"
    model.write_text((Path(__file__).resolve().parents[1] / "presets" / "models" / "llama-3.1-8b.toml").read_text())
    prop = tmp_path / "p.toml"
    prop.write_text('model = "m.toml"\nhardware = "h100-sxm"\nworkload = "chat"\n[assert]\nmax_gpus = 1000\n')
    assert run("check", str(prop)).exit_code == 0


def test_find_line():
    text = 'a = 1\n[assert]\n# note\nmax_gpus = 4\n[layout]\ngpus = 8\n[[kv_tiers]]\n'
    assert find_line(text, "assert.max_gpus") == 4
    assert find_line(text, "layout.gpus") == 6
    assert find_line(text, "assert.missing") == 2     # falls back to the section header
    assert find_line(text, "a") == 1


def test_diff_of_two_plans(tmp_path):
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    assert run("size", "--export", str(old)).exit_code == 0
    assert run("size", "--hardware", "vr200-nvl72", "--export", str(new)).exit_code == 0
    data = json.loads(run("diff", str(old), str(new), "--format", "json").stdout)
    fields = {c["field"]: c for c in data["changes"]}
    old_plan, new_plan = tomllib.loads(old.read_text()), tomllib.loads(new.read_text())
    assert fields["GPUs"]["old"] == old_plan["cluster"]["gpus"] and fields["GPUs"]["new"] == new_plan["cluster"]["gpus"]
    assert fields["GPUs"]["relative_change"] == pytest.approx(
        new_plan["cluster"]["gpus"] / old_plan["cluster"]["gpus"] - 1)
    assert run("diff", str(old), str(new), "--format", "markdown").stdout.startswith("### planner diff:")
    assert run("diff", str(old), str(old)).stdout.strip().endswith("no changes")


def test_diff_of_proposals_evaluates_them():
    result = run("diff", str(EXAMPLES / "v4-pro-gb300-agentic.toml"), str(EXAMPLES / "v4-pro-h200-agentic.toml"),
                 "--format", "json")
    assert result.exit_code == 0
    fields = {c["field"] for c in json.loads(result.stdout)["changes"]}
    assert "GPUs" in fields


@pytest.mark.parametrize("name", ["proposal", "plan", "model", "hardware", "workload"])
def test_schema(name):
    result = run("schema", name)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object" and schema["properties"]
    if name == "proposal":
        assert "assert" in schema["properties"] and schema["additionalProperties"] is False
