"""All terminal output: one console module and one view per output. Commands call these names."""

from cli.render.check import check_results
from cli.render.console import error, json_out, note, text_out, text_stream
from cli.render.diff import diff_markdown, diff_table
from cli.render.hardware import hardware_list, hardware_show
from cli.render.models import model_list, model_show
from cli.render.plan import kv, plan, plan_markdown
from cli.render.train import train
from cli.render.validate import validation
from cli.render.whatif import (
           balance,
           compare_table,
           frontier_table,
           progress,
           sweep_csv,
           sweep_csv_pieces,
           sweep_jsonl,
           sweep_jsonl_pieces,
           sweep_table,
)

__all__ = ["balance", "check_results", "compare_table", "diff_markdown", "diff_table", "error", "frontier_table",
           "hardware_list", "hardware_show", "json_out", "kv", "model_list", "model_show", "note", "plan",
           "plan_markdown", "progress", "sweep_csv", "sweep_csv_pieces", "sweep_jsonl",
           "sweep_jsonl_pieces", "sweep_table", "text_out", "text_stream", "train", "validation"]
