"""`planner compare`: models × machines × option grids side by side for one workload, ranked by
$ per million output tokens from each machine's dated price."""

from __future__ import annotations

import json

import pytest
from clihelp import run

from planner.inputs import io
from planner.whatif.sweep import compare

MACHINES = ["h200-sxm", "b200-hgx", "gb200-nvl72"]


def test_compare_lists_all_hardware_json():
    res = run("compare", "--model", "llama-3.1-70b", "--hardware", ",".join(MACHINES), "--workload", "chat",
              "--format", "json", "--sort", "hardware")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["hardware"] for r in rows] == sorted(MACHINES)
    for r in rows:
        assert r["feasible"] is True and r["gpus"] >= 1 and r["tpot_s"] > 0 and r["decode_bottleneck"]


def test_ranks_by_dollars_per_million_output_tokens_computed_by_hand():
    # Llama-3.1-70B chat on H100, H200 and B200 (issue 16 acceptance): each machine's preset price
    # (cloud on-demand per GPU-hour) x the GPUs of the occupied nodes / output tokens per hour
    res = run("compare", "--model", "llama-3.1-70b", "--hardware", "h100-sxm,h200-sxm,b200-hgx",
              "--workload", "chat", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    w = io.load_workload("chat")
    for r in rows:
        hw = io.load_hardware(r["hardware"])
        price = hw.price.cloud_usd_per_gpu_hour
        gpus_billed = r["nodes"] * hw.gpus_per_node
        tokens_per_hour = w.requests_per_s * w.osl * 3600
        assert r["usd_per_million_output_tokens"] == pytest.approx(price * gpus_billed / tokens_per_hour * 1e6,
                                                                   rel=1e-9)
    costs = [r["usd_per_million_output_tokens"] for r in rows]
    assert costs == sorted(costs) and len(rows) == 3


def test_compare_table_names_every_machine_and_prices():
    res = run("compare", "--model", "llama-3.1-70b", "--hardware", ",".join(MACHINES), "--workload", "chat")
    assert res.exit_code == 0, res.output
    for name in MACHINES:
        assert name in res.stdout
    assert "$/M out" in res.stdout


def test_models_times_machines_times_grid():
    r = compare(model=["llama-3.1-8b", "llama-3.1-70b"], hardware=["h200-sxm", "b200-hgx"], workload="chat",
                grid={"engine.max_batch": [64, 256]}, jobs=1)
    assert r.keys == ("model", "hardware", "engine.max_batch")
    combos = [(d["model"], d["hardware"], d["engine.max_batch"]) for d in r.to_rows()]
    assert len(combos) == 8 and len(set(combos)) == 8
    by = {(d["model"], d["hardware"], d["engine.max_batch"]): d for d in r.to_rows()}
    # a smaller batch cap can only need as many GPUs or more
    for m in ("llama-3.1-8b", "llama-3.1-70b"):
        for hw in ("h200-sxm", "b200-hgx"):
            assert by[(m, hw, 64)]["gpus"] >= by[(m, hw, 256)]["gpus"]


def test_sort_by_any_column_and_unknown_column():
    r = compare(model=["llama-3.1-8b", "llama-3.1-70b"], hardware="h200-sxm", workload="chat", jobs=1)
    assert [d["model"] for d in r.sorted_by("gpus").to_rows()] == ["llama-3.1-8b", "llama-3.1-70b"]
    assert [d["model"] for d in r.sorted_by("gpus", descending=True).to_rows()] == ["llama-3.1-70b", "llama-3.1-8b"]
    res = run("compare", "--model", "llama-3.1-8b", "--hardware", "h200-sxm", "--sort", "nope")
    assert res.exit_code == 2 and "--sort" in res.stderr


@pytest.mark.parametrize("fmt, first", [("csv", "hardware,workload,feasible"), ("markdown", "### Compared on chat")])
def test_formats(fmt, first):
    res = run("compare", "--model", "llama-3.1-8b", "--hardware", "h100-sxm,h200-sxm", "--workload", "chat",
              "--format", fmt)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith(first)


def test_compare_unknown_name_exit_2():
    assert run("compare", "--hardware", "h200-sxm,nope").exit_code == 2
