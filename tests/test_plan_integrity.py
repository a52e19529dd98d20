"""Tampered plans (issue 21): an exported plan carries its format and SHA-256 hashes of its inputs
and of its results. `size --plan` (which re-evaluates the inputs) warns when either was edited;
`check` and `diff` (which re-use recorded results) refuse with exit 2. A plan edited to 1e308
requests/s is refused by the input ranges instead of printing inf."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from clihelp import run, stderr_of

from planner.plan.schema import PLAN_FORMAT

SIZE = ("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    assert run(*SIZE, "--export", str(path), "--format", "json").exit_code == 0
    return path


def _edit(src: Path, dst: Path, table: str, key: str, value: str) -> Path:
    text = src.read_text()
    start = text.index(f"[{table}]\n")
    at = text.index(f"\n{key} = ", start) + 1
    end = text.index("\n", at)
    dst.write_text(text[:at] + f"{key} = {value}" + text[end:])
    return dst


def _stderr_lines(result) -> list[str]:
    return stderr_of(result).strip().splitlines()


def test_an_exported_plan_carries_its_format_and_hashes(exported):
    tool = tomllib.loads(exported.read_text())["tool"]
    assert tool["format"] == PLAN_FORMAT
    assert len(tool["inputs_sha256"]) == 64 and len(tool["results_sha256"]) == 64


def test_an_untouched_plan_is_quiet_everywhere(exported):
    for args in (("size", "--plan", str(exported)), ("check", str(exported)), ("diff", str(exported), str(exported))):
        r = run(*args)
        assert r.exit_code == 0, r.output
        assert "warning" not in stderr_of(r) and "edited" not in stderr_of(r)


@pytest.mark.parametrize("table, key, value, says", [
    ("inputs.workload", "isl", "1600", "its [inputs] were edited after export"),
    ("cluster", "gpus", "1", "its recorded results were edited after export"),
])
def test_an_edited_plan_warns_on_reevaluation_and_is_refused_where_results_are_reused(exported, tmp_path, table,
                                                                                     key, value, says):
    edited = _edit(exported, tmp_path / "edited.toml", table, key, value)
    again = run("size", "--plan", str(edited), "--format", "json")
    assert again.exit_code in (0, 1)
    lines = _stderr_lines(again)
    assert len(lines) == 1 and lines[0].startswith("warning: ") and says in lines[0]
    for args in (("check", str(edited)), ("diff", str(exported), str(edited))):
        r = run(*args)
        assert r.exit_code == 2, r.output
        lines = _stderr_lines(r)
        assert len(lines) == 1 and says in lines[0] and "re-export" in lines[0]


def test_a_plan_with_1e308_requests_per_s_is_refused_not_printed_as_inf(exported, tmp_path):
    edited = _edit(exported, tmp_path / "huge.toml", "inputs.workload", "requests_per_s", "1e308")
    for args in (("size", "--plan", str(edited)), ("check", str(edited)), ("diff", str(exported), str(edited))):
        r = run(*args)
        assert r.exit_code == 2, r.output
        assert "inf" not in r.stdout and len(_stderr_lines(r)) == 1


def test_a_plan_from_a_newer_format_is_refused(exported, tmp_path):
    newer = _edit(exported, tmp_path / "newer.toml", "tool", "format", str(PLAN_FORMAT + 1))
    line = _stderr_lines(run("diff", str(newer), str(newer)))
    assert len(line) == 1 and "newer than this planner reads" in line[0]


def test_a_plan_without_hashes_still_loads(exported, tmp_path):
    # plans exported before format 2 carry no hashes: nothing to compare, no warning
    text = "\n".join(line for line in exported.read_text().splitlines()
                     if not line.startswith(("inputs_sha256", "results_sha256", "format = ")))
    old = tmp_path / "old.toml"
    old.write_text(text + "\n")
    r = run("diff", str(old), str(exported))
    assert r.exit_code == 0 and stderr_of(r).strip() == ""
