"""Shared pydantic base: frozen, no unknown keys, described fields, finite numbers, counts that are counts."""

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _takes_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_takes_bool(a) for a in typing.get_args(annotation))
    return typing.get_origin(annotation) is typing.Literal and any(
        isinstance(a, bool) for a in typing.get_args(annotation)
    )


class Spec(BaseModel):
    """Immutable typed input. Unknown keys are errors, not silently ignored; NaN and infinity are refused,
    and so is true/false where a number is wanted (pydantic would read `gpus: true` as 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if isinstance(value, bool) and field is not None and not _takes_bool(field.annotation):
                    raise ValueError(f"{name}: {str(value).lower()} is a yes/no, not a number")
        return data
