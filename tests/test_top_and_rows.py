"""`size --top N` (the alternatives behind the choice), `--serving` restricting the search, and the
Python API's flat rows (every result has to_dict() and to_rows() that pandas.DataFrame takes)."""

from __future__ import annotations

import pytest
from clihelp import run

import planner
from planner.api import evaluate, size


@pytest.fixture(scope="module")
def top3():
    return size("llama-3.1-70b", "h200-sxm", "chat", top=3)


def test_top_lists_the_next_cheapest_layouts_each_as_pinning_gives(top3):
    assert len(top3.alternatives) == 2
    layouts = {top3.layout.label(), *(a.layout.label() for a in top3.alternatives)}
    assert len(layouts) == 3
    provisioned = [top3.cluster.gpus_provisioned, *(a.gpus_provisioned for a in top3.alternatives)]
    assert provisioned == sorted(provisioned)         # the chosen one is the cheapest
    for a in top3.alternatives:
        pinned = evaluate("llama-3.1-70b", "h200-sxm", "chat", a.layout.label(), batch=a.layout.batch,
                          serving=a.layout.serving)
        assert pinned.cluster.gpus == a.gpus and pinned.tpot_s == pytest.approx(a.tpot_s, rel=1e-12)
        assert pinned.usd_per_million_output_tokens == pytest.approx(a.usd_per_million_output_tokens, rel=1e-12)


def test_top_one_is_the_plain_size(top3):
    plain = size("llama-3.1-70b", "h200-sxm", "chat")
    assert plain.alternatives == [] and plain.layout == top3.layout and plain.cluster == top3.cluster


def test_serving_restricts_the_search():
    d = size("llama-3.1-70b", "h200-sxm", "chat", serving="disaggregated")
    assert d.serving == "disaggregated" and d.disaggregated
    c = size("llama-3.1-70b", "h200-sxm", "chat", serving="colocated")
    assert c.serving == "colocated"


def test_cli_top_table_and_serving():
    res = run("size", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--top", "3")
    assert res.exit_code == 0, res.output
    assert "The 3 cheapest layouts" in res.stdout and "1 (chosen)" in res.stdout
    res = run("size", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--serving", "disaggregated",
              "-f", "json")
    assert res.exit_code in (0, 1) and '"serving": "disaggregated"' in res.stdout


def test_every_result_has_flat_rows(top3):
    rows = top3.to_rows()
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert all(not isinstance(v, (dict, list)) for r in rows for v in r.values())
    for result in (planner.sweep({"workload.isl": [512, 1024]}, model="llama-3.1-8b", hardware="h100-sxm",
                                 workload="chat", jobs=1),
                   planner.compare(model="llama-3.1-8b", hardware=["h100-sxm", "h200-sxm"], workload="chat", jobs=1),
                   planner.frontier("llama-3.1-8b", "h100-sxm", "chat", engine="trtllm", modes=("colocated",)),
                   planner.balance("llama-3.1-8b", "h100-sxm", "chat"),
                   planner.train("llama-3.1-8b", "h100-sxm", tokens=1e12, gpus=64)):
        rows = result.to_rows()
        assert rows and isinstance(result.to_dict(), (dict, list))
        assert all(isinstance(r, dict) and not any(isinstance(v, dict) for v in r.values()) for r in rows)
