"""`planner models list|show` through typer's CliRunner at a fixed width (conftest: COLUMNS=100).

Every `--format table` test has a `--format json` twin that checks the values; every bad input
exits 2 with one line on stderr and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clihelp import ENV, run, stderr_of  # noqa: F401

from planner.inputs import io, presets
from planner.model.facts import decode_flops_per_token, facts, train_flops_per_token

FIXTURES = Path(__file__).parent / "fixtures" / "hf"
MILLION = 2**20



def show_json(*args: str) -> dict:
    result = run("models", "show", *args, "--format", "json")
    assert result.exit_code == 0, stderr_of(result)
    return json.loads(result.stdout)


def assert_one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2
    err = stderr_of(result).strip()
    assert "Traceback" not in result.output and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert result.stdout.strip() == "" or result.stdout.strip() == err
    for needle in needles:
        assert needle in err
    return err


# ---- list ----------------------------------------------------------------------------------------

def test_models_list_table_names_all_presets():
    result = run("models", "list")
    assert result.exit_code == 0
    names = presets.names("models")
    assert len(names) == 15
    for name in names:
        assert name in result.stdout


def test_models_list_json():
    result = run("models", "list", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == presets.names("models")
    v3 = next(r for r in rows if r["name"] == "deepseek-v3")
    assert v3["kv_bytes_per_token"] == 70_272              # ISCA '25 Table 1
    assert "deepseek-r1" in v3["aliases"]


# ---- show ----------------------------------------------------------------------------------------

def test_show_v4_pro_json_at_1m():
    d = show_json("deepseek-v4-pro", "--context", "1048576")
    m = io.load_model("deepseek-v4-pro")
    assert d["params"]["total"] == facts(m).params.total
    assert d["params"]["total"] == pytest.approx(1.6e12, rel=0.03)           # V4 abstract; ±3%
    assert d["params"]["active"] == pytest.approx(49e9, rel=0.03)            # V4 abstract; ±3%
    assert d["kv"]["bytes_per_token"] == pytest.approx(5_031, rel=0.01)      # models.md §1.3; ±1%
    assert d["kv"]["bytes_per_sequence"] == pytest.approx(5.28e9, rel=0.01)  # models.md §1.3, window included; ±1%
    assert d["kv"]["context"] == MILLION
    assert d["flops"]["decode_per_token"] == pytest.approx(decode_flops_per_token(m, MILLION), rel=1e-12)
    # at --context (DESIGN.md)
    assert d["flops"]["train_per_token"] == pytest.approx(train_flops_per_token(m, 1_048_576), rel=1e-12)
    assert d["ep"]["flops_per_comm_byte"] == 6144                            # V4 paper §3.1; exact


def test_show_v4_pro_table_at_1m():
    result = run("models", "show", "deepseek-v4-pro", "--context", "1048576", "--format", "table")
    assert result.exit_code == 0
    assert "6,144" in result.stdout
    assert "1,048,576" in result.stdout


def test_show_context_with_units():
    assert show_json("deepseek-v4-pro", "--context", "1Mi")["kv"]["context"] == MILLION


def test_show_alias():
    d = show_json("deepseek-r1")
    assert d["model"] == "deepseek-v3"
    assert d["kv"]["bytes_per_token"] == 70_272                               # ISCA '25 Table 1


def test_show_hf_config_file():
    d = show_json(str(FIXTURES / "openai--gpt-oss-120b.json"))
    assert d["params"]["total"] == pytest.approx(116.8e9, rel=0.03)           # OpenAI model card; ±3%
    assert d["params"]["total"] == facts(io.load_model("gpt-oss-120b")).params.total


def test_show_hf_config_file_table():
    result = run("models", "show", str(FIXTURES / "openai--gpt-oss-120b.json"))
    assert result.exit_code == 0
    assert "gpt-oss-120b" in result.stdout


def test_show_precision_override():
    d = show_json("deepseek-v3.2", "--set", "model.precision.kv=bf16")
    assert d["kv"]["dtype"] == "bf16"
    assert d["kv"]["bytes_per_token"] == 61 * 576 * 2 + 61 * 132   # MLA BF16 + FP8 indexer keys


# ---- bad input: exit 2, one line, no traceback --------------------------------------------------

def test_unknown_model_suggests():
    err = assert_one_line_error(run("models", "show", "deepseek-v5"), "deepseek-v5")
    assert "did you mean" in err


def test_malformed_json_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 4096,\n  "num_hidden_layers": \n}\n')
    assert_one_line_error(run("models", "show", str(path)), "line 4", "column 1")


def test_unknown_architecture_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba2", "hidden_size": 2048, "num_hidden_layers": 4,
                                "vocab_size": 50280, "layer_types": ["mamba"] * 4}))
    assert_one_line_error(run("models", "show", str(path)), "mamba2")


def test_missing_file():
    assert_one_line_error(run("models", "show", "no/such/config.json"), "no such file")


def test_bad_precision_override():
    assert_one_line_error(run("models", "show", "deepseek-v3", "--set", "model.precision.kv=fp7"), "precision.kv")


def test_override_outside_sections():
    assert_one_line_error(run("models", "show", "deepseek-v3", "--set", "foo=1"), "foo")


def test_override_without_equals():
    assert_one_line_error(run("models", "show", "deepseek-v3", "--set", "model.precision.kv"), "KEY=VALUE")


def test_bad_context():
    assert_one_line_error(run("models", "show", "deepseek-v3", "--context", "abc"), "--context", "abc")


def test_zero_context():
    assert_one_line_error(run("models", "show", "deepseek-v3", "--context", "0"), "--context")


def test_train_flops_follow_context_default_4096():
    # DESIGN.md command surface: flops.train_per_token at --context, default 4096.
    from planner.inputs import io
    from planner.model import facts as M
    m = io.load_model("llama-3.1-405b")
    default = json.loads(run("models", "show", "llama-3.1-405b", "--format", "json").stdout)["flops"]
    at8k = json.loads(run("models", "show", "llama-3.1-405b", "--context", "8192", "--format", "json").stdout)["flops"]
    assert default["train_sequence"] == 4096 and default["train_per_token"] == M.train_flops_per_token(m, 4096)
    assert at8k["train_sequence"] == 8192 and at8k["train_per_token"] == M.train_flops_per_token(m, 8192)
