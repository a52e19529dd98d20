"""`planner check` as a required CI check: a verdict for every file, machine-readable reports
(JSON in base units, SARIF 2.1.0, JUnit, a PR comment with a stable marker, the step summary),
budgets against the base branch, input changes in `diff`, assertions that drive sizing, safe
formats, and the GitHub Action."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from clihelp import run

from planner.plan.report import COMMENT_MARKER

ROOT = Path(__file__).resolve().parents[1]
# OASIS SARIF 2.1.0 schema, oasis-tcs/sarif-spec Documents/CommitteeSpecifications/2.1.0/sarif-schema-2.1.0.json
# @ 3682e9ee648f2f3e11ba1fcd47fc390a0b8f9dab
SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json"

PROPOSAL = """model = "llama-3.1-8b"
hardware = "h100-sxm"
workload = "chat"
{extra}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def three(tmp_path):
    ok = write(tmp_path, "ok.toml", PROPOSAL.format(extra="[assert]\nmax_gpus = 64\n"))
    bad = write(tmp_path, "bad.toml", PROPOSAL.format(extra="[assert]\nmax_gpus = 1\n"))
    broken = write(tmp_path, "broken.toml", 'model = "llama-3.1-8b"\nhardware = \n')
    return ok, bad, broken


def test_every_file_gets_a_verdict_junit(three, tmp_path):
    out = tmp_path / "j.xml"
    result = run("check", *map(str, three), "--format", "junit", "--output", str(out))
    assert result.exit_code == 2                           # the worst of pass, fail and error
    assert len(result.stderr.strip().splitlines()) == 1 and "broken.toml" in result.stderr
    root = ET.fromstring(out.read_text())
    cases = {Path(c.get("name")).name: c for c in root.iter("testcase")}
    assert set(cases) == {"ok.toml", "bad.toml", "broken.toml"}
    assert cases["ok.toml"].find("failure") is None and cases["ok.toml"].find("error") is None
    assert cases["bad.toml"].find("failure") is not None
    assert "invalid TOML" in cases["broken.toml"].find("error").get("message")


def test_json_has_numbers_in_base_units(three):
    data = json.loads(run("check", str(three[1]), "--format", "json").stdout)
    checks = {c["name"]: c for c in data[0]["checks"]}
    gpus = checks["max_gpus"]
    assert (gpus["operator"], gpus["limit"], gpus["unit"], gpus["passed"]) == ("<=", 1, "GPUs", False)
    assert isinstance(gpus["value"], int) and gpus["value"] > 1
    tpot = checks["tpot_ms"]
    assert tpot["unit"] == "s" and tpot["limit"] == pytest.approx(0.05) and 0 < tpot["value"] < 1
    assert data[0]["outcome"] == "fail"


def test_sarif_validates_against_the_2_1_0_schema(three):
    text = run("check", *map(str, three), "--format", "sarif").stdout
    log = json.loads(text)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    rules = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert {"max_gpus", "input-error"} <= rules


def test_comment_has_a_stable_marker_and_step_summary_is_appended(three, tmp_path, monkeypatch):
    body = run("check", str(three[0]), "--format", "comment").stdout
    assert body.startswith(COMMENT_MARKER + "\n")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run("check", str(three[0]))
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "planner check: 1 of 1 file(s) pass" in text


def test_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, "typo.toml", PROPOSAL.format(extra="[assert]\nmax_gpu = 8\n"))
    result = run("check", str(path))
    assert result.exit_code == 2 and "did you mean `max_gpus`" in result.stderr


def pinned(gpus: int) -> str:
    return PROPOSAL.format(extra=f"[layout]\ntp = 1\nbatch = 64\ngpus = {gpus}\n[assert]\nno_errors = false\n")


def test_budget_on_change_against_a_base_folder(tmp_path):
    base, head = tmp_path / "base", tmp_path / "head"
    base.mkdir()
    head.mkdir()
    write(base, "p.toml", pinned(10))
    path = write(head, "p.toml", pinned(12))                # +20% GPUs
    args = ["check", "p.toml", "--base", str(base), "-f", "json"]
    import os
    cwd = os.getcwd()
    os.chdir(head)
    try:
        tight = run(*args, "--max-increase", "gpus=10%")
        loose = run(*args, "--max-increase", "gpus=25%")
    finally:
        os.chdir(cwd)
    assert path.exists()
    checks = {c["name"]: c for c in json.loads(tight.stdout)[0]["checks"]}
    assert tight.exit_code == 1 and checks["increase[gpus]"]["passed"] is False
    assert checks["increase[gpus]"]["value"] == pytest.approx(0.2)
    assert loose.exit_code == 0


def test_budget_against_a_git_revision(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    git("config", "user.email", "ci@example.com")
    git("config", "user.name", "ci")
    write(tmp_path, "p.toml", pinned(10))
    git("add", "p.toml")
    git("commit", "-qm", "base")
    write(tmp_path, "p.toml", pinned(12))
    result = run("check", str(tmp_path / "p.toml"), "--base", "HEAD", "--max-increase", "gpus=10%", "-f", "json")
    assert result.exit_code == 1
    write(tmp_path, "new.toml", pinned(12))
    result = run("check", str(tmp_path / "new.toml"), "--base", "HEAD", "--max-increase", "gpus=10%", "-f", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["checks"][-1]["actual"] == "new file"


def test_assertions_drive_sizing(tmp_path):
    # chat's own TPOT target is 50 ms; an assertion of 30 ms is what the sizing search meets
    path = write(tmp_path, "tight.toml", PROPOSAL.format(extra="[assert]\ntpot_ms = 30\n"))
    result = run("check", str(path), "-f", "json")
    assert result.exit_code == 0, result.output
    tpot = {c["name"]: c for c in json.loads(result.stdout)[0]["checks"]}["tpot_ms"]
    assert tpot["value"] <= 0.030


def test_diff_shows_input_changes_first(tmp_path):
    a = write(tmp_path, "a.toml", PROPOSAL.format(extra='[set]\n"workload.requests_per_s" = 50\n'))
    b = write(tmp_path, "b.toml", PROPOSAL.format(extra='[set]\n"workload.requests_per_s" = 80\n'))
    rows = json.loads(run("diff", str(a), str(b), "-f", "json").stdout)["changes"]
    assert rows[0] == {"kind": "input", "field": "workload.requests_per_s", "old": 50.0, "new": 80.0,
                       "unit": "number", "changed": True, "relative_change": pytest.approx(0.6)}
    assert any(r["kind"] == "result" and r["field"] == "GPUs" for r in rows)


def test_a_file_name_cannot_inject_workflow_commands(tmp_path):
    path = write(tmp_path, "p\n::warning file=x::INJECTED.toml", PROPOSAL.format(extra="[assert]\nmax_gpus = 1\n"))
    out = run("check", str(path), "-f", "github").stdout
    commands = [line for line in out.splitlines() if line.startswith("::")]
    assert len(commands) == len(out.splitlines()) and not any(c.startswith("::warning") for c in commands)
    assert all("INJECTED" not in c.split("::", 2)[1] or "%0A" in c for c in commands)


def test_junit_escapes_control_characters(tmp_path):
    path = write(tmp_path, "ctl\x01name.toml", PROPOSAL.format(extra="[assert]\nmax_gpus = 1\n"))
    ET.fromstring(run("check", str(path), "-f", "junit").stdout)          # parses: no raw control char


def test_the_github_action_and_example_workflow():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"files", "version", "base", "max-increase", "comment"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    assert any("actions/setup-python" in s.get("uses", "") for s in steps)
    assert any("planner check" in s.get("run", "") for s in steps)
    for s in steps:
        assert "uses" in s or ("run" in s and s.get("shell") == "bash"), s   # composite run steps need a shell
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "planner-check.yml").read_text())
    job = next(iter(workflow["jobs"].values()))
    assert any(s.get("uses", "").endswith("@v1") or s.get("uses", "").startswith("./") for s in job["steps"])
    assert workflow["permissions"]["pull-requests"] == "write"
