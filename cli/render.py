"""All terminal output lives here: one console for stdout, one for stderr.

Rich tables in a terminal, plain text when not a TTY (rich detects it), JSON for machines.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich import box

from planner import units as U
from planner.io import to_json

_width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
out = Console(width=_width, highlight=False, soft_wrap=False)
err = Console(stderr=True, width=_width, highlight=False)


def error(line: str) -> None:
    err.print(f"[bold red]error:[/] {line}", markup=True, highlight=False, soft_wrap=True)


def note(line: str) -> None:
    err.print(line, markup=False, highlight=False, soft_wrap=True)


def json_out(data: Any) -> None:
    # print() bypasses rich so JSON is never wrapped or styled
    print(to_json(data))


def _table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
           right: tuple[int, ...] = ()) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i in right else "left", overflow="fold", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    return table


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


# ---- models ------------------------------------------------------------------------------------

def model_list(rows: list[dict[str, Any]]) -> None:
    out.print(_table("Model presets", ["name", "attention", "total", "active", "KV/token", "aliases"],
                     ([r["name"], r["attention"], U.format_count(r["total"]), U.format_count(r["active"]),
                       U.format_bytes(r["kv_bytes_per_token"]), ", ".join(r["aliases"])] for r in rows),
                     right=(2, 3, 4)))


def model_show(d: dict[str, Any]) -> None:
    p, w, kv, fl, ep = d["params"], d["weights"], d["kv"], d["flops"], d["ep"]
    out.print(f"[bold]{d['model']}[/]  {d['description']}")
    layers = ", ".join(f"{n} {k}" for k, n in d["layers"].items() if n)
    out.print(f"attention: {d['attention']} ({layers})")
    prec = d["precision"]
    out.print("precision: " + ", ".join(f"{k} {v}" for k, v in prec.items() if v))
    rows = [
        ("embeddings", p["embeddings"], w["embeddings_bytes"]),
        ("LM head", p["lm_head"], w["lm_head_bytes"]),
        ("attention", p["attention"], w["attention_bytes"]),
        ("dense MLP", p["dense_mlp"], w["dense_mlp_bytes"]),
        ("routed experts", p["routed_experts"], w["routed_experts_bytes"]),
        ("shared experts", p["shared_experts"], w["shared_experts_bytes"]),
        ("norms, routers", p["norms"] + p["router"], w["small_tensors_bytes"]),
        ("total", p["total"], w["total_bytes"]),
        ("MTP (separate)", p["mtp"], w["mtp_bytes"]),
    ]
    out.print(_table("Parameters and weight bytes", ["component", "params", "bytes"],
                     ((n, U.format_count(a), U.format_bytes(b)) for n, a, b in rows if a), right=(1, 2)))
    out.print(f"activated per token: {U.format_count(p['active'])} "
              f"({U.format_count(p['active_with_embeddings'])} with the input embedding)")
    rep = " (replicated on every TP rank)" if kv["replicated_under_tp"] else " (KV heads shard under TP)"
    out.print(f"KV ({kv['dtype']}): {U.format_bytes(kv['bytes_per_token'])}/token growing"
              + (f" + {U.format_bytes(kv['window_state_bytes'])} window state" if kv["window_state_bytes"] else "")
              + f"; {U.format_bytes(kv['bytes_per_sequence'])} per sequence at {kv['context']:,} tokens{rep}")
    out.print(f"FLOPs: decode {U.format_flop(fl['decode_per_token'])}/token at {kv['context']:,} tokens; "
              f"training {U.format_flop(fl['train_per_token'])}/token at sequence {fl['train_sequence']:,}")
    if ep["flops_per_comm_byte"]:
        out.print(f"expert parallel: {ep['flops_per_comm_byte']:,.0f} FLOPs per byte of dispatch "
                  f"({ep['dispatch']}) + combine ({ep['combine']}) traffic: links hide EP traffic while "
                  "peak FLOP/s ÷ link bytes/s stays below it")
