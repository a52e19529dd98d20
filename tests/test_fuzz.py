"""The fuzzer (issue 21): every subcommand's options and every input-file kind, mutated, in process.

Each case picks a command, starts from a cheap valid invocation, and mutates it: option values
(huge, negative, non-finite, wrong type, unit strings, free text with markup), `--set` keys and
values, input files (mutated TOML and JSON of every kind: model, hardware, workload, engine,
proposal, plan, HF config; and FIFOs, devices, directories, symlinks, oversized and missing
files) and output targets (new, existing, FIFO, device, symlink, directory, stdout). It asserts:

- the exit code is 0, 1 or 2, with no traceback and no exception escaping;
- exit 2 prints exactly one line on stderr;
- no output (table, JSON, TOML, CSV, markdown, written files) holds inf or nan;
- no file but the named target is created or changed, no temporary file is left behind, a special
  target keeps its kind, and a written target is complete (it parses).

The seed changes every run (tests/conftest.py prints it in the report header); a failure is
replayed with PLANNER_FUZZ_SEED=<seed>. Cases run in process through one cached Click command, so
that 5,000 of them take well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import tomllib
from pathlib import Path
from unittest import mock

import pytest
import typer
import typer.testing
from clihelp import Outcome, runner, stderr_of
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cli.main import app, run

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ["PLANNER_FUZZ_SEED"])       # set by conftest.py (new each run unless given)
CASES = int(os.environ.get("PLANNER_FUZZ_CASES", "5000"))
RUNNER = runner()
NOT_FINITE = re.compile(r"(?<![\w.])[-+]?(?:inf|nan)(?![\w])")
TEMPORARY = re.compile(r"^\..*\.tmp$")

# ---- values ---------------------------------------------------------------------------------------

NUMBERS = ["0", "-1", "1", "8", "64", "1e308", "-1e308", "1e400", "1e30", "nan", "inf", "-inf", "0.5", "1e-300",
           "9223372036854775808", "1k", "128k", "1M", "1Mi", "14.8T", "4.8 TB/s", "12q", "", " ", "true", "false"]
TYPES = ["true", "false", '"no"', '"yes"', "[1, 2]", "[true]", "{a = 1}", '"abc"', "1e308", "nan", "-0"]
MARKUP = ["[bold]x[/bold]", "[/x]", "evil[/x] :warning:", "[link=file:///etc/passwd]x[/link]", "\x1b[31mred",
          "名前", "ü", "≤→×—µ", "a\tb", "%s%n{0}"]
TEXT = st.one_of(st.sampled_from(MARKUP),
                 st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=10))
SET_KEYS = ["workload.isl", "workload.osl", "workload.context", "workload.requests_per_s",
            "workload.concurrent_sessions", "workload.slo.tpot_ms", "workload.turn_gap_s", "workload.name",
            "model.num_layers", "model.hidden_size", "model.precision.kv", "model.tie_word_embeddings", "model.name",
            "model.max_context", "hardware.hbm.capacity_gb", "hardware.hbm.pin_speed_gbps",
            "hardware.hbm.bandwidth_tbps", "hardware.scale_up.domain_size", "hardware.price.cloud_usd_per_gpu_hour",
            "hardware.power.gpu_w", "hardware.name", "engine.max_batch", "engine.memory_fraction",
            "engine.mtp_acceptance", "foo", "workload", "hardware"]
SET_VALUES = st.one_of(st.sampled_from(NUMBERS + TYPES + ["fp8", "fp7", "h200-sxm", "chat"]), TEXT)


def _set_item(draw) -> str:
    return f"{draw(st.sampled_from(SET_KEYS))}={draw(SET_VALUES)}"


# ---- input files ------------------------------------------------------------------------------------

SOURCES = {
    "model": ROOT / "presets" / "models" / "llama-3.1-8b.toml",
    "hardware": ROOT / "presets" / "hardware" / "h100-sxm.toml",
    "workload": ROOT / "presets" / "workloads" / "chat.toml",
    "engine": ROOT / "presets" / "engines" / "trtllm.toml",
    "proposal": ROOT / "examples" / "proposals" / "llama70b-h200-chat-pinned.toml",
    "config": ROOT / "tests" / "fixtures" / "hf" / "meta-llama--Meta-Llama-3.1-8B.json",
}
ASSIGNMENT = re.compile(r'^(\s*"?[\w.-]+"?\s*[=:]\s*)(.+?)(,?)\s*$')


def _mutate(text: str, draw) -> str:
    """Change 1-3 values (to a number, a type or free text), or break the syntax."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        m = ASSIGNMENT.match(lines[i])
        op = draw(st.sampled_from(["number", "type", "text", "delete", "duplicate", "junk"]))
        if m and op in ("number", "type", "text"):
            value = (draw(st.sampled_from(NUMBERS)) if op == "number" else draw(st.sampled_from(TYPES)) if op == "type"
                     else json.dumps(draw(TEXT), ensure_ascii=False))
            value = value if value.strip() else '""'
            lines[i] = m[1] + value + m[3]
        elif op == "delete":
            del lines[i]
            lines = lines or [""]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = lines[i][:3] + draw(st.sampled_from(["=", "[", "]", '"', "{", "\x00", "ü"])) + lines[i][3:]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> Path:
    """Inputs that every case may name (never written): a plan, special files, a big file."""
    d = tmp_path_factory.mktemp("fuzz-inputs")
    plan = d / "plan.toml"
    r = _invoke(["size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--export", str(plan)])
    assert r.exit_code == 0, r.output
    os.mkfifo(d / "fifo.toml")
    (d / "adir").mkdir()
    with (d / "big.toml").open("w") as handle:
        handle.truncate(5 * 2**20)                       # sparse, over the 4 MiB cap
    (d / "link.toml").symlink_to(SOURCES["hardware"])
    (d / "dangling.toml").symlink_to(d / "missing.toml")
    return d


def _input_file(draw, kind: str, fixed: Path, work: Path) -> str:
    """A path for an input of `kind`: the valid file, a mutation of it, or another kind of file."""
    choice = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "special"]))
    if choice == "special":
        return draw(st.sampled_from([str(fixed / "fifo.toml"), "/dev/zero", "/dev/null", str(fixed / "adir"),
                                     str(fixed / "big.toml"), str(fixed / "link.toml"), str(fixed / "dangling.toml"),
                                     str(work / "missing.toml"), str(fixed / "plan.toml")]))
    src = fixed / "plan.toml" if kind == "plan" else SOURCES[kind]
    if choice == "valid":
        return str(src)
    path = work / ("config.json" if kind == "config" else f"in-{kind}.toml")
    path.write_text(_mutate(src.read_text(encoding="utf-8"), draw), encoding="utf-8", errors="surrogateescape")
    return str(path)


# ---- output targets ---------------------------------------------------------------------------------

def _target(draw, work: Path, fixed: Path) -> tuple[str, Path | None]:
    """(the path to pass, the file that may change: None for a stream or a refused special file)."""
    kind = draw(st.sampled_from(["new", "existing", "fifo", "device", "symlink", "directory", "stdout",
                                 "missing-folder"]))
    if kind == "new":
        return "out.txt", work / "out.txt"
    if kind == "existing":
        (work / "out.txt").write_text("mine\n")
        return "out.txt", work / "out.txt"
    if kind == "fifo":
        os.mkfifo(work / "out.fifo")
        return "out.fifo", None
    if kind == "device":
        return "/dev/null", None
    if kind == "symlink":
        (work / "real.txt").write_text("mine\n")
        (work / "link.txt").symlink_to(work / "real.txt")
        return "link.txt", work / "real.txt"
    if kind == "directory":
        (work / "d").mkdir()
        return "d", None
    if kind == "stdout":
        return draw(st.sampled_from(["-", "/dev/stdout"])), None
    return "nope/out.txt", None


# ---- commands -------------------------------------------------------------------------------------------

def _option_value(draw, valid: list[str]) -> str:
    """Mostly valid (so that cases reach past the first check), else a nasty number or free text."""
    roll = draw(st.integers(0, 9))
    return draw(st.sampled_from(valid) if roll < 7 else st.sampled_from(NUMBERS) if roll < 9 else TEXT)


def _case(draw, fixed: Path, work: Path) -> tuple[list[str], Path | None]:
    """(argv, the output file it may write)."""
    # weighted towards the cheap commands (kv and balance size a cluster: ~12 ms a case)
    command = draw(st.sampled_from(["estimate"] * 3 + ["models"] * 2 + ["hardware"] * 2 + ["check"] * 3
                                   + ["diff"] * 2 + ["size"] * 2 + ["sweep"] * 2 + ["models-list"] * 2
                                   + ["schema", "train", "kv", "balance", "frontier"]))
    target: Path | None = None
    extra: list[str] = []
    for _ in range(max(0, draw(st.integers(-2, 2)))):
        extra += ["--set", _set_item(draw)]
    fmt = draw(st.sampled_from([[], ["-f", "json"], ["-f", "table"], ["-f", "markdown"], ["-f", "toml"],
                                ["-f", "csv"], ["-f", "jsonl"], ["-f", "github"], ["-f", "junit"], ["-f", "yaml"]]))
    model = draw(st.sampled_from(["llama-3.1-8b", "llama-3.1-8b", "qwen3-30b-a3b", "nope"])) \
        if draw(st.integers(0, 2)) else _input_file(draw, draw(st.sampled_from(["model", "config"])), fixed, work)
    hardware = "h100-sxm" if draw(st.integers(0, 2)) else _input_file(draw, "hardware", fixed, work)
    workload = "chat" if draw(st.integers(0, 2)) else _input_file(draw, "workload", fixed, work)
    if command == "estimate":
        argv = ["estimate", "-m", model, "-H", hardware, "--layout", _option_value(draw, ["tp=1", "tp=2", "tp=0,dp=x"]),
                "--batch", _option_value(draw, ["8", "64"]), "--isl", _option_value(draw, ["1k"]),
                "--osl", _option_value(draw, ["64"]), *extra]
        if draw(st.booleans()):
            argv += ["-e", draw(st.sampled_from(["vllm", "sglang"])) if draw(st.booleans())
                     else _input_file(draw, "engine", fixed, work)]
        if draw(st.booleans()):
            argv += ["-w", workload]
        return argv + (fmt if fmt[-1:] in (["json"], ["table"]) else []), None
    if command == "models":
        return ["models", "show", model, "--context", _option_value(draw, ["4096", "128k"]), *extra,
                *(fmt if fmt[-1:] == ["json"] else [])], None
    if command == "models-list":
        return [draw(st.sampled_from(["models", "hardware"])), "list", *(fmt if fmt[-1:] == ["json"] else [])], None
    if command == "hardware":
        return ["hardware", "show", hardware, *extra, *(fmt if fmt[-1:] == ["json"] else [])], None
    if command == "schema":
        return ["schema", draw(st.sampled_from(["proposal", "plan", "model", "hardware", "workload", "nope"]))], None
    if command == "check":
        argv = ["check", _input_file(draw, draw(st.sampled_from(["proposal", "proposal", "plan"])), fixed, work), *fmt]
        if draw(st.booleans()):
            path, target = _target(draw, work, fixed)
            argv += ["--output", path] + (["--force"] if draw(st.booleans()) else [])
        return argv, target
    if command == "diff":
        kinds = st.sampled_from(["plan", "plan", "proposal"])
        return ["diff", _input_file(draw, draw(kinds), fixed, work), _input_file(draw, draw(kinds), fixed, work),
                *fmt], None
    if command == "size":
        if draw(st.booleans()):
            argv = ["size", "--plan", _input_file(draw, "plan", fixed, work), *extra, *fmt]
        else:
            argv = ["size", "-m", model, "-H", hardware, "-w", workload, "--layout",
                    _option_value(draw, ["tp=1", "tp=2"]), "--batch", _option_value(draw, ["8"]), *extra, *fmt]
        if draw(st.booleans()):
            path, target = _target(draw, work, fixed)
            argv += ["--export", path] + (["--force"] if draw(st.booleans()) else [])
        return argv, target
    if command == "sweep":
        key = draw(st.sampled_from(["workload.isl", "workload.osl", "batch", "hardware.hbm.capacity_gb", "layout.tp",
                                    "model.num_layers"]))
        values = draw(st.sampled_from(["1k,2k", "8,16", "1:3", "0:1e400", "-1e308:1e308", "1,abc", "1e308,nan",
                                       "1:2:0", "true,false"]))
        argv = ["sweep", "-m", model, "-H", hardware, "-w", workload, "--fixed-layout", "tp=1", "--batch", "8",
                "--vary", f"{key}={values}", "-j", "1", *extra, *fmt]
        if draw(st.booleans()):
            path, target = _target(draw, work, fixed)
            argv += ["--output", path] + (["--force"] if draw(st.booleans()) else [])
        return argv, target
    if command == "frontier":
        argv = ["frontier", "-m", model, "-H", hardware, "-w", workload, "--mode",
                _option_value(draw, ["colocated", "colocated,disaggregated"]), *extra, *fmt]
        if draw(st.booleans()):
            argv += ["--vary", f"workload.isl={draw(st.sampled_from(['1k,2k', '0:1e400', '1,abc', 'true']))}"]
        if draw(st.booleans()):
            argv += ["--price", _option_value(draw, ["2.5", "0"])]
        if draw(st.integers(0, 3)) == 0:
            path, target = _target(draw, work, fixed)
            argv += ["--plot", path] + (["--force"] if draw(st.booleans()) else [])
        return argv, target
    if command == "train":
        argv = ["train", "-m", model, "-H", hardware, "--tokens", _option_value(draw, ["1T", "14.8T"])]
        argv += draw(st.sampled_from([["--gpus", _option_value(draw, ["64", "1024"])],
                                      ["--days", draw(st.sampled_from(["30", "0", "-1", "nan", "inf", "1e308"]))],
                                      []]))
        for option, valid in (("--seq", ["4096"]), ("--micro-batch", ["1"]), ("--global-batch", ["1024", "16M tokens"]),
                              ("--zero", ["1", "3", "fsdp"]), ("--layout", ["tp=8", "tp=8,pp=2"])):
            if draw(st.integers(0, 4)) == 0:
                argv += [option, _option_value(draw, valid)]
        return argv + extra + (fmt if fmt[-1:] == ["json"] else []), None
    # kv and balance size a cluster (tens of ms): on the small model, with mutated sets
    return [command, "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", workload, *extra,
            *(fmt if fmt[-1:] == ["json"] else [])], None


# ---- running and checking --------------------------------------------------------------------------

class _Entry:
    """What CliRunner invokes: `planner`'s own entry point (cli.main.run), so usage errors take the
    path they take in a terminal (one line, exit 2), on the Click command built once."""

    name = "planner"

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        run(list(args))


def _invoke(argv: list[str]) -> Outcome:
    with mock.patch.object(typer.testing, "_get_command", lambda _app: _Entry()):
        return Outcome(RUNNER.invoke(app, argv))


def _snapshot(*folders: Path) -> dict[str, tuple]:
    """Kind, inode, size and mtime of every file (a write or an atomic replace changes one of them)."""
    state = {}
    for folder in folders:
        for path in folder.rglob("*"):
            info = path.lstat()
            state[str(path)] = (stat.S_IFMT(info.st_mode), info.st_ino, info.st_size, info.st_mtime_ns)
    return state


def _no_non_finite_json(text: str) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"JSON holds {name}")
    for line in text.splitlines() if text.lstrip().startswith("{\"") and "\n{" in text else [text]:
        if line.strip():
            json.loads(line, parse_constant=refuse)


def _finite_toml(value) -> None:
    if isinstance(value, float):
        assert math.isfinite(value), "a written TOML file holds inf or nan"
    elif isinstance(value, dict):
        for v in value.values():
            _finite_toml(v)
    elif isinstance(value, list):
        for v in value:
            _finite_toml(v)


def _check(result: Outcome, argv: list[str], target: Path | None, before: dict, after: dict) -> None:
    where = f"seed {SEED}: planner {' '.join(argv)!r}"
    assert result.exit_code in (0, 1, 2), (where, result.exit_code, result.output[-2000:])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{where}: unhandled {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output, where
    if result.exit_code == 2:
        lines = [line for line in stderr_of(result).splitlines() if line.strip()]
        assert len(lines) == 1, (where, lines)
    if "json" in argv and result.exit_code != 2 and result.stdout.strip().startswith(("{", "[")):
        _no_non_finite_json(result.stdout)
    else:
        assert not NOT_FINITE.search(result.stdout), (where, NOT_FINITE.search(result.stdout))
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    allowed = {str(target)} if target is not None else set()
    assert changed <= allowed, (where, sorted(changed - allowed))
    assert not any(TEMPORARY.match(Path(p).name) for p in after), where
    for path, (kind, *_rest) in before.items():
        assert after.get(path, (kind,))[0] == kind, (where, "a special file changed kind", path)
    if target is not None and str(target) in changed:
        data = target.read_bytes()
        assert data and data != b"mine\n", where
        if data.lstrip().startswith(b'model = "'):            # a plan: complete and finite
            _finite_toml(tomllib.loads(data.decode()))


@settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
          derandomize=False)
@seed(SEED)
@given(data=st.data())
def test_fuzz_every_command_and_input_kind(data, fixed):
    # one working folder, emptied before each case (cheaper than a new folder per case)
    work = fixed.parent / "work"
    work.mkdir(exist_ok=True)
    for path in work.iterdir():
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    old = os.getcwd()
    os.chdir(work)
    try:
        argv, target = _case(data.draw, fixed, work)
        before = _snapshot(work, fixed)
        result = _invoke(argv)
        after = _snapshot(work, fixed)
        _check(result, argv, target, before, after)
    finally:
        os.chdir(old)
