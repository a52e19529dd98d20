"""The strict pydantic base every input schema derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are immutable, models hash (so results can be cached), and
    NaN or infinity is never a valid number."""

    # defer_build: a schema's validator is built on first use, so a command pays only for the
    # input files it reads (start-up time matters: `planner size` answers in well under a second).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False,
                              defer_build=True)
