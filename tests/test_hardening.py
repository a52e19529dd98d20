"""Hardening: every bad input is one line and exit 2, writes are atomic, output is deterministic,
and nothing prints NaN or infinity (issue: "Hardening")."""

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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# ---- the fuzz test: random argument lists ------------------------------------------------------------

PLANNING = {"size", "kv", "balance", "sweep"}
COMMANDS = [["size"], ["estimate"], ["kv"], ["models", "show"], ["models", "list"], ["hardware", "show"],
            ["hardware", "list"], ["train"], ["check"], ["diff"], ["schema"], ["sweep"], ["compare"], ["balance"],
            ["validate"]]
OPTIONS = ["--model", "--hardware", "--workload", "--set", "--format", "--layout", "--batch", "--isl", "--osl",
           "--context", "--tokens", "--gpus", "--days", "--vary", "--export", "--plan", "--output", "--force",
           "--prefix", "--zero", "--recompute", "-m", "-H", "-w", "-f"]
VALUES = ["llama-3.1-8b", "qwen3-32b", "llama-3.1-70b", "h100-sxm", "h200-sxm", "b200-hgx",
          "mi300x", "chat", "batch", "rag", "json", "table", "toml", "markdown", "csv", "github", "junit",
          "tp=1", "tp=2,dp=1", "tp=0", "tp=x", "tp=3,dp=2,ep=5", "1", "8", "0", "-1", "1k", "128k", "1e9", "abc",
          "nan", "inf", "", " ", "hardware.hbm.pin_speed_gbps=12", "workload.context=1M", "model.precision.kv=fp8",
          "model.precision.kv=fp7", "workload.isl=0", "hardware.scale_up.domain_size=0", "foo=1", "=", "x.y=",
          "proposal", "plan", "model", "nope", "/nonexistent/file.toml", "/tmp", "14.8T",
          "hardware.hbm.pin_speed_gbps=8,10", "workload.osl=1,abc", "1Mi", "1e30"]
TOKENS = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES),
                   st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12))


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(command=st.sampled_from(COMMANDS), args=st.lists(TOKENS, max_size=8))
def test_fuzz_cli_never_tracebacks(command, args, tmp_path_factory):
    # The only acceptable outcomes are 0, 1 or 2 with no traceback. Files the fuzzer might write go
    # to a fresh folder.
    # Commands that plan get a small dense model up front so that 2,000 cases fit in a minute; the
    # fuzzed tokens come after it and can still override it (the last option wins).
    light = ["-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat"] if command[0] in PLANNING else []
    cwd = tmp_path_factory.mktemp("fuzz")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        assert_clean_exit(run(*command, *light, *args))
    finally:
        os.chdir(old)


# ---- fuzzed input files ----------------------------------------------------------------------------------

PROPOSAL = (ROOT / "examples" / "proposals" / "llama70b-h200-chat-pinned.toml").read_text()
HARDWARE = (ROOT / "presets" / "hardware" / "h100-sxm.toml").read_text()


def _mutate(text: str, data: st.DataObject) -> str:
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace_number", "dup_line"]),
                                       st.integers(0, max(1, len(text) - 1))), min_size=1, max_size=4))
    for op, at in ops:
        if op == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 20)):]
        elif op == "insert":
            text = text[:at] + data.draw(st.sampled_from(["=", "[", "]", '"', "\n", "-1", "1e400", "nan", "x = 1\n",
                                                           "[assert]\n", "ü", "\x00"])) + text[at:]
        elif op == "replace_number":
            import re
            text = re.sub(r"\b\d+(\.\d+)?\b", data.draw(st.sampled_from(["0", "-5", "1e300", "inf", '"a"', "nan"])),
                          text, count=1)
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i = at % len(lines)
                lines.insert(i, lines[i])
                text = "".join(lines)
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_fuzz_proposal_files(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "p.toml"
    path.write_text(_mutate(PROPOSAL, data), encoding="utf-8", errors="surrogateescape")
    assert_clean_exit(run("check", str(path)))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_fuzz_hardware_files(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw")
    path = folder / "hw.toml"
    path.write_text(_mutate(HARDWARE, data), encoding="utf-8", errors="surrogateescape")
    assert_clean_exit(run("hardware", "show", str(path), "--format", "json"))
    assert_clean_exit(run("estimate", "-m", "llama-3.1-8b", "-H", str(path), "--layout", "tp=1", "--batch", "4",
                          "--isl", "1k", "--osl", "64"))


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
