"""The terminal never interprets user text (issue "one serving engine", item 6).

Rich parses "[bold]"-style markup in strings it prints unless told not to. Names of models,
workloads and files, preset notes and verdict texts are the user's (or a preset's) text: printed as
given, never styled, never a crash. Before, a name containing "[/x]" raised a MarkupError
traceback, `check` printed `forbid_bottleneck[decode:scale_out]` as `forbid_bottleneck`, and
`hardware show vr200-nvl72` printed "every number in  is an assumption".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clihelp import run, stderr_of

PRESETS = Path(__file__).parent.parent / "presets"
TRICKY = "evil[/x] [bold]name[/bold] :warning:"


def _copy_with_name(src: Path, dst: Path, name: str) -> Path:
    text = src.read_text(encoding="utf-8")
    lines = [f'name = "{name}"' if line.startswith("name = ") else line for line in text.splitlines()]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


@pytest.fixture()
def files(tmp_path):
    model = _copy_with_name(PRESETS / "models" / "llama-3.1-8b.toml", tmp_path / "m[1].toml", TRICKY)
    workload = tmp_path / "w[x].toml"
    shutil.copy(PRESETS / "workloads" / "chat.toml", workload)
    workload = _copy_with_name(workload, workload, TRICKY)
    hardware = _copy_with_name(PRESETS / "hardware" / "h200-sxm.toml", tmp_path / "hw[b].toml", TRICKY)
    return model, workload, hardware


def test_models_show_prints_the_name_as_given(files):
    model, _, _ = files
    r = run("models", "show", str(model))
    assert r.exit_code == 0, r.output
    assert TRICKY in r.stdout


def test_size_prints_model_and_workload_names_as_given(files):
    model, workload, hardware = files
    r = run("size", "-m", str(model), "-H", str(hardware), "-w", str(workload))
    assert r.exit_code in (0, 1), r.output
    assert "Traceback" not in r.output
    assert r.stdout.count(TRICKY) >= 3                       # model, hardware and workload in the header


def test_hardware_show_prints_notes_as_given():
    r = run("hardware", "show", "vr200-nvl72")
    assert r.exit_code == 0, r.output
    assert "every number in [pod_flash] is an assumption" in " ".join(r.stdout.split())


def test_check_names_the_bracketed_assertion_and_the_file(tmp_path):
    p = tmp_path / "proposal [x].toml"
    p.write_text('model = "deepseek-v4-pro"\nhardware = "h200-sxm"\nworkload = "agentic"\n\n'
                 '[assert]\nforbid_bottleneck = ["decode:scale_out"]\nno_errors = false\nfits = false\n',
                 encoding="utf-8")
    r = run("check", str(p))
    assert r.exit_code in (0, 1), r.output
    assert "forbid_bottleneck[decode:scale_out]" in r.stdout
    assert str(p) in " ".join(r.stdout.split())


def test_errors_print_user_text_as_given(tmp_path):
    r = run("size", "-m", str(tmp_path / "no[/such].toml"))
    assert r.exit_code == 2
    assert "no[/such].toml" in stderr_of(r) and "Traceback" not in r.output


def test_json_is_untouched(files):
    model, workload, hardware = files
    r = run("size", "-m", str(model), "-H", str(hardware), "-w", str(workload), "--format", "json")
    d = json.loads(r.stdout)
    assert d["model"] == d["hardware"] == d["workload"] == TRICKY


# ---- issue 21: the family grows with every place user text reaches the terminal ----------------------

def test_written_file_names_are_printed_as_given(tmp_path):
    target = tmp_path / "[bold]plan [x].toml"
    r = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--export", str(target))
    assert r.exit_code == 0, r.output
    assert f"plan written to {target}" in " ".join(stderr_of(r).split())


def test_diff_prints_file_names_as_given(tmp_path):
    plan = tmp_path / "[red]old [b].toml"
    assert run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--export", str(plan)).exit_code == 0
    r = run("diff", str(plan), str(plan))
    assert r.exit_code == 0 and "[red]old [b].toml" in r.stdout


def test_sweep_table_prints_varied_text_as_given():
    r = run("sweep", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--fixed-layout", "tp=1", "--batch", "8",
            "--vary", "workload.name=[bold]a[/bold],[/x]", "--format", "table", "-j", "1")
    assert r.exit_code == 0, r.output
    assert "[bold]a[/bold]" in r.stdout and "[/x]" in r.stdout


def test_descriptions_and_errors_with_markup_never_crash(tmp_path):
    text = (PRESETS / "workloads" / "chat.toml").read_text(encoding="utf-8")
    w = tmp_path / "w.toml"
    w.write_text(text.replace('description = "', 'description = "[/x] [bold]', 1), encoding="utf-8")
    r = run("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", str(w), "--set", "workload.isl=[/oops]")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "[/oops]" in stderr_of(r) or "isl" in stderr_of(r)
