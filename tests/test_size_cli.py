"""`planner size` through typer's CliRunner (COLUMNS=100, no colour), plus the meta-tests every
command must pass (help with an example, named in the README) and golden text for the main tables.

JSON keys are the stable contract of DESIGN.md "Command surface"; exit codes: 0 feasible,
1 targets not met, 2 bad input. Golden files: `UPDATE_GOLDEN=1 python3 -m pytest tests/test_size_cli.py`
rewrites them; otherwise they are compared with trailing spaces stripped per line.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path

import pytest
import typer.main
from clihelp import ENV, run, stderr_of  # noqa: F401

from cli.main import app
from planner.inputs import io

GOLDEN = Path(__file__).parent / "golden"
README = Path(__file__).parent.parent / "README.md"



def assert_no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in stderr_of(result)


def size_json(*args: str, exit_code: int = 0) -> dict:
    result = run("size", *args, "--format", "json")
    assert result.exit_code == exit_code, stderr_of(result)
    assert_no_traceback(result)
    return json.loads(result.stdout)


# ---- the embedded default ------------------------------------------------------------------------

def test_size_without_arguments_prints_the_default_plan():
    result = run("size")
    assert result.exit_code == 0, stderr_of(result)
    out = result.stdout
    assert out.startswith("deepseek-v4-pro on gb300-nvl72 for agentic")
    assert "Verdicts" in out and "Layout" in out and "cluster:" in out


def test_size_without_arguments_json_twin():
    d = size_json()
    assert (d["model"], d["hardware"], d["workload"]) == ("deepseek-v4-pro", "gb300-nvl72", "agentic")
    assert d["feasible"] is True and d["verdicts"]


# ---- JSON keys (DESIGN.md "Command surface") -----------------------------------------------------

def test_size_json_has_the_documented_keys():
    d = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat")
    assert {"tp", "dp", "ep", "pp", "batch", "gpus"} <= set(d["layout"])
    assert {"weights_bytes", "kv_bytes", "activation_bytes", "reserve_bytes", "free_bytes"} <= set(d["per_gpu"])
    for phase in ("prefill", "decode"):
        p = d["phases"][phase]
        assert {"compute_s", "hbm_s", "scale_up_s", "scale_out_s", "storage_s", "time_s", "bottleneck"} <= set(p)
        assert all(isinstance(p[k], float) and p[k] >= 0 for k in p if k.endswith("_s"))
    for key in ("ttft_s", "tpot_s", "tokens_per_s_per_gpu"):
        assert isinstance(d[key], float) and d[key] > 0
    assert {"gpus", "replicas", "nodes", "racks", "power_w"} <= set(d["cluster"])
    assert isinstance(d["kv_tiers"], list)
    assert d["verdicts"] and all({"phase", "resource", "severity", "message"} <= set(v) for v in d["verdicts"])
    assert d["feasible"] is True
    assert {"size", "smallest_working", "knee", "comparison"} <= set(d["domain"])
    # values agree with each other: the budget adds up to the HBM, the cluster to the pools
    per_gpu = d["per_gpu"]
    parts = sum(per_gpu[f"{k}_bytes"] for k in ("weights", "kv", "activation", "reserve", "free"))
    assert parts == pytest.approx(per_gpu["capacity_bytes"], rel=1e-9)
    assert d["cluster"]["gpus"] == sum(p["gpus"] for p in d["pools"])
    # capacity of the layout at its batch vs the demand spread over the cluster
    assert d["tokens_per_s_per_gpu_at_demand"] == pytest.approx(d["requests_per_s"] * 400 / d["cluster"]["gpus"])
    assert d["tokens_per_s_per_gpu"] >= d["tokens_per_s_per_gpu_at_demand"]


def test_size_toml_format_parses():
    result = run("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat", "--format", "toml")
    assert result.exit_code == 0, stderr_of(result)
    data = tomllib.loads(result.stdout)
    assert data["model"] == "llama-3.1-70b" and data["cluster"]["gpus"] > 0
    assert {"model", "hardware", "workload"} <= set(data["inputs"])


def test_size_markdown_format_is_a_pr_comment():
    result = run("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
                 "--format", "markdown")
    assert result.exit_code == 0, stderr_of(result)
    out = result.stdout
    assert out.startswith("### planner:")
    assert "| GPUs | nodes | racks | power | cost | $/M output tokens | TTFT | TPOT |" in out and "|---:|" in out
    assert "**Verdicts**" in out


# ---- infeasible: exit 1 with a reason, never a traceback -----------------------------------------

def test_impossible_tpot_exits_1_with_the_ratio():
    args = ("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--set", "workload.slo.tpot_ms=1")
    result = run("size", *args)
    assert result.exit_code == 1, stderr_of(result)
    assert_no_traceback(result)
    assert "infeasible" in result.stdout
    d = size_json(*args, exit_code=1)
    assert d["feasible"] is False and d["layout"] is None and d["cluster"] is None
    errors = [v for v in d["verdicts"] if v["severity"] == "error"]
    assert errors and errors[0]["resource"] == "slo"
    assert "TPOT" in errors[0]["message"] and "×" in errors[0]["message"]


def test_impossible_ttft_exits_1_naming_ttft():
    d = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--set", "workload.slo.ttft_ms=1",
                  exit_code=1)
    (v,) = [v for v in d["verdicts"] if v["severity"] == "error"]
    assert v["phase"] == "prefill" and "TTFT" in v["message"] and "× over" in v["message"]


def test_model_that_cannot_fit_exits_1_with_an_hbm_error():
    args = ("--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--set", "hardware.hbm.capacity_gib=1")
    result = run("size", *args)
    assert result.exit_code == 1, stderr_of(result)
    assert_no_traceback(result)
    d = size_json(*args, exit_code=1)
    errors = [v for v in d["verdicts"] if v["severity"] == "error"]
    assert [e["resource"] for e in errors] == ["hbm"]
    assert "weights need" in errors[0]["message"] and "HBM holds" in errors[0]["message"]


def test_infeasible_markdown_says_so():
    result = run("size", "--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--set", "workload.slo.tpot_ms=1",
                 "--format", "markdown")
    assert result.exit_code == 1
    assert "**Infeasible**" in result.stdout


def test_bad_override_exits_2_in_one_line():
    result = run("size", "--set", "workload.slo.tpot_ms=-5")
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert len(stderr_of(result).strip().splitlines()) == 1


# ---- V4-Pro: an 8-GPU domain vs NVL72 ------------------------------------------------------------

def test_v4_pro_on_h200_crosses_the_scale_out_network():
    d = size_json("--model", "deepseek-v4-pro", "--hardware", "h200-sxm", "--workload", "agentic")
    decode = next(p for p in d["pools"] if p["role"] in ("decode", "colocated"))
    assert decode["layout"]["ep"] > 8
    assert d["phases"]["decode"]["scale_out_s"] > 0
    crossing = [v for v in d["verdicts"]
                if v["resource"] == "scale_out" and "cross the scale-out network" in v["message"]]
    assert len(crossing) == 1
    lever = crossing[0]["lever"]
    inside = min((r for r in d["domain"]["comparison"] if r["gpus"] is not None and not r["ep_crosses_domain"]),
                 key=lambda r: (r["gpus"], r["domain_size"]))
    assert inside["domain_size"] > 8
    if inside["gpus"] < d["cluster"]["gpus"]:
        # a domain that holds the EP group saves GPUs: the lever says which and how many
        assert f"{inside['domain_size']}-GPU domain" in lever
        assert f"{inside['gpus']:,} GPUs instead of {d['cluster']['gpus']:,}" in lever
        assert f"{1 - inside['gpus'] / d['cluster']['gpus']:.0%} fewer" in lever
    else:
        # no saving (e.g. the prefill pool dominates): the lever names the domain size that keeps EP inside
        assert f"≥ {decode['layout']['ep']} GPUs" in lever


def test_v4_pro_on_gb300_keeps_ep_on_nvlink():
    d = size_json("--model", "deepseek-v4-pro", "--hardware", "gb300-nvl72", "--workload", "agentic")
    assert d["phases"]["decode"]["scale_out_s"] == 0
    assert not any(v["resource"] == "scale_out" and "cross the scale-out network" in v["message"]
                   for v in d["verdicts"])


# ---- domain what-if ------------------------------------------------------------------------------

def test_domain_what_if_144_on_gb300():
    d = size_json("--hardware", "gb300-nvl72", "--set", "hardware.scale_up.domain_size=144")
    dom = d["domain"]
    assert dom["size"] == 144
    assert [r["domain_size"] for r in dom["comparison"]] == [8, 36, 72, 144, 576]
    assert dom["smallest_working"] is not None and dom["knee"] is not None
    assert dom["smallest_working"] <= dom["knee"]
    own = next(r for r in dom["comparison"] if r["domain_size"] == 144)
    assert own["gpus"] == d["cluster"]["gpus"]
    assert d["cluster"]["domains"] == math.ceil(d["cluster"]["gpus"] / 144)


def test_dense_model_has_an_empty_domain_comparison():
    d = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat")
    assert d["domain"] == {"size": 8, "smallest_working": None, "knee": None, "comparison": []}


def test_domain_comparison_in_the_table():
    result = run("size", "--model", "deepseek-v4-pro", "--hardware", "h200-sxm", "--workload", "agentic")
    assert result.exit_code == 0
    out = " ".join(result.stdout.split())     # the line wraps at 100 columns
    assert "same workload by domain size" in out and "(EP crosses NICs)" in out
    assert "smallest domain that keeps EP inside: 36" in out


# ---- cluster arithmetic, hand-checked against the preset numbers ---------------------------------

# (gpus_per_node, gpus_per_rack, system watts per GPU) from presets/hardware/*.toml
MACHINES = {
    "gb300-nvl72": (4, 72, 142_000 / 72),   # power basis rack: 142 kW per 72 GPUs
    "h100-sxm": (8, 32, 10_200 / 8),        # basis node: DGX H100 10.2 kW
    "h200-sxm": (8, 32, 10_200 / 8),        # basis node: DGX H200 10.2 kW
    "h800-sxm": (8, 32, 700.0 * 1.8),       # basis gpu: 700 W TDP x 1.8 system overhead (assumed)
}


@pytest.mark.parametrize("model, hardware, workload", [
    ("llama-3.1-70b", "h800-sxm", "chat"),
    ("qwen3-30b-a3b", "gb300-nvl72", "chat"),     # disaggregated: prefill and decode pools
    ("llama-3.1-70b", "h100-sxm", "batch"),
    ("llama-3.1-70b", "h200-sxm", "chat"),
])
def test_cluster_arithmetic(model, hardware, workload):
    per_node, per_rack, watts = MACHINES[hardware]
    d = size_json("--model", model, "--hardware", hardware, "--workload", workload)
    c, pools = d["cluster"], d["pools"]
    assert c["gpus"] == sum(p["units"] * p["layout"]["gpus"] for p in pools)
    if all(p["layout"]["gpus"] <= per_node and per_node % p["layout"]["gpus"] == 0 for p in pools):
        # units that divide a node pack into whole nodes: nodes = ceil(GPUs / GPUs per node)
        assert c["nodes"] == math.ceil(c["gpus"] / per_node)
    assert c["nodes"] >= math.ceil(c["gpus"] / per_node)
    assert c["gpus_provisioned"] == c["nodes"] * per_node
    assert c["racks"] == math.ceil(c["nodes"] * per_node / per_rack)
    assert c["power_w"] == pytest.approx(c["gpus_provisioned"] * watts, rel=1e-12)
    assert c["replicas"] == sum(p["units"] for p in pools)
    if len(pools) == 2:
        assert c["prefill_gpus"] == pools[0]["gpus"] and c["decode_gpus"] == pools[1]["gpus"]


def test_h800_plan_is_priced_at_its_preset_rate():
    # h800-sxm carries price_per_gpu_hour = 2.0 (DeepSeek's rental price)
    d = size_json("--model", "llama-3.1-70b", "--hardware", "h800-sxm", "--workload", "chat")
    c = d["cluster"]
    assert c["cost_per_hour"] == 2.0 * c["gpus_provisioned"]      # whole nodes are rented
    assert c["cost_per_month"] == pytest.approx(2.0 * c["gpus_provisioned"] * 730)


def test_cost_from_the_presets_dated_price_and_overrides():
    # h200-sxm [price]: AWS p5en.48xlarge on-demand $63.296/h ÷ 8 = $7.912 per GPU-hour (2026-08)
    plain = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat")
    c = plain["cluster"]
    assert c["cost_per_hour"] == pytest.approx(7.912 * c["gpus_provisioned"])
    assert c["cost_per_month"] == pytest.approx(c["cost_per_hour"] * 730)
    assert "AWS p5en" in c["cost_basis"]
    # $ per million output tokens: cost per hour over the demand's output tokens in an hour
    out_per_hour = plain["requests_per_s"] * plain["osl"] * 3600
    assert plain["usd_per_million_output_tokens"] == pytest.approx(c["cost_per_hour"] / out_per_hour * 1e6)
    d = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
                  "--set", "hardware.price.cloud_usd_per_gpu_hour=2")
    assert d["cluster"]["cost_per_hour"] == 2.0 * d["cluster"]["gpus_provisioned"]
    # owned: $35,000 over 5 years of 8,760 h, plus the system power per GPU at PUE 1.58 and $0.0806/kWh
    owned = size_json("--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat",
                      "--set", "hardware.price.basis=owned")
    oc = owned["cluster"]
    per_gpu = 35000 / (5 * 8760) + oc["power_per_gpu_w"] / 1e3 * 1.58 * 0.0806
    assert oc["cost_per_hour"] == pytest.approx(per_gpu * oc["gpus_provisioned"])
    assert oc["cost_basis"].startswith("owned")
    none = size_json("--model", "llama-3.1-70b", "--hardware", "h20", "--workload", "chat",
                     "--set", "hardware.price.basis=cloud")     # h20 has a purchase price only
    assert none["cluster"]["cost_per_hour"] is None and none["usd_per_million_output_tokens"] is None


# ---- workload presets ----------------------------------------------------------------------------

@pytest.mark.parametrize("workload", ["chat", "agentic", "rag", "reasoning", "batch"])
def test_every_workload_preset_sizes(workload):
    result = run("size", "--model", "deepseek-v4-flash", "--hardware", "gb300-nvl72", "--workload", workload,
                 "--format", "json")
    assert result.exit_code in (0, 1), stderr_of(result)
    assert_no_traceback(result)
    d = json.loads(result.stdout)
    assert d["workload"] == workload
    assert d["feasible"] == (result.exit_code == 0)


def test_context_override_derives_the_prefix():
    w = io.load_workload("agentic", io.parse_overrides(["workload.context=1Mi"]))
    assert (w.isl, w.osl) == (8000, 1500)
    assert w.prefix == 1_048_576 - 8000 - 1500
    d = size_json("--model", "deepseek-v4-flash", "--hardware", "gb300-nvl72", "--workload", "agentic",
                  "--set", "workload.context=1Mi")
    assert d["inputs"]["workload"]["prefix"] == 1_039_076


# ---- meta: help, examples, README ----------------------------------------------------------------

COMMANDS = [("size",), ("estimate",), ("models", "list"), ("models", "show"), ("hardware", "list"),
            ("hardware", "show")]


def test_top_level_help():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("size", "estimate", "models", "hardware"):
        assert name in result.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]
    assert "Example:" in (command.help or "")
    assert "Example:" in (command.callback.__doc__ or "")


@pytest.mark.parametrize("name", ["size", "estimate", "models", "hardware"])
def test_readme_mentions_every_command(name):
    assert f"planner {name}" in README.read_text(encoding="utf-8")


# ---- golden text ---------------------------------------------------------------------------------

GOLDEN_CASES = {
    "size_llama70b_h200_chat.txt": ("size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat"),
    "estimate_llama70b_h200.txt": ("estimate", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--layout", "tp=8",
                                   "--batch", "1", "--isl", "2048", "--osl", "256"),
    "models_show_v4pro.txt": ("models", "show", "deepseek-v4-pro", "--context", "1048576"),
}


def _stripped(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_output(name):
    result = run(*GOLDEN_CASES[name])
    assert result.exit_code == 0, stderr_of(result)
    actual = _stripped(result.stdout)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with UPDATE_GOLDEN=1 to write it"
    assert actual == _stripped(path.read_text(encoding="utf-8"))
