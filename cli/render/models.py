"""`planner models list|show`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cli.render.console import bold, line, listing, out, table
from planner import units as U

if TYPE_CHECKING:
    pass


def model_list(rows: list[dict[str, Any]], fmt: str = "table") -> None:
    listing(table("Model presets", ["name", "attention", "total", "active", "KV/token", "aliases"],
                     ([r["name"], r["attention"], U.format_count(r["total"]), U.format_count(r["active"]),
                       U.format_bytes(r["kv_bytes_per_token"]), ", ".join(r["aliases"])] for r in rows),
                     right=(2, 3, 4)), fmt, rows)


def model_show(d: dict[str, Any]) -> None:
    p, w, kv, fl, ep = d["params"], d["weights"], d["kv"], d["flops"], d["ep"]
    line(bold(d["model"]), "  ", d["description"])
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
    out.print(table("Parameters and weight bytes", ["component", "params", "bytes"],
                     ((n, U.format_count(a), U.format_bytes(b)) for n, a, b in rows if a), right=(1, 2)))
    out.print(f"activated per token: {U.format_count(p['active'])} "
              f"({U.format_count(p['active_with_embeddings'])} with the input embedding)")
    rep = " (replicated on every TP rank)" if kv["replicated_under_tp"] else " (KV heads shard under TP)"
    out.print(f"KV ({kv['dtype']}): {U.format_bytes(kv['bytes_per_token'])}/token growing"
              + (f" + {U.format_bytes(kv['window_state_bytes'])} fixed state (sliding windows, recurrent layers)"
                 if kv["window_state_bytes"] else "")
              + f"; {U.format_bytes(kv['bytes_per_sequence'])} per sequence at {kv['context']:,} tokens{rep}")
    out.print(f"FLOPs: decode {U.format_flop(fl['decode_per_token'])}/token at {kv['context']:,} tokens; "
              f"training {U.format_flop(fl['train_per_token'])}/token at sequence {fl['train_sequence']:,}")
    if ep["flops_per_comm_byte"]:
        out.print(f"expert parallel: {ep['flops_per_comm_byte']:,.0f} FLOPs per byte of dispatch "
                  f"({ep['dispatch']}) + combine ({ep['combine']}) traffic: links hide EP traffic while "
                  "peak FLOP/s ÷ link bytes/s stays below it")
    if "import" in d:
        _import_report(d["import"])


def _import_report(r: dict[str, Any]) -> None:
    """Which config fields the import used, filled in and left out (planner models show <config>)."""
    out.print(f"import: {r['source']} (model_type {r['model_type']})")
    out.print(f"  used ({len(r['used'])}): " + ", ".join(r["used"]))
    if r["assumed"]:
        out.print("  assumed (architecture defaults): "
                  + ", ".join(f"{k} = {v}" for k, v in r["assumed"].items()))
    if r["unrecognised"]:
        out.print(f"  unrecognised, ignored ({len(r['unrecognised'])}): " + ", ".join(r["unrecognised"]))
    if r["not_needed"]:
        out.print(f"  not needed for sizing ({len(r['not_needed'])}): " + ", ".join(r["not_needed"]))
