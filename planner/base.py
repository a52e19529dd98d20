"""The strict pydantic base every input schema derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are immutable, and models hash (so results can be cached)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
