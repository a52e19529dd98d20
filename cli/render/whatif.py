"""`planner sweep`, `compare` and `balance`: tables, CSV, JSON lines and the progress bar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from cli.render.console import FittedTable, bold, err, line, out, table
from planner import units as U

if TYPE_CHECKING:
    pass


def _cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false, full-precision floats, JSON for lists."""
    import json
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


STREAM_ROWS = 1000   # rows per piece of streamed output: few enough writes, little held in memory


def sweep_csv_pieces(columns: Iterable[str], records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text in pieces of whole rows (the header first), as the records come."""
    import csv
    import io as _io
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = list(columns)
    writer.writerow(cols)
    for n, rec in enumerate(records, 1):
        writer.writerow([_cell(rec[c]) for c in cols])
        if n % STREAM_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def sweep_csv(columns: Iterable[str], records: Iterable[dict[str, Any]]) -> str:
    return "".join(sweep_csv_pieces(columns, records))


def sweep_jsonl_pieces(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """JSON lines in pieces of whole records, as the records come."""
    import json

    from planner.units import finite_tree
    lines: list[str] = []
    for rec in records:
        lines.append(json.dumps(finite_tree(rec), ensure_ascii=False) + "\n")
        if len(lines) == STREAM_ROWS:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def sweep_jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(sweep_jsonl_pieces(records))


def _fmt_opt(value: Any, fmt: Any) -> str:
    return "" if value is None else fmt(value)


def _whatif_rows(records: Iterable[dict[str, Any]], lead: list[str]) -> list[list[str]]:
    rows = []
    for r in records:
        rows.append([*(_cell(r[k]) for k in lead),
                     "yes" if r["feasible"] else "no",
                     _fmt_opt(r["gpus"], lambda x: f"{x:,}"),
                     _fmt_opt(r["power_w"], lambda x: f"{x / 1e3:,.1f} kW"),
                     _fmt_opt(r["ttft_s"], U.format_seconds), _fmt_opt(r["tpot_s"], U.format_seconds),
                     _fmt_opt(r["tokens_per_s_per_gpu"], lambda x: f"{x:,.0f}"),
                     r["decode_bottleneck"] or ""])
    return rows


def _reasons(records: Iterable[dict[str, Any]], key: str) -> None:
    for r in records:
        if r["reason"]:
            line(f"{r[key]}: {r['reason']}")


_WHATIF_COLS = ["ok", "GPUs", "power", "TTFT", "TPOT", "tok/s/GPU", "bound"]


def _whatif_table(title: str, columns: list[str], rows: list[list[str]], right: tuple[int, ...]) -> FittedTable:
    """Cells stay on one line (reasons follow the table, one line each)."""
    return table(title, columns, rows, right)


def sweep_table(keys: list[str], records: list[dict[str, Any]], title: str) -> None:
    lead = ["point", *keys]
    n = len(lead)
    headers = ["#", *(k.split(".")[-1] for k in keys)]
    out.print(_whatif_table(title, [*headers, *_WHATIF_COLS], _whatif_rows(records, lead),
                            right=(0, *range(n + 1, n + 6))))
    _reasons(records, "point")


def compare_table(keys: list[str], records: list[dict[str, Any]], workload: str, markdown: bool = False) -> None:
    """One row per compared combination (the varied columns first), then each infeasible row's reason."""
    priced = any(r["usd_per_million_output_tokens"] is not None for r in records)
    headers = [k.split(".")[-1] for k in keys] + ["ok", "GPUs", "racks", "power",
                                                  *(["$/hour", "$/M out"] if priced else []),
                                                  "TTFT", "TPOT", "tok/s/GPU", "bound"]
    rows = []
    for r in records:
        rows.append([*(_cell(r[k]) for k in keys), "yes" if r["feasible"] else "no",
                     _fmt_opt(r["gpus"], lambda x: f"{x:,}"), _fmt_opt(r["racks"], lambda x: f"{x:,}"),
                     _fmt_opt(r["power_w"], lambda x: f"{x / 1e3:,.1f} kW"),
                     *([_fmt_opt(r["cost_per_hour"], lambda x: f"${x:,.0f}"),
                        _fmt_opt(r["usd_per_million_output_tokens"], lambda x: f"${x:,.3f}")] if priced else []),
                     _fmt_opt(r["ttft_s"], U.format_seconds), _fmt_opt(r["tpot_s"], U.format_seconds),
                     _fmt_opt(r["tokens_per_s_per_gpu"], lambda x: f"{x:,.0f}"), r["decode_bottleneck"] or ""])
    title = f"Compared on {workload}"
    if markdown:
        from cli.render.console import text_out
        n = len(keys)
        align = ("---" if i <= n or i == len(headers) - 1 else "---:" for i in range(len(headers)))
        lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
        text_out("\n".join(lines + ["| " + " | ".join(c) + " |" for c in rows]) + "\n")
        return
    n = len(keys)
    out.print(_whatif_table(title, headers, rows, right=tuple(range(n + 1, len(headers) - 1))))
    for r in records:
        if r["reason"]:
            line(" / ".join(str(r[k]) for k in keys) + f": {r['reason']}")


class _Progress:
    def __init__(self, total: int, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=err, transient=True)
        self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> Any:
        self.bar.start()
        return lambda done: self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def progress(total: int, label: str = "sweep", threshold: int = 1000) -> Any:
    """A context manager yielding a callback(done) that drives a bar on stderr, or None when
    stderr is not a terminal or the job is short."""
    import sys
    if total > threshold and sys.stderr.isatty():
        return _Progress(total, label)
    return _NoProgress()


def balance(d: dict[str, Any]) -> None:
    lay = d["layout"]
    where = (f"tp={lay['tp']} dp={lay['dp']} ep={lay['ep']} pp={lay['pp']}, batch {lay['batch']:,} per DP rank"
             if lay else "no feasible layout")
    line(bold(d["model"]), " on ", bold(d["hardware"]), " for ", bold(d["workload"]), f": {where}")
    h, su, nv = d["hbm"], d["scale_up"], d["nvme"]
    rate = lambda x: "" if x is None else U.format_rate(x)   # noqa: E731
    rows = []
    pin = f" ({h['pin_speed_gbps']:.2f} Gb/s/pin)" if h["pin_speed_gbps"] else ""
    pin_need = f" ({h['pin_speed_gbps_needed']:.2f} Gb/s/pin)" if h["pin_speed_gbps_needed"] else ""
    rows.append(["HBM bandwidth", rate(h["bandwidth_bytes_per_s"]) + pin,
                 rate(h["bandwidth_bytes_per_s_needed"]) + pin_need,
                 "binds decode: this moves the bottleneck" if h["binding"]
                 else "does not bind decode: it could fall to this"])
    if su["rule"] == "ep_hidden":
        note = (f"hides EP traffic at {su['expert_compute_class'].upper()}: "
                f"{U.format_flops(su['expert_peak_flops'])} ÷ "
                f"{su['ep_flops_per_comm_byte']:,.0f} FLOPs/B; machine {su['machine_flops_per_byte']:,.0f} FLOPs/B"
                + ("" if su["hidden"] else " (exposed)"))
    else:
        note = "balances decode's scale-up time against its next term"
    rows.append(["scale-up per GPU", rate(su["bandwidth_bytes_per_s"]), rate(su["bandwidth_bytes_per_s_needed"]), note])
    rows.append(["scale-up domain", f"{su['domain_size']} GPUs",
                 "" if su["domain_size_needed"] is None else f"{su['domain_size_needed']} GPUs",
                 ("smallest domain that keeps EP inside" if su["rule"] == "ep_hidden"
                  else "smallest domain that holds the TP group")
                 + (f"; knee at {su['knee_domain_size']}" if su["knee_domain_size"] else "")])
    if nv["bandwidth_bytes_per_s_per_gpu_needed"] is not None or nv["bandwidth_bytes_per_s_per_gpu"] is not None:
        parts = []
        if nv["break_even_bytes_per_s_per_gpu"] is not None:
            parts.append(f"break-even vs recompute {rate(nv['break_even_bytes_per_s_per_gpu'])}")
        if nv["ttft_bytes_per_s_per_gpu_needed"] is not None:
            parts.append(f"TTFT {U.format_seconds(nv['ttft_target_s'])} "
                         f"on a hit {rate(nv['ttft_bytes_per_s_per_gpu_needed'])}")
        rows.append(["NVMe read per GPU", rate(nv["bandwidth_bytes_per_s_per_gpu"]) or "absent",
                     rate(nv["bandwidth_bytes_per_s_per_gpu_needed"]), "; ".join(parts)])
    out.print(table("What each resource would need (per GPU; one direction)", ["resource", "has", "needs", "why"],
                     rows, right=(1, 2)))
    if d["phases"]:
        prow = []
        for name, p in d["phases"].items():
            t = p["terms_s"]
            prow.append([name, p["bottleneck"],
                         *(U.format_seconds(t[k]) for k in ("compute", "hbm", "scale_up", "scale_out")),
                         rate(p["hbm_bandwidth_bytes_per_s_needed"]), rate(p["scale_up_bandwidth_bytes_per_s_needed"])])
        out.print(table("Per phase: each resource alone, and what would equal the next term",
                         ["phase", "bound by", "compute", "HBM", "scale-up", "scale-out", "HBM needed",
                          "scale-up needed"],
                         prow, right=(2, 3, 4, 5, 6, 7)))
    if not d["feasible"]:
        line(("infeasible", "bold red"), f": {d['reason']}")


def _frontier_cells(rows: list[dict[str, Any]], variant: tuple[str, ...], priced: bool) -> list[list[str]]:
    cells = []
    for i, r in enumerate(rows, 1):
        gpus = f"{r['gpus']:,}" + (f" + {r['prefill_gpus']:,}" if r["prefill_gpus"] else "")
        cells.append([str(i), r["layout"], r["serving"], f"{r['batch']:,}", gpus,
                      U.format_seconds(r["ttft_s"]), U.format_seconds(r["tpot_s"]),
                      f"{r['tokens_per_s_per_user']:,.1f}", f"{r['tokens_per_s_per_gpu']:,.0f}",
                      *([_fmt_opt(r["usd_per_million_output_tokens"], lambda x: f"${x:,.3f}")] if priced else []),
                      "yes" if r["meets_targets"] else "no", *(_cell(r[k]) for k in variant)])
    return cells


def frontier_table(f: Any, rows: list[dict[str, Any]], markdown: bool = False, all_points: bool = False) -> None:
    """The frontier (or every point), one row per option, most tokens/s per GPU first."""
    priced = any(r["usd_per_million_output_tokens"] is not None for r in rows)
    headers = ["#", "layout", "serving", "batch", "GPUs", "TTFT", "TPOT", "tok/s/user", "tok/s/GPU",
               *(["$/M out"] if priced else []), "SLO", *(k.split(".")[-1] for k in f.vary)]
    cells = _frontier_cells(rows, f.vary, priced)
    what = "every option" if all_points else "Pareto frontier"
    title = f"{f.model} on {f.hardware} ({f.workload}): {what}, {len(f.points):,} options evaluated"
    if markdown:
        from cli.render.console import text_out
        lines = [f"### {title}", "", "| " + " | ".join(headers) + " |",
                 "|" + "|".join("---:" if i in (0, 3, 4, 5, 6, 7, 8) else "---" for i in range(len(headers))) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        text_out("\n".join(lines) + "\n")
        return
    out.print(_whatif_table(title, headers, cells, right=tuple(range(3, 10 if priced else 9))))
    line("GPUs: decode unit + prefill unit; SLO: the workload's TTFT and TPOT targets hold. Reproduce a point "
         "with planner estimate --layout LAYOUT --batch N --serving MODE.")
