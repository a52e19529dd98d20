"""The strict pydantic base every input schema derives from."""

from __future__ import annotations

import types
import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from planner.errors import InputError
from planner.inputs.limits import describe_ranges

BOOL_CONFUSION = "bool_number_confusion"


class StrictModel(BaseModel):
    """Unknown keys are errors, values are immutable, models hash (so results can be cached), and
    NaN or infinity is never a valid number."""

    # defer_build: a schema's validator is built on first use, so a command pays only for the
    # input files it reads (start-up time matters: `planner size` answers in well under a second).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False,
                              defer_build=True, json_schema_extra=describe_ranges)

    # field name (and alias) -> "bool" (only true/false), "number" (no true/false) or "" (anything)
    _kinds: ClassVar[dict[str, str]]

    @model_validator(mode="before")
    @classmethod
    def _no_bool_number_confusion(cls, data: Any) -> Any:
        """true is not the integer 1 and "no" is not a boolean.

        pydantic's lax mode (which keeps unit strings such as '128k' or '4.8 TB/s' and TOML's
        lists for tuples working) would accept both: `workload.isl=true` ran with ISL 1 and
        `fits = "no"` passed as a boolean. Global strict mode would refuse those strings and
        lists too, so only this one confusion is refused here, for every input schema. (A model
        validator, not a field validator: pydantic forbids before-validators on the
        discriminator field of the attention kinds.)"""
        if not isinstance(data, dict):
            return data
        kinds = cls.__dict__.get("_kinds")
        if kinds is None:
            kinds = {}
            for name, f in cls.model_fields.items():
                kinds[name] = kinds[f.alias or name] = _kind(f.annotation)
            cls._kinds = kinds
        for key, value in data.items():
            kind = kinds.get(key, "")
            if kind == "bool" and value is not None and not isinstance(value, bool):
                raise PydanticCustomError(BOOL_CONFUSION, "{field}: Input should be true or false, not {value}",
                                          {"field": key, "value": repr(value)[:40]})
            if kind == "number" and (isinstance(value, bool) or (
                    isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value))):
                raise PydanticCustomError(BOOL_CONFUSION, "{field}: Input should be a number, not true or false",
                                          {"field": key})
        return data


def _model_at(cls: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The nested model class a dotted location names (through Optional, unions and tags)."""
    current: type[BaseModel] | None = cls
    for part in path:
        if current is None:
            return None
        by_name = {f.alias or name: f for name, f in current.model_fields.items()} | dict(current.model_fields)
        field = by_name.get(part)
        if field is None:
            continue                      # a union tag ("gqa") or a list index: stay on this model
        models = [t for t in _leaves(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        current = models[0] if len(models) == 1 else None
    return current


def nearest_key(cls: type[BaseModel], loc: list[str]) -> str | None:
    """The valid key closest to an unknown one (`max_gpu` -> `max_gpus`), or None."""
    import difflib
    model = _model_at(cls, loc[:-1])
    if model is None or not loc:
        return None
    names = {f.alias or name for name, f in model.model_fields.items()} | set(model.model_fields)
    match = difflib.get_close_matches(loc[-1], sorted(names), n=1, cutoff=0.6)
    return match[0] if match else None


def validation_error(exc: ValidationError, source: str, prefix: str = "",
                     cls: type[BaseModel] | None = None) -> InputError:
    """The first pydantic error as one line: source, dotted field, message (for an unknown key,
    the nearest valid one when `cls` is given)."""
    err = exc.errors()[0]
    parts = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    if err["type"] == BOOL_CONFUSION:         # raised for the whole table: the field is in the context
        parts.append(err["ctx"]["field"])
        err["msg"] = err["msg"].split(": ", 1)[1]
    loc = ".".join(parts)
    field = ".".join(p for p in (prefix, loc) if p)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        near = nearest_key(cls, parts) if cls is not None else None
        if near:
            msg += f" (did you mean `{near}`?)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    extra = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return InputError(msg + extra, source=source, field=field or None)


def _leaves(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (through Optional, unions, Annotated and containers)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _leaves(typing.get_args(annotation)[0])
    if origin is Literal:
        return {type(v) for v in typing.get_args(annotation)}
    if origin in (typing.Union, types.UnionType, tuple, list):
        return set().union(*(_leaves(a) for a in typing.get_args(annotation) if a is not Ellipsis))
    return {annotation}


def _kind(annotation: Any) -> str:
    leaves = _leaves(annotation) - {type(None)}
    if leaves == {bool}:
        return "bool"
    if leaves and leaves <= {int, float}:
        return "number"
    return ""
