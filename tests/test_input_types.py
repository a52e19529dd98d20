"""Type confusion (issue 21): `true` is not a number and a string is not a boolean, in TOML files, HF
config.json and `--set`, for every input schema (planner.inputs.base.StrictModel). Unit strings the
schemas parse ('128k', '1M') keep working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clihelp import run, stderr_of

ROOT = Path(__file__).resolve().parents[1]
HF = ROOT / "tests" / "fixtures" / "hf" / "meta-llama--Meta-Llama-3.1-8B.json"
SIZE = ("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat")


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = stderr_of(result).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, lines
    return lines[0]


@pytest.mark.parametrize("key", ["workload.isl", "workload.osl", "workload.requests_per_s", "model.num_layers",
                                 "hardware.hbm.capacity_gb", "hardware.scale_up.domain_size",
                                 "engine.max_batch", "engine.mtp_acceptance"])
@pytest.mark.parametrize("value", ["true", "false", "[true]"])
def test_set_refuses_booleans_for_numbers(key, value):
    if value == "[true]" and key != "engine.mtp_acceptance":
        return
    line = _error(run(*SIZE, "--set", f"{key}={value}"))
    assert key.split(".")[-1] in line and "not true or false" in line


def test_workload_isl_true_was_isl_1():
    # the example: it ran with ISL 1
    assert "isl: Input should be a number, not true or false" in _error(run(*SIZE, "--set", "workload.isl=true"))


def test_a_bool_field_refuses_numbers_and_strings():
    line = _error(run(*SIZE, "--set", "model.tie_word_embeddings=1"))
    assert "tie_word_embeddings: Input should be true or false" in line


def _proposal(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text('model = "llama-3.1-8b"\nhardware = "h100-sxm"\nworkload = "chat"\n' + body)
    return path


@pytest.mark.parametrize("body, field", [
    ('[assert]\nfits = "no"\n', "assert.fits"),                  # the example: passed as a boolean
    ('[assert]\nno_errors = 0\n', "assert.no_errors"),
    ('[assert]\nmax_gpus = true\n', "assert.max_gpus"),
    ('[layout]\ntp = true\nbatch = 8\n', "layout.tp"),
    ('[layout]\ntp = 1\nbatch = 8\ndual_microbatch = "yes"\n', "layout.dual_microbatch"),
])
def test_proposal_files_refuse_confused_types(tmp_path, body, field):
    line = _error(run("check", str(_proposal(tmp_path, body))))
    assert f"{field}:" in line


def test_toml_preset_copy_with_true_for_a_count(tmp_path):
    text = (ROOT / "presets" / "workloads" / "chat.toml").read_text()
    bad = tmp_path / "w.toml"
    bad.write_text("\n".join("osl = true" if line.startswith("osl") else line for line in text.splitlines()))
    assert "osl: Input should be a number" in _error(run(*SIZE[:5], "-w", str(bad)))


@pytest.mark.parametrize("key, value", [("num_hidden_layers", True), ("num_key_value_heads", True),
                                        ("tie_word_embeddings", "no"), ("hidden_size", "4096"),
                                        ("num_attention_heads", 0), ("head_dim", [1, 2])])
def test_hf_config_values_of_the_wrong_type(tmp_path, key, value):
    data = json.loads(HF.read_text())
    data[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    line = _error(run("models", "show", str(path)))
    assert str(path) in line


def test_unit_strings_still_parse(tmp_path):
    r = run(*SIZE, "--set", "workload.isl=4k", "--set", "workload.osl=1k", "--format", "json")
    assert r.exit_code in (0, 1), r.output
    d = json.loads(r.stdout)
    assert (d["isl"], d["osl"]) == (4000, 1000) or (d["isl"], d["osl"]) == (4096, 1024)
    folder = tmp_path / "hf"
    folder.mkdir()
    shutil.copy(HF, folder / "config.json")
    assert run("models", "show", str(folder), "--context", "128k").exit_code == 0


def test_whole_section_set_takes_a_name_or_inline_table_not_a_number():
    """`--set workload=1e400` once looked up a preset named 'inf' (fuzzer, seed 1721346889)."""
    res = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--set", "workload=1e400")
    assert res.exit_code == 2
    assert stderr_of(res).strip() == ("error: --set workload= takes a preset name, a file or an inline table, "
                                      "not a number")
    res = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--set", "workload=true")
    assert res.exit_code == 2 and "not a boolean" in stderr_of(res)
    res = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--format", "json",
              "--set", "workload={isl=4000, osl=500, requests_per_s=2}")
    assert res.exit_code in (0, 1), res.output
    w = json.loads(res.stdout)["inputs"]["workload"]
    assert (w["isl"], w["osl"], w["requests_per_s"]) == (4000, 500, 2)
    res = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--set", "workload=chat")
    assert res.exit_code in (0, 1) and "for chat:" in res.stdout
