"""`planner validate`."""

from __future__ import annotations

from typing import Any

from cli.render.console import line, out, table
from planner import units as U


def _err(x: float | None) -> str:
    return "—" if x is None else f"{x:+.0%}"


def validation(d: dict[str, Any]) -> None:
    """Both reference sets: published measurements first, then the aiconfigurator kernel sums."""
    published(d["published"])
    kernel_sums(d["aiconfigurator"])
    line("validate: ", ("pass", "green") if d["passed"] else ("fail", "bold red"))


def published(d: dict[str, Any]) -> None:
    rows = [(c["id"], c["metric"], f"{c['measured']:,.4g}", f"{c['predicted']:,.4g}", _err(c["error"]), c["dominant"])
            for c in d["cases"]]
    out.print(table("Published measurements (error = predicted rate / measured rate - 1; + is optimistic)",
                    ["case", "metric", "measured", "planner", "err", "dominant"], rows, right=(2, 3, 4)))
    groups = [(g["group"], str(g["cases"]), f"{g['median_abs_error']:.0%}", f"{g['median_error']:+.0%}",
               f"{g['q10']:+.0%}", f"{g['q90']:+.0%}", f"{g['coverage']:.0%}", "pass" if g["passed"] else "FAIL")
              for g in d["groups"]]
    out.print(table(f"Groups (median |error| bound {d['groups'][0]['bound']:.0%})" if d["groups"] else "Groups",
                    ["group", "cases", "median |err|", "median", "q10", "q90", "in band", ""], groups,
                    right=(1, 2, 3, 4, 5, 6)))
    o = d["overall"]
    line(f"published: {o['cases']} cases, median |error| {o['median_abs_error']:.1%} (bound {o['bound']:.0%}), "
         f"{o['coverage']:.0%} inside their bands (bound {o['coverage_bound']:.0%}): ",
         ("pass", "green") if d["passed"] else ("fail", "bold red"))


def kernel_sums(d: dict[str, Any]) -> None:
    rows = [(c["id"], U.format_seconds(c["ttft_s"]), U.format_seconds(c["ttft_reference_s"]), _err(c["ttft_error"]),
             U.format_seconds(c["tpot_s"]), U.format_seconds(c["tpot_reference_s"]), _err(c["tpot_error"]))
            for c in d["cases"]]
    out.print(table("Reference cases (aiconfigurator static mode; error = predicted / reference - 1)",
                     ["case", "TTFT", "ref", "err", "TPOT", "ref", "err"], rows, right=(1, 2, 3, 4, 5, 6)))
    groups = [(g["group"], str(g["cases"]), f"{g['tpot_median_abs_error']:.0%}", f"{g['ttft_median_abs_error']:.0%}",
               f"{g['tpot_worst_abs_error']:.0%}", f"{g['ttft_worst_abs_error']:.0%}",
               "pass" if g["passed"] else "FAIL") for g in d["groups"]]
    out.print(table(f"Groups (median |error| bound {d['groups'][0]['bound']:.0%})" if d["groups"] else "Groups",
                     ["group", "cases", "TPOT median", "TTFT median", "TPOT worst", "TTFT worst", ""], groups,
                     right=(1, 2, 3, 4, 5)))
    o = d["overall"]
    line(f"aiconfigurator: {o['cases']} cases, median |TPOT error| {o['tpot_median_abs_error']:.1%} (bound "
         f"{o['tpot_bound']:.0%}), median |TTFT error| {o['ttft_median_abs_error']:.1%} "
         f"(bound {o['ttft_bound']:.0%}): ",
         ("pass", "green") if d["passed"] else ("fail", "bold red"))
