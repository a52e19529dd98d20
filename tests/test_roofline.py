"""`planner size --roofline FILE`: the picture, and the one-line error without the plot extra."""

from __future__ import annotations

import importlib.util

import pytest
from clihelp import run

from cli.pictures import INSTALL
from cli.roofline import roofline_data
from planner import load_hardware, size

ARGS = ["size", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--workload", "chat"]




def test_roofline_points_from_phase_times():
    hw = load_hardware("h200-sxm")
    s = size("llama-3.1-70b", hw, "chat", compare_domains=False)
    d = roofline_data(s, hw)
    assert [r["precision"] for r in d["roofs"]] == ["bf16", "fp8"]          # H200 has no native FP4
    pts = {p["phase"]: p for p in d["points"]}
    dec = s.phases.decode
    assert pts["decode"]["flops_per_byte"] == pytest.approx(dec.flops_per_gpu / dec.hbm_bytes_per_gpu)
    assert pts["decode"]["flops_per_s"] == pytest.approx(dec.flops_per_gpu / dec.time_s)
    # decode sits left of the ridge (HBM-bound), prefill right of it
    ridge = d["roofs"][0]["ridge_flops_per_byte"]
    assert pts["decode"]["flops_per_byte"] < ridge < pts["prefill"]["flops_per_byte"]


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_roofline_writes_file(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"roof{suffix}"
    res = run(*ARGS, "--roofline", str(out))
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:2000]


def test_bad_suffix_exits_2(tmp_path):
    res = run(*ARGS, "--roofline", str(tmp_path / "roof.pdf"))
    assert res.exit_code == 2


def test_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    res = run(*ARGS, "--roofline", str(tmp_path / "roof.svg"))
    assert res.exit_code == 2
    assert INSTALL in res.output
    assert not (tmp_path / "roof.svg").exists()
