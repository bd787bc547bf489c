"""Assumptions of the power-swing model (catalog/data/power_swings.yaml): GPU slew, grid response, bands, storage."""

from pydantic import Field, model_validator

from supercluster.specs.base import Spec


class FrequencyBand(Spec):
    name: str
    lo_hz: float = Field(ge=0.0, le=1e4, allow_inf_nan=False)
    hi_hz: float = Field(gt=0.0, le=1e4, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> "FrequencyBand":
        if self.hi_hz <= self.lo_hz:
            raise ValueError(f"band {self.name}: hi_hz({self.hi_hz:g}) must exceed lo_hz({self.lo_hz:g})")
        return self


class ReferenceStorage(Spec):
    """A battery installation the need is compared with (a yardstick, whatever the scenario)."""

    name: str
    power_w: float = Field(gt=0.0, le=1e11, allow_inf_nan=False)
    energy_j: float = Field(gt=0.0, le=1e15, allow_inf_nan=False)


class SwingAssumptions(Spec):
    gpu_slew_s: float = Field(gt=0.0, le=10.0, allow_inf_nan=False, description="time a GPU takes between levels")
    grid_response_s: float = Field(
        gt=0.0, le=86400.0, allow_inf_nan=False, description="default ramp limit: the full swing over this time"
    )
    bands: list[FrequencyBand] = Field(max_length=8)
    ramp_limits_w_per_s: list[float] = Field(min_length=1, max_length=12, description="rows of the sweep table")
    reference_storage: ReferenceStorage
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _positive_limits(self) -> "SwingAssumptions":
        if any(not 0 < r <= 1e13 for r in self.ramp_limits_w_per_s):
            raise ValueError("ramp_limits_mw_per_s must lie in (0, 1e7] MW/s")
        return self
