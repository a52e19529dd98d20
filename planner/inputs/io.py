"""Inputs from files, presets and `--set` overrides, validated into typed objects.

Every failure is an InputError naming the file (or preset) and the field, so the CLI prints one
line and exits 2. A MODEL argument is a preset name, a model TOML, a HF config.json or its
folder; HARDWARE and WORKLOAD are a preset name or a TOML file.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from planner.errors import InputError  # noqa: F401  (re-exported for the CLI)
from planner.files import read_input
from planner.inputs import presets
from planner.inputs.base import validation_error
from planner.inputs.engine import Engine
from planner.inputs.hardware import Hardware
from planner.inputs.hfimport.source import hub_config_path, is_hub_id
from planner.inputs.model import Model
from planner.inputs.workload import Workload
from planner.units import finite_tree

if TYPE_CHECKING:
    from planner.inputs.hfimport.fields import ImportReport

T = TypeVar("T", bound=BaseModel)
SECTIONS = ("model", "hardware", "workload", "engine")


def read_toml(path: Path) -> dict[str, Any]:
    """A user's TOML file (through the one capped reader, planner.files.read_input)."""
    if path.is_dir():
        raise InputError("is a directory, expected a TOML file", source=str(path))
    return parse_toml(read_input(path), str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends "(at line L, column C)": keep it, it is the location.
        raise InputError(f"invalid TOML: {exc}", source=source) from None
    except RecursionError:
        raise InputError("invalid TOML: nested too deeply", source=source) from None


def validate(cls: type[T], data: dict[str, Any], source: str, prefix: str = "") -> T:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, prefix, cls) from None


# ---- overrides ---------------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """An override value: TOML literal when it parses as one (numbers, booleans, arrays),
    otherwise the raw string (units like '1M' or '4.8 TB/s' are parsed by the schema)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """['hardware.hbm.pin_speed_gbps=12', ...] -> {'hardware.hbm.pin_speed_gbps': 12, ...}."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set workload.context=1M")
        head = key.split(".")[0]
        if head not in SECTIONS:
            raise InputError(f"--set {key}: keys start with model., hardware., workload. or engine.",
                             hint="e.g. --set hardware.hbm.pin_speed_gbps=12")
        out[key] = parse_value(value.strip())
    return out


def _apply(data: dict[str, Any], path: list[str], value: Any, full_key: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise InputError(f"--set {full_key}: '{part}' is a value, not a section")
        node = child
    node[path[-1]] = value


def _section_overrides(overrides: dict[str, Any], section: str) -> tuple[Any, dict[str, Any]]:
    """(replacement preset/file for the whole section or None, {sub.key: value})."""
    whole = overrides.get(section)
    sub = {k[len(section) + 1:]: v for k, v in overrides.items() if k.startswith(section + ".")}
    return whole, sub


def _hbm_consistency(data: dict[str, Any], sub: dict[str, Any]) -> None:
    """Keep pins and bandwidth consistent: a bandwidth override moves the pin speed, and a pin
    override moves the bandwidth, so whichever the user set is what the model uses. A capacity
    override in one unit (GB, GiB, MiB) replaces the preset's capacity in any other."""
    hbm = data.get("hbm", {})
    units = ("capacity_gb", "capacity_gib", "capacity_mib")
    for given in units:
        if "hbm." + given in sub:
            for other in units:
                if other != given and "hbm." + other not in sub:
                    hbm.pop(other, None)
    numeric = lambda k: isinstance(hbm.get(k), (int, float)) and not isinstance(hbm.get(k), bool)  # noqa: E731
    # a non-numeric value is left for the schema to report, with its field
    pins = all(hbm.get(k) and numeric(k) for k in ("stacks", "bus_width_bits", "pin_speed_gbps"))
    if "hbm.pin_speed_gbps" in sub and not (hbm.get("stacks") and hbm.get("bus_width_bits")):
        raise InputError("--set hardware.hbm.pin_speed_gbps: this machine's HBM has no stacks and bus width, "
                         "so a pin speed cannot set its bandwidth",
                         hint="set hardware.hbm.bandwidth_tbps, or give hardware.hbm.stacks and bus_width_bits too")
    if "hbm.bandwidth_tbps" in sub and "hbm.pin_speed_gbps" not in sub and pins and numeric("bandwidth_tbps"):
        hbm["pin_speed_gbps"] = (float(sub["hbm.bandwidth_tbps"]) * 1e12 * 8
                                 / (hbm["stacks"] * hbm["bus_width_bits"] * 1e9))
    elif pins and ("hbm.pin_speed_gbps" in sub or "hbm.stacks" in sub or "hbm.bus_width_bits" in sub):
        hbm["bandwidth_tbps"] = hbm["stacks"] * hbm["bus_width_bits"] * hbm["pin_speed_gbps"] / 8e3


# ---- loaders -------------------------------------------------------------------------------------

def hf_config_path(spec: str) -> Path | None:
    """The Hugging Face config a MODEL argument names (a config.json, its folder, or a hub id
    ORG/NAME in the local cache), or None for a preset or model TOML."""
    path = Path(spec)
    if path.suffix == ".json" or path.is_dir() or (path.exists() and path.suffix != ".toml"):
        if not path.exists():
            raise InputError("no such file", source=spec)
        return path
    if is_hub_id(spec):
        return hub_config_path(spec)
    return None


def import_report(spec: str) -> ImportReport | None:
    """What the import of an HF config read, assumed and ignored (None for presets and TOML files)."""
    from planner.inputs.hfimport import import_hf_report  # only for HF configs
    path = hf_config_path(spec)
    return None if path is None else import_hf_report(path, name=_hf_name(spec, path))[1]


def _hf_name(spec: str, path: Path) -> str | None:
    return spec.split("/")[-1].lower() if is_hub_id(spec) else None


def _model_data(spec: str) -> tuple[dict[str, Any], str]:
    path = hf_config_path(spec)
    if path is not None:
        from planner.inputs.hfimport import import_hf  # only for HF configs
        model = import_hf(path, name=_hf_name(spec, path))
        return model.model_dump(mode="json"), spec
    if Path(spec).suffix == ".toml" or "/" in spec:
        return read_toml(Path(spec)), spec
    return presets.raw("models", spec), presets.source_label("models", spec)


def _table_data(kind: presets.Kind, spec: str) -> tuple[dict[str, Any], str]:
    path = Path(spec)
    if path.suffix == ".toml" or "/" in spec or path.exists():
        return read_toml(path), spec
    return presets.raw(kind, spec), presets.source_label(kind, spec)


def _load(section: str, spec: str | dict[str, Any], overrides: dict[str, Any]) -> tuple[BaseModel, str]:
    whole, sub = _section_overrides(overrides, section)
    if isinstance(whole, str | dict):
        spec = whole                               # a preset name or file, or an inline table
    elif whole is not None:
        # a number is no preset name (str(1e400) would look one up as 'inf')
        what = "a boolean" if isinstance(whole, bool) else "a number" if isinstance(whole, int | float) else "a list"
        raise InputError(f"--set {section}= takes a preset name, a file or an inline table, not {what}")
    kind = {"model": "models", "hardware": "hardware", "workload": "workloads", "engine": "engines"}[section]
    classes: dict[str, type[BaseModel]] = {"model": Model, "hardware": Hardware, "workload": Workload,
                                           "engine": Engine}
    cls = classes[section]
    if isinstance(spec, dict):
        data, source = dict(spec), f"{section} (inline)"
    elif section == "model":
        data, source = _model_data(spec)
    else:
        data, source = _table_data(kind, spec)  # type: ignore[arg-type]
    for key, value in sub.items():
        _apply(data, key.split("."), value, f"{section}.{key}")
    if section == "hardware":
        _hbm_consistency(data, sub)
    if section == "workload" and "context" in sub and "prefix" not in sub:
        data.pop("prefix", None)   # an overridden context decides the reused prefix
    if sub:
        source += " (with --set)"
    return validate(cls, data, source), source


def load_model(spec: str | dict[str, Any], overrides: dict[str, Any] | None = None) -> Model:
    return _load("model", spec, overrides or {})[0]  # type: ignore[return-value]


def load_hardware(spec: str | dict[str, Any], overrides: dict[str, Any] | None = None) -> Hardware:
    return _load("hardware", spec, overrides or {})[0]  # type: ignore[return-value]


def load_workload(spec: str | dict[str, Any], overrides: dict[str, Any] | None = None) -> Workload:
    return _load("workload", spec, overrides or {})[0]  # type: ignore[return-value]


def load_engine(spec: str | dict[str, Any], overrides: dict[str, Any] | None = None) -> Engine:
    return _load("engine", spec, overrides or {})[0]  # type: ignore[return-value]


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    """The engine every evaluation uses when none is given (presets.DEFAULT_ENGINE)."""
    return load_engine(presets.DEFAULT_ENGINE)


def load_inputs(model: str | dict[str, Any], hardware: str | dict[str, Any], workload: str | dict[str, Any],
                overrides: dict[str, Any] | None = None) -> tuple[Model, Hardware, Workload]:
    """The three inputs of a serving plan, each with the same overrides applied."""
    sets = overrides or {}
    return load_model(model, sets), load_hardware(hardware, sets), load_workload(workload, sets)


def to_json(data: Any, ensure_ascii: bool = False) -> str:
    """Deterministic JSON: sorted keys are not used (section order is meaningful), but every
    dict we emit is built in a fixed order, and floats are finite (NaN/inf become null)."""
    return json.dumps(finite_tree(data), indent=2, ensure_ascii=ensure_ascii)
