"""Hardening: every bad input is one line and exit 2, writes are atomic, output is deterministic,
and nothing prints NaN or infinity (issue: "Hardening"). The fuzzer that used to live here grew into
tests/test_fuzz.py (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import typer
import typer.testing
from clihelp import Outcome, runner

from cli.main import app
from planner import files as plan_module

ROOT = Path(__file__).resolve().parents[1]
# Typer rebuilds its Click command tree on every call (~35 ms); build it once so that thousands of
# fuzzed invocations fit in the time budget. Behaviour is identical to `planner ...`.
COMMAND = typer.main.get_command(app)


def run(*args: str):
    with mock.patch.object(typer.testing, "_get_command", lambda _app: COMMAND):
        return Outcome(runner().invoke(app, list(args)))


def assert_clean_exit(result, allowed=(0, 1, 2)):
    assert result.exit_code in allowed, (result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"unhandled {type(result.exception).__name__}: {result.exception}")


# ---- atomic writes -------------------------------------------------------------------------------------

def test_failure_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "plan.toml"
    target.write_text("old contents\n")

    def boom(*_args, **_kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(plan_module.os, "fsync", boom)   # fails after the temporary file was written
    with pytest.raises(OSError):
        plan_module.write_output(target, "new contents\n", force=True)
    assert target.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]   # no temporary file left behind


def test_cli_export_failure_is_exit_2_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "plan.toml"
    target.write_text("old contents\n")
    monkeypatch.setattr(plan_module.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename failed")))
    result = run("size", "-m", "llama-3.1-8b", "-w", "chat", "--export", str(target), "--force")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert target.read_text() == "old contents\n"


def test_export_never_overwrites_without_force(tmp_path):
    target = tmp_path / "plan.toml"
    target.write_text("mine\n")
    result = run("size", "-m", "llama-3.1-8b", "-w", "chat", "--export", str(target))
    assert result.exit_code == 2 and "--force" in result.output and target.read_text() == "mine\n"


# ---- determinism ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_output_is_byte_identical_across_hash_seeds(fmt):
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "COLUMNS": "100"}
        proc = subprocess.run([sys.executable, "-m", "cli.main", "size", "-m", "qwen3-30b-a3b", "-H", "h100-sxm",
                               "-w", "chat", "--format", fmt], capture_output=True, env=env, cwd=ROOT, check=False)
        assert proc.returncode in (0, 1), proc.stderr.decode()
        outputs.add(proc.stdout)
    assert len(outputs) == 1


# ---- no NaN or infinity, huge inputs -------------------------------------------------------------------

def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


@pytest.mark.parametrize("args", [
    ("size", "-m", "llama-3.1-8b", "-w", "chat", "--set", "workload.requests_per_s=1e9"),          # ~10^7 GPUs
    ("size", "-m", "llama-3.1-8b", "-w", "chat", "--set", "workload.context=1000000000",
     "--set", "model.max_context=2000000000"),                                                      # 10^9-token context
    ("kv", "-m", "deepseek-v4-flash", "-H", "gb300-nvl72", "-w", "rag"),                         # G4 capacity unbounded
    ("train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1e20", "--gpus", "8"),
])
def test_huge_inputs_give_finite_json(args):
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output[-1000:]
    data = json.loads(result.stdout)
    for value in _walk(data):
        if isinstance(value, float):
            assert value == value and value not in (float("inf"), float("-inf"))
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout


def test_ten_million_gpus_is_counted_not_overflowed():
    data = json.loads(run("size", "-m", "llama-3.1-8b", "-w", "chat", "--set", "workload.requests_per_s=1e9",
                          "--format", "json").stdout)
    assert data["cluster"]["gpus"] > 1_000_000 and isinstance(data["cluster"]["gpus"], int)


def test_existing_outputs_are_refused_before_any_work(tmp_path):
    # --export and --roofline targets are checked first: one line, exit 2, nothing printed to stdout.
    existing = tmp_path / "plan.toml"
    existing.write_text("mine\n")
    result = run("size", "-m", "llama-3.1-8b", "-w", "chat", "--export", str(existing))
    assert result.exit_code == 2 and result.stdout == "" and existing.read_text() == "mine\n"


@pytest.mark.parametrize("args", [("check", "\x00"), ("diff", "\x00", "x.toml"), ("size", "--export", "a\x00"),
                                  ("sweep", "--output", "a\x00")])
def test_nul_byte_path_is_a_usage_error(args):
    """click 8.1 (the floor) lets os.stat's ValueError escape from a path with a NUL byte; every path
    argument and option goes through cli.common.SafePath, so it is exit 2 like any bad path."""
    assert_clean_exit(run(*args), allowed=(2,))
