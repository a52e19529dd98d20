"""Preset discovery: TOML files shipped inside the `presets` package (found with
importlib.resources, so an installed wheel finds them too)."""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from planner.errors import InputError

Kind = Literal["models", "hardware", "workloads", "engines", "validation"]

# What `planner size` (and every command with these options) uses when none is given.
DEFAULT_MODEL = "deepseek-v4-pro"
DEFAULT_HARDWARE = "gb300-nvl72"
DEFAULT_WORKLOAD = "agentic"
DEFAULT_ENGINE = "trtllm"

_FILE_STEM = re.compile(r"[a-z0-9][a-z0-9._-]*")     # a name that can only mean a file of the folder


@lru_cache(maxsize=8)
def _index(kind: Kind) -> dict[str, str]:
    """name or alias -> file name, for one preset folder."""
    folder = resources.files("presets") / kind
    index: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        stem = entry.name[:-5]
        index[stem] = entry.name
        for alias in _raw(kind, entry.name).get("aliases", ()):
            index[alias] = entry.name
    return index


@lru_cache(maxsize=256)
def _raw(kind: Kind, file_name: str) -> dict[str, Any]:
    text = (resources.files("presets") / kind / file_name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _file(kind: Kind, name: str) -> str | None:
    """The preset file a name or alias refers to. A file name is found without reading the folder
    (start-up: `planner size` with preset names parses three files, not every preset); an alias
    needs the index (aliases never equal a file name: tests/test_hardware_presets.py)."""
    key = name.lower()
    direct = f"{key}.toml"
    if _FILE_STEM.fullmatch(key) and (resources.files("presets") / kind / direct).is_file():
        return direct
    return _index(kind).get(key)


def names(kind: Kind) -> list[str]:
    """Canonical preset names (file stems), sorted."""
    return sorted({file[:-5] for file in _index(kind).values()})


def exists(kind: Kind, name: str) -> bool:
    return _file(kind, name) is not None


def raw(kind: Kind, name: str) -> dict[str, Any]:
    """The preset's TOML as a dict (a fresh copy), or an InputError with suggestions."""
    file = _file(kind, name)
    if file is None:
        close = difflib.get_close_matches(name.lower(), _index(kind).keys(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"see `planner {_command(kind)} list`"
        raise InputError(f"unknown {_singular(kind)} '{name}'", hint=hint)
    return copy.deepcopy(_raw(kind, file))


def source_label(kind: Kind, name: str) -> str:
    file = _file(kind, name)
    assert file is not None, name
    return f"presets/{kind}/{file}"


def _singular(kind: Kind) -> str:
    return {"models": "model", "hardware": "hardware preset", "workloads": "workload", "engines": "engine",
            "validation": "validation set"}[kind]


def _command(kind: Kind) -> str:
    return {"models": "models", "hardware": "hardware", "workloads": "size --help", "engines": "size --help",
            "validation": "validate"}[kind]
