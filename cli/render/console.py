"""The consoles (one for stdout, one for stderr) and the primitives every view uses.

Rich tables in a terminal, plain text when not a TTY (rich detects it), JSON for machines. Both
consoles have markup off: user text (model, workload and file names, messages) is never
interpreted, and styles are applied with Text objects, never with "[bold]" strings.

Two last lines of defence sit between every view and the streams:
- an ASCII fallback: when stdout or stderr cannot encode '≤', '→', '×', 'µ' or a bar's blocks
  (PYTHONIOENCODING=ascii, an old C locale), each such character is written as ASCII ('<=', '->',
  'x', 'u', '#') instead of failing, and rich draws its tables with ASCII boxes;
- a finite-number guard: a number that still formats as inf or nan (the input ranges of
  planner.inputs.limits and the finite plan should make that impossible) prints as n/a.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO, cast

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from planner.inputs.io import to_json
from planner.units import flat_record

ASCII = {"≤": "<=", "≥": ">=", "→": "->", "←": "<-", "×": "x", "—": "--", "–": "-", "−": "-", "µ": "u",
         "·": "*", "÷": "/", "…": "...", "≈": "~", "±": "+/-", "•": "*", "‘": "'", "’": "'", "“": '"',
         "”": '"', "█": "#", "▏": "", "▎": "", "▍": "|", "▌": "|", "▋": "|", "▊": "|", "▉": "|", "✓": "ok",
         "✗": "x", "⚠": "!", "Σ": "sum", "²": "^2", "³": "^3"}
ERRORS = "planner-ascii"


def _to_ascii(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the unencodable characters as ASCII look-alikes (else '?')."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start:exc.end]
    text = "".join(ASCII[ch] if ch in ASCII
                   else unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?" for ch in chunk)
    return text, exc.end


codecs.register_error(ERRORS, _to_ascii)


def _encodes(stream: Any, sample: str = "≤→×µ█") -> bool:
    try:
        sample.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def ascii_fallback() -> None:
    """Let stdout and stderr degrade to ASCII when their encoding lacks our symbols."""
    for stream in (sys.stdout, sys.stderr):
        if not _encodes(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ERRORS)


_NOT_FINITE = re.compile(r"(?<![\w.])[-+]?(?:inf|nan)(?![\w])")


def finite_text(text: str) -> str:
    """Python formats non-finite floats as inf, -inf and nan: show n/a instead."""
    return _NOT_FINITE.sub("n/a", text) if ("inf" in text or "nan" in text) else text


class _Guarded:
    """What rich writes to: the current sys.stdout or sys.stderr (looked up on each write, so
    redirection and test runners work), through finite_text."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self.name)
        return stream

    def write(self, text: str) -> int:
        return self.stream.write(finite_text(text))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"


ascii_fallback()
_width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
out = Console(file=cast(TextIO, _Guarded("stdout")), width=_width, highlight=False, soft_wrap=False, markup=False,
              emoji=False)
err = Console(file=cast(TextIO, _Guarded("stderr")), width=_width, highlight=False, markup=False, emoji=False)


def refresh_width() -> None:
    """Take the width from COLUMNS as each command starts (a process may run several, as tests do)."""
    columns = os.environ.get("COLUMNS", "")
    for console in (out, err):
        console._width = int(columns) if columns.isdigit() else None   # noqa: SLF001 - rich's own default


def bold(text: str) -> tuple[str, str]:
    return (text, "bold")


def line(*parts: str | tuple[str, str]) -> None:
    """One line on stdout from plain strings and (text, style) pairs, wrapped at word boundaries
    to the terminal width; nothing is parsed."""
    out.print(Text.assemble(*parts))


def error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def note(message: str) -> None:
    err.print(Text(message), soft_wrap=True)


def json_out(data: Any) -> None:
    # print() bypasses rich so JSON is never wrapped or styled; \u escapes where the stream is ASCII
    print(to_json(data, ensure_ascii=not _encodes(sys.stdout)))


class FittedTable:
    """A table drawn as columns when it fits the width, else as one record per row ("header value;
    ..."), wrapped at spaces: at 80 columns (a pipe, a CI log) no word, number or unit is split
    across lines, which a squeezed table would do."""

    def __init__(self, title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
                 right: tuple[int, ...] = ()) -> None:
        self.title, self.columns, self.right = title, list(columns), right
        self.rows = [list(r) for r in rows]
        self.padding: tuple[int, int] = (0, 1)

    def markdown(self) -> str:
        """The same table as GitHub markdown (numbers right-aligned)."""
        align = ["---:" if i in self.right else "---" for i in range(len(self.columns))]
        lines = ([f"### {self.title}", ""] if self.title else []) + [
            "| " + " | ".join(h or " " for h in self.columns) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def _table(self) -> Table:
        table = Table(title=self.title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                      padding=self.padding)
        for i, col in enumerate(self.columns):
            table.add_column(col, justify="right" if i in self.right else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(*row)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self._table()
        natural = Measurement.get(console, options.update(width=1 << 20), table).maximum   # unclamped
        if natural <= options.max_width:
            yield table
            return
        if self.title:
            yield Text(self.title, style="italic")
        for row in self.rows:
            parts = [f"{head}: {cell}" if head.strip() else cell
                     for head, cell in zip(self.columns, row, strict=False) if str(cell).strip()]
            yield Text("  " + "; ".join(str(p) for p in parts))
        yield Text("")


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
          right: tuple[int, ...] = ()) -> FittedTable:
    return FittedTable(title, columns, rows, right)


def listing(view: FittedTable, fmt: str, records: list[dict[str, Any]]) -> None:
    """A listing command's output: the table (or its markdown), or the records as JSON or CSV
    (nested fields flattened to dotted columns)."""
    if fmt == "json":
        json_out(records)
    elif fmt == "csv":
        from cli.render.whatif import sweep_csv
        # the long free text (notes, sources, per-field provenance) stays in JSON
        flat = [flat_record({k: v for k, v in r.items() if k not in ("notes", "sources", "provenance")})
                for r in records]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        text_out(sweep_csv(columns, [{c: r.get(c) for c in columns} for r in flat]))
    elif fmt == "markdown":
        text_out(view.markdown())
    else:
        out.print(view)


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def text_out(text: str) -> None:
    """Markdown, CSV, TOML and CI formats, as they are (only the finite-number guard applies)."""
    text = finite_text(text)
    print(text, end="" if text.endswith("\n") else "\n")


def text_stream(pieces: Iterable[str]) -> None:
    """Long output (a sweep's rows) to stdout piece by piece as it is produced, as text_out would
    print it whole; each piece is whole lines, so the finite-number guard sees whole numbers."""
    for piece in pieces:
        sys.stdout.write(finite_text(piece))
        sys.stdout.flush()
