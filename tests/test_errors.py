"""Every user error is one line on stderr and exit 2 (docs/errors.md lists each of these cases)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cli.main import run as planner_main

ROOT = Path(__file__).resolve().parents[1]

# (case id, arguments after `planner`, text the one line must contain). Files named here are
# created by the `files` fixture below.
CASES = [
    ("unknown-preset", ["size", "-m", "deepseek-v5"], "unknown model 'deepseek-v5' (did you mean deepseek-v3"),
    ("unknown-hardware", ["size", "-H", "h100"], "unknown hardware preset 'h100' (did you mean h100-sxm"),
    ("unknown-workload", ["size", "-w", "chats"], "unknown workload 'chats' (did you mean chat?)"),
    ("missing-file", ["size", "-m", "missing.toml"], "missing.toml: no such file"),
    ("directory-for-config", ["size", "-m", "adir"], "adir: no config.json here"),
    ("directory-for-toml", ["size", "-H", "adir"], "adir: is a directory, expected a TOML file"),
    ("bad-toml", ["size", "-H", "bad.toml"], "bad.toml: invalid TOML: Invalid value (at line 2, column 12)"),
    ("unknown-key", ["check", "unknown.toml"], "unknown.toml: assert.max_gpu: unknown key"),
    ("bad-json", ["models", "show", "broken.json"], "broken.json: invalid JSON at line 1 column 22"),
    ("unknown-architecture", ["models", "show", "mamba.json"],
     "state_size: model_type 'mamba2': no attention layers: pure state-space models are not modelled yet"),
    ("missing-field", ["models", "show", "nolayers.json"], "model_type 'llama': the decoder needs num_hidden_layers"),
    ("boolean-for-integer", ["models", "show", "boolean.json"],
     "boolean.json: num_hidden_layers: model_type 'llama': expected an integer, got true"),
    ("unmodelled-field", ["models", "show", "mimo.json"],
     "mimo.json: swa_num_key_value_heads: model_type 'mimo_v2_flash': swa_num_key_value_heads = 8 changes the "
     "architecture in a way planner does not model yet"),
    ("hub-id-not-cached", ["models", "show", "meta-llama/Llama-3.1-70B-Instruct"],
     "meta-llama/Llama-3.1-70B-Instruct: not in the local Hugging Face cache (looked for "),
    ("zero-size", ["size", "--set", "workload.isl=0"], "isl: Input should be greater than 0"),
    ("negative-size", ["size", "--set", "hardware.hbm.capacity_gib=-1"],
     "hbm.capacity_gib: Input should be greater than 0"),
    ("wrong-type", ["size", "--set", "hardware.hbm.pin_speed_gbps=fast"],
     "hbm.pin_speed_gbps: Input should be a valid number"),
    ("not-finite", ["size", "--set", "workload.requests_per_s=inf"], "requests_per_s: Input should be a finite number"),
    ("number-for-section", ["size", "--set", "workload=1e400"],
     "--set workload= takes a preset name, a file or an inline table, not a number"),
    ("wrong-unit", ["models", "show", "llama-3.1-8b", "--context", "12q"], "--context: not a count: '12q'"),
    ("bad-override-key", ["size", "--set", "foo=1"],
     "--set foo: keys start with model., hardware., workload. or engine."),
    ("override-without-value", ["size", "--set", "workload.isl"], "--set 'workload.isl': expected KEY=VALUE"),
    ("bad-enum", ["size", "--set", "model.precision.kv=fp7"], "precision.kv: Input should be 'fp32'"),
    ("context-too-long", ["size", "--set", "workload.context=2M"],
     "workload context 2,000,000 tokens exceeds deepseek-v4-pro's maximum"),
    ("contradictory-layout", ["estimate", "-m", "qwen3-30b-a3b", "-H", "h100-sxm", "--layout", "tp=2,dp=2,ep=3",
                              "--batch", "1", "--isl", "1k", "--osl", "1"],
     "--layout: ep=3 does not divide the 4 GPUs of a stage"),
    ("zero-layout", ["estimate", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--layout", "tp=0", "--batch", "1",
                     "--isl", "1k", "--osl", "1"], "--layout: tp: Input should be greater than 0"),
    ("pin-speed-without-stacks", ["hardware", "show", "mi355x", "--set", "hardware.hbm.pin_speed_gbps=12"],
     "this machine's HBM has no stacks and bus width"),
    ("overwrite-without-force", ["size", "-m", "llama-3.1-8b", "-w", "chat", "--export", "exists.toml"],
     "exists.toml: file exists (use --force to replace it)"),
    ("not-a-plan", ["size", "--plan", "chat.toml"],
     "not a plan: no [inputs.model], [inputs.hardware] and [inputs.workload]"),
    ("days-and-gpus", ["train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1T", "--gpus", "8", "--days", "3"],
     "give --days or --gpus, not both"),
    ("zip-length", ["sweep", "-m", "llama-3.1-8b", "--vary", "workload.isl=1,2", "--vary", "workload.osl=1", "--zip"],
     "--zip needs --vary lists of equal length"),
    ("bad-option-value", ["size", "--format", "yaml"], "Invalid value for '--format'"),
    ("unknown-option", ["size", "--nope"], "No such option: --nope"),
    ("missing-argument", ["models", "show"], "Missing argument 'model'"),
    # issue 21: special files, capped reads, strict types, ranges, tampered plans
    ("special-output", ["size", "-m", "llama-3.1-8b", "-w", "chat", "--export", "out.fifo", "--force"],
     "out.fifo: is a FIFO (named pipe), not a regular file; it is never replaced (write to a regular file, "
     "or to - for stdout)"),
    ("device-output", ["size", "-m", "llama-3.1-8b", "-w", "chat", "--export", "/dev/null", "--force"],
     "/dev/null: is a character device, not a regular file; it is never replaced"),
    ("special-input", ["size", "-H", "/dev/zero"], "/dev/zero: is a character device, expected a regular file"),
    ("input-too-large", ["size", "-H", "big.toml"], "big.toml: is 5.2 MB; input files are limited to 4 MiB"),
    ("not-utf8", ["size", "-H", "latin1.toml"], "latin1.toml: not UTF-8 text (byte 11)"),
    ("boolean-for-number", ["size", "--set", "workload.isl=true"], "isl: Input should be a number, not true or false"),
    ("text-for-boolean", ["check", "fits.toml"], "fits.toml: assert.fits: Input should be true or false, not 'no'"),
    ("out-of-range", ["size", "--set", "workload.requests_per_s=1e308"],
     "requests_per_s: Input should be less than or equal to 1000000000"),
    ("option-out-of-range", ["estimate", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--layout", "tp=1", "--batch", "1e308",
                             "--isl", "1k", "--osl", "1"], "--batch: must be at most 10,000,000"),
    ("range-not-finite", ["sweep", "-m", "llama-3.1-8b", "--vary", "workload.isl=0:1e400"],
     "--vary: range '0:1e400': needs finite start ≤ stop and a positive step"),
    ("edited-plan", ["diff", "edited.toml", "edited.toml"],
     "edited.toml: its [inputs] were edited after export: the recorded results no longer match them (re-export it"),
]


@pytest.fixture()
def files(tmp_path, monkeypatch):
    (tmp_path / "bad.toml").write_text('model = "llama-3.1-8b"\nhardware = \n')
    (tmp_path / "adir").mkdir()
    (tmp_path / "mamba.json").write_text('{"model_type": "mamba2", "hidden_size": 1, "num_hidden_layers": 1, '
                                         '"vocab_size": 2, "state_size": 16}')
    (tmp_path / "nolayers.json").write_text('{"model_type": "llama", "hidden_size": 4096, "vocab_size": 32000}')
    (tmp_path / "boolean.json").write_text('{"model_type": "llama", "hidden_size": 4096, "vocab_size": 32000, '
                                           '"num_hidden_layers": true, "num_attention_heads": 32}')
    (tmp_path / "mimo.json").write_text('{"model_type": "mimo_v2_flash", "hidden_size": 4096, "vocab_size": 32000, '
                                        '"num_hidden_layers": 4, "num_attention_heads": 64, "num_key_value_heads": 4, '
                                        '"intermediate_size": 16384, "swa_num_key_value_heads": 8}')
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    (tmp_path / "broken.json").write_text('{"hidden_size": 4096,')
    (tmp_path / "unknown.toml").write_text('model = "llama-3.1-8b"\nhardware = "h100-sxm"\nworkload = "chat"\n'
                                           '[assert]\nmax_gpu = 8\n')
    (tmp_path / "exists.toml").write_text("keep me\n")
    (tmp_path / "chat.toml").write_text((ROOT / "presets" / "workloads" / "chat.toml").read_text())
    os.mkfifo(tmp_path / "out.fifo")
    with (tmp_path / "big.toml").open("w") as handle:
        handle.truncate(5_200_000)
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    (tmp_path / "fits.toml").write_text('model = "llama-3.1-8b"\nhardware = "h100-sxm"\nworkload = "chat"\n'
                                        '[assert]\nfits = "no"\n')
    _edited_plan(tmp_path / "edited.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _edited_plan(path: Path) -> None:
    """A plan exported for chat whose ISL was then edited by hand."""
    from planner import api
    from planner.plan.schema import plan_toml
    text = plan_toml(api.size("llama-3.1-8b", "h100-sxm", "chat"))
    start = text.index("[inputs.workload]")
    at = text.index("\nisl = ", start) + 1
    path.write_text(text[:at] + "isl = 1601" + text[text.index("\n", at):])


@pytest.mark.parametrize("case, args, text", CASES, ids=[c[0] for c in CASES])
def test_user_error_is_one_line_and_exit_2(case, args, text, files, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    with pytest.raises(SystemExit) as exc:
        planner_main()
    captured = capsys.readouterr()
    assert exc.value.code == 2, (case, captured.err)
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, (case, captured.err)
    # Click < 8.2 names a missing argument in capitals ('MODEL')
    assert lines[0].startswith("error: ") and text.lower() in lines[0].lower(), (case, lines[0])
    assert "Traceback" not in captured.err + captured.out
    if case == "overwrite-without-force":
        assert (files / "exists.toml").read_text() == "keep me\n"


def test_debug_shows_the_traceback(files, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["planner", "--debug", "size", "-m", "deepseek-v5"])
    with pytest.raises(Exception) as exc:
        planner_main()
    assert "unknown model" in str(exc.value)


def test_errors_doc_lists_every_case():
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for case, _args, text in CASES:
        assert f"`{case}`" in doc, case
        assert text in doc, (case, text)
