"""The dependency floors pyproject.toml declares are the versions CI tests (.ci/floors.txt)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_floors_are_the_tested_versions():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    floors = dict(re.match(r"^([A-Za-z0-9_.-]+)>=([0-9.]+)", dep).groups() for dep in deps)
    lines = (ROOT / ".ci" / "floors.txt").read_text(encoding="utf-8").splitlines()
    tested = dict(line.split("==") for line in lines if line.strip() and not line.startswith("#"))
    assert floors == tested
