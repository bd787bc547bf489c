"""Shared pydantic base: frozen, no unknown keys, described fields."""

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Immutable typed input. Unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
