"""Training runs as proposals: `planner train --export` writes one (layout pinned), `planner check`
re-evaluates it against its assertions (fits, days, GPU-hours, MFU floor), like serving proposals."""

from __future__ import annotations

import json
import tomllib

from clihelp import run

RUN = ["train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1T", "--gpus", "64"]


def test_export_then_check_round_trip(tmp_path):
    path = tmp_path / "run.toml"
    result = run(*RUN, "--export", str(path), "-f", "json")
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    proposal = tomllib.loads(path.read_text())
    assert proposal["kind"] == "training" and proposal["gpus"] == 64
    checked = run("check", str(path), "-f", "json")
    assert checked.exit_code == 0, checked.output
    data = json.loads(checked.stdout)[0]
    assert data["kind"] == "training" and data["outcome"] == "pass"
    best = trained.get("best", trained)
    assert data["details"]["days"] == best["days"] and data["details"]["mfu"] == best["mfu"]


def test_assertions_fail_with_numbers(tmp_path):
    path = tmp_path / "tight.toml"
    path.write_text('kind = "training"\nmodel = "llama-3.1-8b"\nhardware = "h100-sxm"\ntokens = 1e12\n'
                    'gpus = 64\n[layout]\ndp = 64\n[assert]\nmax_days = 1\nmin_mfu = 0.99\nmax_gpu_hours = 10\n')
    result = run("check", str(path), "-f", "json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)[0]["checks"]}
    assert checks["max_days"]["passed"] is False and checks["max_days"]["unit"] == "days"
    assert checks["min_mfu"]["operator"] == ">=" and checks["min_mfu"]["passed"] is False
    assert checks["max_gpu_hours"]["value"] > 10


def test_unknown_kind_and_bad_field_are_one_line(tmp_path):
    path = tmp_path / "odd.toml"
    path.write_text('kind = "inference"\nmodel = "llama-3.1-8b"\n')
    result = run("check", str(path))
    assert result.exit_code == 2 and "unknown kind 'inference'" in result.stderr
    path.write_text('kind = "training"\nmodel = "llama-3.1-8b"\nhardware = "h100-sxm"\ntokens = 1e12\n'
                    '[assert]\nmax_day = 3\n')
    result = run("check", str(path))
    assert result.exit_code == 2 and "did you mean `max_days`" in result.stderr
