"""Overflow and huge values (issue 21): every numeric input has a physically meaningful range
(planner.inputs.limits), `planner schema` shows it, and no output holds inf or nan."""

from __future__ import annotations

import json
import re

import pytest
from clihelp import run, stderr_of

from cli.render.console import finite_text
from planner.inputs import limits

NOT_FINITE = re.compile(r"(?<![\w.])[-+]?(inf|nan|Infinity|NaN)(?![\w])")
SIZE = ("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat")


def _error(result) -> str:
    assert result.exit_code == 2, result.output[-1500:]
    lines = stderr_of(result).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, lines
    return lines[0]


# each example of the issue: a traceback, a MemoryError or inf/nan/30-digit output before
@pytest.mark.parametrize("args, says", [
    (("estimate", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--layout", "tp=1", "--batch", "1e308", "--isl", "1k",
      "--osl", "64"), "--batch: must be at most 10,000,000"),
    (("models", "show", "llama-3.1-8b", "--set", "model.num_layers=1e12"), "num_layers: Input should be less than"),
    (("sweep", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--vary", "workload.isl=0:1e400"),
     "needs finite start"),
    (("sweep", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--vary", "workload.isl=-1e308:1e308"),
     "values"),
    ((*SIZE, "--set", "workload.requests_per_s=1e308"), "requests_per_s: Input should be less than"),
    ((*SIZE, "--set", "hardware.price.cloud_usd_per_gpu_hour=1e308"),
     "price.cloud_usd_per_gpu_hour: Input should be less than"),
    ((*SIZE, "--set", "workload.concurrent_sessions=1e30"), "concurrent_sessions: Input should be less than"),
    (("train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1T", "--gpus", "1e308"),
     "--gpus: must be at most"),
    (("train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1T", "--days", "nan"), "--days"),
    (("size", "-m", "llama-3.1-8b", "--layout", "tp=1", "--batch", "8", "--gpus", "1e30"), "--gpus"),
    ((*SIZE, "--set", "hardware.hbm.capacity_gb=1e300"), "capacity_gb"),
    ((*SIZE, "--set", "engine.max_num_tokens=1e20"), "max_num_tokens"),
])
def test_the_issues_examples_are_one_line_and_exit_2(args, says):
    assert says in _error(run(*args))


def test_the_api_checks_a_batch_given_with_a_layout_object():
    from planner import api
    from planner.errors import InputError
    from planner.inputs.layout import parse_layout
    with pytest.raises(InputError) as exc:
        api.estimate("llama-3.1-8b", "h100-sxm", parse_layout("tp=1"), batch=10**308, isl=1000, osl=10)
    assert exc.value.one_line() == "--batch: Input should be less than or equal to 10000000"


@pytest.mark.parametrize("kind", ["model", "hardware", "workload", "proposal", "plan"])
def test_schema_shows_the_ranges(kind):
    r = run("schema", kind)
    assert r.exit_code == 0
    text = r.stdout
    if kind != "plan":
        assert '"maximum"' in text and "range: " in text


def test_schema_workload_documents_the_isl_range():
    props = json.loads(run("schema", "workload").stdout)["properties"]
    assert f"≤ {limits.MAX_TOKENS:g}" in props["isl"]["description"]
    assert props["requests_per_s"]["anyOf"][0]["maximum"] == limits.MAX_RATE


@pytest.mark.parametrize("fmt", ["table", "json", "toml", "markdown"])
@pytest.mark.parametrize("sets", [("workload.requests_per_s=1e9",),
                                  ("hardware.price.cloud_usd_per_gpu_hour=1e6", "workload.requests_per_s=1e9"),
                                  ("workload.concurrent_sessions=1e12",),
                                  ("hardware.hbm.capacity_gb=1e9", "hardware.scale_up.bandwidth_gbps=1e9")])
def test_the_largest_allowed_inputs_print_no_inf_or_nan(fmt, sets):
    args = [*SIZE, "--format", fmt]
    for s in sets:
        args += ["--set", s]
    r = run(*args)
    assert r.exit_code in (0, 1, 2), r.output[-1500:]
    assert not NOT_FINITE.search(r.stdout), NOT_FINITE.search(r.stdout)
    assert "Traceback" not in r.output


def test_train_at_the_ceilings_prints_no_nan():
    r = run("train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", str(limits.MAX_TRAIN_TOKENS),
            "--gpus", str(limits.MAX_GPUS // 8 * 8))
    assert r.exit_code in (0, 1, 2) and not NOT_FINITE.search(r.stdout), r.stdout[-1500:]


def test_the_final_guard_turns_non_finite_numbers_into_n_a():
    assert finite_text(f"{float('inf'):,.0f} kW, ${float('inf')}/hour, {float('nan')}%") == "n/a kW, $n/a/hour, n/a%"
    assert finite_text("Infinity Fabric, infiniband, financial") == "Infinity Fabric, infiniband, financial"
