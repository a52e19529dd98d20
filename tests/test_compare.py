"""`planner compare`: several machines (or models) side by side for one workload."""

from __future__ import annotations

import json

from clihelp import run

from planner.whatif.sweep import compare

MACHINES = ["h200-sxm", "b200-hgx", "gb200-nvl72"]




def test_compare_lists_all_hardware_json():
    res = run("compare", "--model", "llama-3.1-70b", "--hardware", ",".join(MACHINES), "--workload", "chat",
              "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["hardware"] for r in rows] == MACHINES
    for r in rows:
        assert r["feasible"] is True and r["gpus"] >= 1 and r["tpot_s"] > 0 and r["decode_bottleneck"]


def test_compare_table_names_every_machine():
    res = run("compare", "--model", "llama-3.1-70b", "--hardware", ",".join(MACHINES), "--workload", "chat")
    assert res.exit_code == 0, res.output
    for name in MACHINES:
        assert name in res.stdout


def test_compare_models():
    r = compare(model=["llama-3.1-8b", "llama-3.1-70b"], hardware="h200-sxm", workload="chat", jobs=1)
    assert r.axis == "model" and [d["model"] for d in r.to_dict()] == ["llama-3.1-8b", "llama-3.1-70b"]
    assert r.rows[0].gpus <= r.rows[1].gpus


def test_compare_unknown_name_and_both_lists_exit_2():
    assert run("compare", "--hardware", "h200-sxm,nope").exit_code == 2
    assert run("compare", "--hardware", "h200-sxm,b200-hgx", "--model", "llama-3.1-8b,llama-3.1-70b").exit_code == 2
