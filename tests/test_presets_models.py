"""Every model preset is data that loads, says where its numbers come from, and answers to its
aliases."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from planner.inputs import io, presets
from planner.inputs.model import Model

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "models"
FILES = sorted(PRESET_DIR.glob("*.toml"))
ALIASES = [(alias, f.stem) for f in FILES for alias in tomllib.loads(f.read_text()).get("aliases", [])]


def test_presets_found():
    assert len(FILES) == 15
    assert presets.names("models") == sorted(f.stem for f in FILES)


def test_packaged_presets_match_the_folder():
    # presets are found through importlib.resources (so a wheel finds them); same files as the repo
    packaged = sorted(e.name for e in (resources.files("presets") / "models").iterdir() if e.name.endswith(".toml"))
    assert packaged == [f.name for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_preset_loads_with_sources(path):
    m = io.load_model(path.stem)
    assert isinstance(m, Model)
    assert m.name == path.stem
    assert m.sources and all(s.strip() for s in m.sources)
    # loading the file by path gives the same model as loading the preset by name
    assert io.load_model(str(path)) == m


@pytest.mark.parametrize("alias, preset", ALIASES)
def test_alias_resolves_to_its_preset(alias, preset):
    assert io.load_model(alias) == io.load_model(preset)
    assert io.load_model(alias.upper()).name == preset


def test_aliases_are_unique_and_do_not_shadow_presets():
    names = [a for a, _ in ALIASES]
    assert len(names) == len(set(names))
    assert not set(names) & {f.stem for f in FILES}
