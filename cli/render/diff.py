"""`planner diff` tables and Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cli.render.console import bold, line, out, table
from planner import units as U

if TYPE_CHECKING:
    pass


def _diff_value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
        return text if len(text) <= 40 else f"{len(value)} entries"
    if unit == "s":
        return U.format_seconds(value)
    if unit == "W":
        return f"{value / 1e3:,.1f} kW"
    if unit == "B":
        return U.format_bytes(value)
    if unit == "B/s":
        return U.format_rate(value)
    if unit == "share":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _diff_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    out = []
    for r in rows:
        rel = f"{r['relative_change']:+.1%}" if r["relative_change"] is not None else ""
        field = f"input {r['field']}" if r.get("kind") == "input" else r["field"]
        out.append((field, _diff_value(r["old"], r["unit"]), _diff_value(r["new"], r["unit"]), rel))
    return out


def diff_table(old: str, new: str, rows: list[dict[str, Any]]) -> None:
    line(bold(old), " → ", bold(new))
    if not rows:
        out.print("no changes")
        return
    out.print(table(None, ["field", "old", "new", "change"], _diff_rows(rows), right=(1, 2, 3)))


def diff_markdown(old: str, new: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"### planner diff: `{old}` → `{new}`", ""]
    if not rows:
        return "\n".join(lines + ["No changes."]) + "\n"
    lines += ["| field | old | new | change |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _diff_rows(rows)]
    return "\n".join(lines) + "\n"
