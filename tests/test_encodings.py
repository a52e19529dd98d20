"""Encodings (issue 21): with an ASCII stdout (PYTHONIOENCODING=ascii) or a C locale every command
works, and '≤', '→', '×', '—', 'µ' and the bars degrade to ASCII instead of failing.

These run the real entry point in subprocesses, since the encoding of the process's streams is
what is tested; one process runs all commands to keep it quick."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.render.console import ASCII, ERRORS

ROOT = Path(__file__).resolve().parents[1]
PROPOSAL = ROOT / "examples" / "proposals" / "llama70b-h200-chat-pinned.toml"
COMMANDS = [
    ["size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat"],
    ["size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--format", "markdown"],
    ["size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--format", "json"],
    ["estimate", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--layout", "tp=1", "--batch", "8", "--isl", "1k",
     "--osl", "64"],
    ["models", "show", "deepseek-v4-pro"], ["models", "list"], ["hardware", "show", "gb200-nvl72"],
    ["hardware", "list"], ["kv", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat"],
    ["balance", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat"],
    ["train", "-m", "llama-3.1-8b", "-H", "h100-sxm", "--tokens", "1T", "--gpus", "64"],
    ["check", str(PROPOSAL)], ["check", str(PROPOSAL), "--format", "markdown"],
    ["diff", str(PROPOSAL), str(PROPOSAL)],
    ["sweep", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--fixed-layout", "tp=1", "--batch", "8",
     "--vary", "workload.isl=1k,2k", "--format", "table"],
    ["compare", "--hardware", "h100-sxm,h200-sxm", "-m", "llama-3.1-8b", "-w", "chat"],
    ["schema", "model"], ["size", "--help"], ["size", "-m", "no-such-model"], ["size", "--format", "yaml"],
]
# runs each command in this one process, as `planner` would, and reports exit code and output
DRIVER = textwrap.dedent("""
    import io, json, sys
    from cli.main import run
    results = []
    for args in json.loads(sys.argv[1]):
        sys.argv = ["planner", *args]
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        results.append(code)
    sys.stdout.flush()
    print("\\nCODES " + json.dumps(results), file=sys.stderr)
""")


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"},
                                 {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}],
                         ids=["ascii", "c-locale"])
def test_every_command_works_on_an_ascii_terminal(env):
    import json
    full = {**os.environ, "COLUMNS": "100", **env}
    full.pop("PYTHONIOENCODING", None) if "PYTHONIOENCODING" not in env else None
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(COMMANDS)], capture_output=True, env=full,
                          cwd=ROOT, check=False, timeout=600)
    err = proc.stderr.decode("ascii", errors="replace")
    assert "Traceback" not in err and "UnicodeEncodeError" not in err, err[-3000:]
    codes = json.loads(err.rsplit("CODES ", 1)[1])
    expected = [2 if args[-1] in ("no-such-model", "yaml") else (0, 1) for args in COMMANDS]
    for args, code, want in zip(COMMANDS, codes, expected, strict=True):
        assert code in (want if isinstance(want, tuple) else (want,)), (args, code)
    proc.stdout.decode("ascii")                    # every byte is ASCII
    text = proc.stdout.decode("ascii")
    assert "<=" in text or "->" in text            # symbols degraded, not dropped


def test_the_ascii_table_covers_the_symbols_the_views_print():
    for symbol in "≤→×—µ█":
        assert symbol in ASCII
        assert symbol.encode("ascii", errors=ERRORS).decode("ascii") == ASCII[symbol]
    assert "naïve".encode("ascii", errors=ERRORS) == b"naive"
