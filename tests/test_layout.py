"""planner.inputs.layout: parsing the --layout words and the unit they describe.

Conventions checked against DESIGN.md "Command surface" (meaning of the layout words): `batch` is
per attention-DP rank, ep must divide the tp*dp attention GPUs of a stage, bad input is an
InputError (one line, exit 2 in the CLI), never a traceback.
"""

from __future__ import annotations

import pytest
from clihelp import ENV, runner, stderr_of

from cli.main import app
from planner.errors import InputError
from planner.inputs.layout import Layout, parse_layout


def test_parse_layout_fields():
    lay = parse_layout("tp=1,dp=8,ep=8,pp=1")
    assert (lay.tp, lay.dp, lay.ep, lay.pp) == (1, 8, 8, 1)
    assert lay.batch == 1                      # default: one sequence per DP rank
    assert lay.gpus == 8 and lay.gpus_per_stage == 8
    assert lay.expert_tp == 1                  # tp*dp / ep
    assert lay.label() == "tp=1,dp=8,ep=8,pp=1"


def test_parse_layout_defaults_and_extras():
    lay = parse_layout("tp=8", batch=64, mtp_depth=2)
    assert (lay.tp, lay.dp, lay.ep, lay.pp, lay.batch, lay.mtp_depth, lay.mtp) == (8, 1, 1, 1, 64, 2, True)
    # whitespace and case are tolerated
    assert parse_layout(" TP=2 , dp=4 ,ep=8 ") == Layout(tp=2, dp=4, ep=8)


def test_sequences_count_batch_per_dp_rank():
    # DESIGN.md: "a unit with dp=8 and batch 64 holds 512 sequences"
    lay = parse_layout("tp=1,dp=8,ep=8", batch=64)
    assert lay.sequences == 512


def test_expert_tp_is_the_leftover_factor():
    lay = parse_layout("tp=4,dp=4,ep=8")
    assert lay.gpus_per_stage == 16 and lay.expert_tp == 2


def test_pp_multiplies_gpus():
    lay = parse_layout("tp=2,dp=2,ep=4,pp=3")
    assert lay.gpus_per_stage == 4 and lay.gpus == 12


@pytest.mark.parametrize("text, where", [
    ("tp=0", "tp"),                 # PositiveInt
    ("tp=-1", "tp"),
    ("tp=x", "tp"),                 # not a whole number
    ("tp=1.5", "tp"),
    ("foo=2", "foo"),               # unknown word
    ("tp", "tp"),                   # no '='
])
def test_parse_layout_errors(text, where):
    with pytest.raises(InputError) as info:
        parse_layout(text)
    line = info.value.one_line()
    assert "\n" not in line
    assert where in line
    assert "--layout" in line


@pytest.mark.parametrize("bad", ["tp=2,dp=2,ep=3", "tp=0", "foo=2", "tp=x", "tp=3", "ep=2"])
def test_estimate_cli_bad_layout_exits_2_with_one_line(bad):
    result = runner().invoke(app, ["estimate", "--model", "deepseek-v3", "--hardware", "h200-sxm",
                                      "--layout", bad, "--batch", "1", "--isl", "1024", "--osl", "128"],
                                env=ENV)
    assert result.exit_code == 2
    err = stderr_of(result)
    assert "Traceback" not in result.output and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "--layout" in lines[0]
    assert result.stdout == ""
