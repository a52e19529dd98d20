"""The library is importable on its own and cheaply (DESIGN.md "Layout of the repository"):
`import planner` never loads the CLI or terminal libraries, and names load on first use. The layer
contract between planner's subpackages is import-linter's (pyproject.toml, run by .ci/run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _loaded(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(m for m in sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_import_planner_loads_neither_typer_nor_rich():
    # the check the issue asks anyone to be able to run
    subprocess.run([sys.executable, "-c", "import planner, sys; "
                    "assert 'rich' not in sys.modules and 'typer' not in sys.modules"], cwd=ROOT, check=True)
    mods = _loaded("import planner; planner.size")
    assert not [m for m in mods if m.split(".")[0] in ("rich", "typer", "click", "cli")]


def test_import_planner_units_loads_two_modules():
    # was 25: the package eagerly imported balance, estimate and sweep
    mods = _loaded("import planner.units")
    assert [m for m in mods if m.startswith("planner")] == ["planner", "planner.units"]


def test_every_exported_name_resolves():
    import planner
    for name in planner.__all__:
        assert getattr(planner, name) is not None, name
    assert callable(planner.sweep) and callable(planner.balance) and callable(planner.train)
