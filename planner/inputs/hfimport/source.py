"""Where a config comes from: a config.json, its folder (with ModelOpt's hf_quant_config.json
beside it) or a hub id in the local Hugging Face cache; multimodal wrappers read through their
text_config. Never the network."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.files import read_input


def hub_cache_root() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub finds it (HF_HUB_CACHE, HF_HOME/hub,
    XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def is_hub_id(spec: str) -> bool:
    """ORG/NAME that is not a file: a Hugging Face repository id."""
    return bool(HUB_ID.match(spec)) and not Path(spec).exists() and Path(spec).suffix not in (".toml", ".json")


def hub_config_path(repo_id: str) -> Path:
    """config.json of a hub repository in the local cache: the snapshot refs/main points at, else
    the newest snapshot with a config.json. Never the network."""
    org, name = repo_id.split("/", 1)
    repo = hub_cache_root() / f"models--{org}--{name}"
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    if ref.is_file():
        pinned = snapshots / ref.read_text(encoding="utf-8").strip() / "config.json"
        if pinned.is_file():
            return pinned
    found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if snapshots.is_dir() else []
    if not found:
        raise InputError(f"not in the local Hugging Face cache (looked for {snapshots}/*/config.json)",
                         source=repo_id, hint=f"download it first, e.g. `huggingface-cli download {repo_id} "
                                             "config.json`; planner never uses the network")
    return found[0]


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """Read config.json (and hf_quant_config.json beside it). Returns (config, quant, source)."""
    config_path = path / "config.json" if path.is_dir() else path
    if not config_path.exists():        # other kinds of file are read_input's to refuse
        raise InputError("no config.json here", source=str(path), hint="pass a config.json or its folder")
    data = _read_json(config_path)
    quant_path = config_path.parent / "hf_quant_config.json"
    quant = _read_json(quant_path) if quant_path.is_file() else None
    return data, quant, str(config_path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_input(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                         source=str(path)) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object at the top level", source=str(path))
    return data


def text_config(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The language model's fields: the `text_config` of a multimodal wrapper (Gemma 3, Llama 4,
    Mistral 3 ...) with the wrapper's quantization and tying, else the config itself."""
    outer_type = data.get("model_type")
    text = data.get("text_config")
    if isinstance(text, dict) and ("hidden_size" not in data or "num_hidden_layers" in text):
        merged = {k: v for k, v in data.items() if k in ("quantization_config", "tie_word_embeddings")}
        merged.update(text)
        inner = text.get("model_type")
        # Gemma 3's text_config is gemma3_text; a wrapper without an inner type names the text model
        model_type = inner if isinstance(inner, str) else f"{outer_type}_text"
        return merged, model_type
    if outer_type is None and "num_experts" in data and "attn_output_multiplier" in data:
        return data, "grok-1"       # hpcai-tech/grok-1 ships without a model_type
    return data, str(outer_type if outer_type is not None else "unknown")
