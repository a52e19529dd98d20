"""planner.inputs.hfimport: a Hugging Face config.json gives the same model facts as the preset built
from it, and configs we cannot model are one clear InputError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.inputs import io
from planner.inputs.hfimport import import_hf
from planner.model.facts import (
    ep_flops_per_comm_byte,
    facts,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
)
from planner.precision import Dtype

FIXTURES = Path(__file__).parent / "fixtures" / "hf"

PRESET_OF = {
    "deepseek-ai--DeepSeek-V4-Pro": "deepseek-v4-pro",
    "deepseek-ai--DeepSeek-V4-Flash": "deepseek-v4-flash",
    "deepseek-ai--DeepSeek-V3": "deepseek-v3",
    "deepseek-ai--DeepSeek-V3.2": "deepseek-v3.2",
    "moonshotai--Kimi-K2-Instruct": "kimi-k2",
    "meta-llama--Meta-Llama-3.1-8B": "llama-3.1-8b",
    "meta-llama--Meta-Llama-3.1-70B": "llama-3.1-70b",
    "meta-llama--Meta-Llama-3.1-405B": "llama-3.1-405b",
    "Qwen--Qwen3-32B": "qwen3-32b",
    "Qwen--Qwen3-30B-A3B": "qwen3-30b-a3b",
    "Qwen--Qwen3-235B-A22B": "qwen3-235b-a22b",
    "Qwen--Qwen3-Next-80B-A3B-Instruct": "qwen3-next-80b-a3b",
    "mistralai--Mixtral-8x7B-v0.1": "mixtral-8x7b",
    "openai--gpt-oss-120b": "gpt-oss-120b",
}


def summary(m):
    f = facts(m)
    return {
        "params.total": f.params.total,
        "params.active": f.params.active,
        "kv_bytes_per_token": kv_bytes_per_token(m),
        "kv_bytes_per_sequence@32768": kv_bytes_per_sequence(m, 32768),
        "ep_flops_per_comm_byte": ep_flops_per_comm_byte(m),
    }


def test_every_preset_import_has_its_fixture():
    # the corpus holds more configs than presets (tests/test_hf_corpus.py); these have both
    assert set(PRESET_OF) <= {p.stem for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("stem", sorted(PRESET_OF))
def test_import_matches_preset(stem):
    imported = import_hf(FIXTURES / f"{stem}.json")
    preset = io.load_model(PRESET_OF[stem])
    assert summary(imported) == summary(preset)      # exact: same formulas on the same integers
    assert imported.precision == preset.precision


def test_import_folder_with_modelopt_nvfp4():
    # A folder with config.json and ModelOpt's hf_quant_config.json (NVFP4 routed experts).
    imported = import_hf(FIXTURES / "deepseek-v4-pro-nvfp4")
    preset = io.load_model("deepseek-v4-pro-nvfp4")
    assert imported.precision.experts == Dtype.nvfp4
    assert summary(imported) == summary(preset)
    assert imported.precision == preset.precision
    assert facts(imported).weights.total == facts(preset).weights.total


def test_load_model_accepts_config_path():
    m = io.load_model(str(FIXTURES / "openai--gpt-oss-120b.json"))
    assert summary(m) == summary(io.load_model("gpt-oss-120b"))


# ---- errors ----------------------------------------------------------------------------------------

def write(tmp_path, text, name="config.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pure_state_space_model_is_one_clear_error(tmp_path):
    path = write(tmp_path, json.dumps({"model_type": "mamba2", "hidden_size": 2048, "num_hidden_layers": 4,
                                       "vocab_size": 50280, "layer_types": ["mamba"] * 4}))
    with pytest.raises(InputError) as exc:
        import_hf(path)
    line = exc.value.one_line()
    assert "mamba2" in line and "layer_types" in line and "pure state-space" in line
    assert "\n" not in line


def test_missing_decoder_fields_are_named(tmp_path):
    path = write(tmp_path, json.dumps({"model_type": "mamba2", "num_hidden_layers": 64, "vocab_size": 32768}))
    with pytest.raises(InputError) as exc:
        import_hf(path)
    line = exc.value.one_line()
    assert "mamba2" in line and "hidden_size" in line
    assert "num_hidden_layers" not in line          # only what is missing


def test_mamba2_config_without_attention_heads(tmp_path):
    # The shape of a real Mamba2 config (mistralai/Mamba-Codestral-7B-v0.1): SSM heads, no attention heads.
    path = write(tmp_path, json.dumps({"model_type": "mamba2", "hidden_size": 4096, "num_hidden_layers": 64,
                                       "vocab_size": 32768, "num_heads": 128, "head_dim": 64, "state_size": 128,
                                       "n_groups": 8, "expand": 2}))
    with pytest.raises(InputError) as exc:
        import_hf(path)
    # named as a recurrent-state block (state_size), not guessed as attention
    assert "mamba2" in exc.value.one_line() and "state_size" in exc.value.one_line()


def test_hybrid_pattern_imports_mixers_and_mlps(tmp_path):
    # Shape of nvidia/Nemotron-H-8B-Base-8K config.json: M = Mamba2, * = attention, - = MLP.
    path = write(tmp_path, json.dumps({
        "model_type": "nemotron_h", "hidden_size": 4096, "num_hidden_layers": 52, "vocab_size": 131072,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 21504,
        "hybrid_override_pattern": "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-",
        "mamba_num_heads": 128, "mamba_head_dim": 64, "ssm_state_size": 128}))
    m = import_hf(path)
    kinds = facts(m).layer_kinds
    assert (kinds["mamba"], kinds["full"], kinds["no_mixer"]) == (24, 4, 24)
    assert facts(m).dense_layers == 24 and facts(m).moe_layers == 0


def test_malformed_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "hidden_size": 4096,\n  "num_hidden_layers": \n}\n')
    with pytest.raises(InputError) as exc:
        import_hf(path)
    line = exc.value.one_line()
    assert str(path) in line
    assert "line 4" in line and "column 1" in line


def test_top_level_must_be_an_object(tmp_path):
    with pytest.raises(InputError):
        import_hf(write(tmp_path, "[1, 2, 3]"))


def test_folder_without_config_json(tmp_path):
    (tmp_path / "README.md").write_text("no config here")
    with pytest.raises(InputError) as exc:
        import_hf(tmp_path)
    assert "config.json" in exc.value.one_line()
