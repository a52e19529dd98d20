"""The plan: everything `size` decided and computed, with fully resolved inputs, so that a plan
file alone reproduces itself (`planner size --plan plan.toml`) on any machine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from planner import __version__
from planner.errors import InputError
from planner.hardware import Hardware
from planner.io import read_toml, validate
from planner.modelspec import Model
from planner.sizing import Sizing, size
from planner.uncertainty import ranges
from planner.workload import Workload


def _clean(value: Any) -> Any:
    """TOML has no null: drop None values (they are the schema defaults on reload)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def inputs(s: Sizing) -> dict[str, Any]:
    return {"model": s.model.model_dump(mode="json"), "hardware": s.hardware.model_dump(mode="json"),
            "workload": s.workload.model_dump(mode="json")}


def build_plan(s: Sizing) -> dict[str, Any]:
    """The plan as a dict in a fixed key order (JSON keys per DESIGN.md, base units)."""
    best = s.best
    plan: dict[str, Any] = {
        "tool": {"name": "planner", "version": __version__},
        "model": s.model.name, "hardware": s.hardware.name, "workload": s.workload.name,
        "requests_per_s": s.requests_per_s,
        "feasible": s.feasible,
    }
    if best is not None:
        dec, pre = s.estimates[-1], s.estimates[0]
        out_tokens_per_s = s.requests_per_s * s.workload.osl
        lay = dec.layout
        plan |= {
            "disaggregated": best.disaggregated,
            "layout": lay.to_dict(),
            "pools": [p.to_dict() for p in best.pools],
            "per_gpu": {k: v for k, v in dec.to_dict()["per_gpu"].items()},
            "phases": {"prefill": pre.prefill.to_dict(), "decode": dec.decode.to_dict()},
            "ttft_s": best.ttft_s, "tpot_s": best.tpot_s,
            "tokens_per_s_per_gpu": out_tokens_per_s / best.cluster.gpus,
            **ranges(best.ttft_s, best.tpot_s, out_tokens_per_s / best.cluster.gpus, s.model.is_moe),
            "tokens_per_s_per_user": 1 / best.tpot_s,
            "cluster": best.cluster.to_dict(),
        }
    plan["domain"] = {
        "size": s.hardware.scale_up.domain_size,
        "smallest_working": s.smallest_domain, "knee": s.knee_domain,
        "comparison": [{"domain_size": r.domain_size, "gpus": r.gpus, "ep_crosses_domain": r.ep_crosses_domain,
                        "tpot_s": r.tpot_s} for r in s.domain_rows],
    }
    if s.kv is not None:
        kv = s.kv.to_dict()
        plan["kv_tiers"] = kv.pop("kv_tiers")
        kv.pop("verdicts")
        plan["kv"] = kv
    else:
        plan["kv_tiers"] = []
    plan["verdicts"] = [v.to_dict() for v in s.verdicts]
    plan["inputs"] = inputs(s)
    return plan


def plan_toml(plan: dict[str, Any]) -> str:
    return tomli_w.dumps(_clean(plan))


def write_atomic(path: Path, text: str, force: bool) -> None:
    """Write via a temporary file in the same folder and rename, so a failure leaves the old
    file intact; refuse to replace an existing file unless `force`."""
    if path.exists() and not force:
        raise InputError("file exists", source=str(path), hint="use --force to replace it")
    if path.is_dir():
        raise InputError("is a directory", source=str(path))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("folder does not exist", source=str(folder))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_plan_inputs(path: Path) -> tuple[Model, Hardware, Workload]:
    data = read_toml(path)
    raw = data.get("inputs")
    if not isinstance(raw, dict) or not all(k in raw for k in ("model", "hardware", "workload")):
        raise InputError("not a plan: no [inputs.model], [inputs.hardware] and [inputs.workload]",
                         source=str(path), hint="export one with `planner size --export plan.toml`")
    return (validate(Model, raw["model"], str(path), "inputs.model"),
            validate(Hardware, raw["hardware"], str(path), "inputs.hardware"),
            validate(Workload, raw["workload"], str(path), "inputs.workload"))


def evaluate_plan_file(path: str | Path) -> Sizing:
    """Re-run sizing from a plan's resolved inputs (its stored results are not trusted)."""
    model, hardware, workload = load_plan_inputs(Path(path))
    return size(model, hardware, workload)
