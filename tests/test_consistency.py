"""One deployment, every command that can express it, identical numbers (DESIGN.md "Quality bar":
consistency; issue "one serving engine").

For each case of a grid of model × machine × workload × layout, the same deployment — one
replica of a layout at its batch, serving the workload's request shape — is evaluated by

1. `planner estimate --workload W --layout L --batch B`,
2. `planner sweep --fixed-layout L --batch B` (a one-point sweep),
3. `planner size --layout L --batch B --replicas 1 --export plan.toml`, then `planner size --plan plan.toml`,
4. `planner check` on the equivalent proposal: the layout pinned, and the workload's demand set to
   the replica's own capacity (which is what one replica carries),

and GPUs, nodes, racks, power, TTFT, TPOT and tokens/s per GPU must be equal, exactly (the same
arithmetic on the same inputs; floats are written with their full repr in JSON, CSV and TOML).
"""

from __future__ import annotations

import csv
import io as _io
import json

import pytest
from clihelp import run, stderr_of

GRID = [
    # model, hardware, workload, layout, batch, serving
    ("llama-3.1-70b", "h200-sxm", "chat", "tp=4", 64, "colocated"),
    ("llama-3.1-70b", "h200-sxm", "chat", "tp=2", 32, "disaggregated"),
    ("llama-3.1-405b", "h100-sxm", "chat", "tp=8,pp=2", 16, "colocated"),        # pipeline across nodes
    ("qwen3-30b-a3b", "gb300-nvl72", "batch", "tp=1,dp=8,ep=8", 32, "disaggregated"),
    ("deepseek-v3", "h200-sxm", "chat", "tp=1,dp=16,ep=16", 8, "colocated"),     # EP spans two domains
    ("deepseek-v4-flash", "gb200-nvl72", "agentic", "tp=1,dp=4,ep=4", 8, "colocated"),   # KV tiers in play
    ("llama-3.1-8b", "b200-hgx", "rag", "tp=1", 128, "colocated"),
]
IDS = [f"{m}-{h}-{w}-{lay}-{s}" for m, h, w, lay, _, s in GRID]
CLUSTER = ("gpus", "nodes", "racks", "power_w")
TIMES = ("ttft_s", "tpot_s", "tokens_per_s_per_gpu")


def _json(*args: str, ok=(0, 1)) -> dict:
    r = run(*args)
    assert r.exit_code in ok, stderr_of(r)
    return json.loads(r.stdout)


def _numbers(d: dict) -> dict:
    return {**{k: d["cluster"][k] for k in CLUSTER}, **{k: d[k] for k in TIMES}, "feasible": d["feasible"]}


@pytest.mark.parametrize("model, hardware, workload, layout, batch, serving", GRID, ids=IDS)
def test_every_command_gives_the_same_numbers(tmp_path, model, hardware, workload, layout, batch, serving):
    base = ["-m", model, "-H", hardware]
    est = _json("estimate", *base, "--workload", workload, "--layout", layout, "--batch", str(batch),
                "--serving", serving, "--format", "json")
    expected = _numbers(est)
    assert expected["gpus"] > 0 and expected["ttft_s"] > 0

    # 2. a one-point fixed-layout sweep (CSV keeps floats at full precision)
    sw = run("sweep", *base, "-w", workload, "--fixed-layout", layout, "--batch", str(batch), "--serving", serving,
             "--vary", f"batch={batch}", "--format", "csv")
    assert sw.exit_code == 0, stderr_of(sw)
    (row,) = list(csv.DictReader(_io.StringIO(sw.stdout)))
    swept = {**{k: (int(row[k]) if k != "power_w" else float(row[k])) for k in CLUSTER},
             **{k: float(row[k]) for k in TIMES}, "feasible": row["feasible"] == "true"}
    assert swept == expected

    # 3. size with the layout pinned, exported, and the plan re-evaluated
    plan = tmp_path / "plan.toml"
    pinned = _json("size", *base, "-w", workload, "--layout", layout, "--batch", str(batch), "--serving", serving,
                   "--replicas", "1", "--export", str(plan), "--format", "json")
    assert _numbers(pinned) == expected
    again = _json("size", "--plan", str(plan), "--format", "json")
    assert _numbers(again) == expected
    assert again == pinned

    # 4. check on the equivalent proposal: the layout pinned, the demand = one replica's capacity
    proposal = tmp_path / "proposal.toml"
    words = dict(part.split("=") for part in layout.split(","))
    proposal.write_text(
        f'model = "{model}"\nhardware = "{hardware}"\nworkload = "{workload}"\n\n'
        f'[set]\n"workload.requests_per_s" = {est["requests_per_s"]!r}\n\n'
        "[layout]\n" + "".join(f"{k} = {v}\n" for k, v in words.items())
        + f'batch = {batch}\nserving = "{serving}"\n\n[assert]\nno_errors = false\nfits = false\n',
        encoding="utf-8")
    checked = run("check", str(proposal), "--format", "json")
    assert checked.exit_code in (0, 1), stderr_of(checked)
    summary = json.loads(checked.stdout)[0]["summary"]
    assert _numbers(summary) == expected


def test_a_searched_plan_re_evaluates_to_itself_when_pinned(tmp_path):
    """`size` settles the layout it chose exactly as a pinned layout is evaluated: pinning the
    chosen layout (pools sized for the same demand) reproduces the plan's numbers."""
    d = _json("size", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--format", "json")
    lay = d["layout"]
    words = f"tp={lay['tp']},dp={lay['dp']},ep={lay['ep']},pp={lay['pp']}"
    args = ["size", "-m", "llama-3.1-70b", "-H", "h200-sxm", "-w", "chat", "--layout", words,
            "--batch", str(lay["batch"]), "--serving", lay["serving"], "--format", "json"]
    if d["disaggregated"]:
        p = d["pools"][0]["layout"]
        args += ["--prefill-layout", f"tp={p['tp']},dp={p['dp']},ep={p['ep']},pp={p['pp']}"]
    pinned = _json(*args)
    assert _numbers(pinned) == _numbers(d)
    assert pinned["pools"] == d["pools"]
