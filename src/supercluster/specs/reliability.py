"""Failure, recovery and checkpoint parameters. Every number finite and non-negative, or refused."""

from typing import Literal

from pydantic import Field, model_validator

from supercluster.specs.base import Spec

Finite = Field(ge=0, allow_inf_nan=False)


class ComponentFailure(Spec):
    category: str
    per: Literal["gpu", "node", "nic"]
    rate_per_hour: float = Field(ge=0, le=1.0, allow_inf_nan=False, description="failures per component-hour")
    detect_s: float = Field(ge=0, le=7 * 86400, allow_inf_nan=False)
    swap: bool = Field(description="recovery needs a node swapped in from the spare pool")


class Recovery(Spec):
    scheduler_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    process_start_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    init_s_per_10k_gpus: float = Field(ge=0, le=86400, allow_inf_nan=False)
    swap_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    repair_hours: float = Field(ge=0, le=24 * 365, allow_inf_nan=False)
    planned_per_day: float = Field(ge=0, le=100, allow_inf_nan=False)
    planned_downtime_s: float = Field(ge=0, le=86400, allow_inf_nan=False)
    straggler_slowdown: float = Field(ge=0, le=1.0, allow_inf_nan=False)
    straggler_sigma: float = Field(ge=0, le=1.0, allow_inf_nan=False)


class CheckpointSpec(Spec):
    bytes_per_param: float = Field(gt=0, le=64, allow_inf_nan=False)
    write_gb_per_s_per_gpu: float = Field(gt=0, le=1000, allow_inf_nan=False)
    read_gb_per_s_per_gpu: float = Field(gt=0, le=1000, allow_inf_nan=False)
    snapshot_gb_per_s_per_gpu: float = Field(gt=0, le=10000, allow_inf_nan=False)
    asynchronous: bool = True
    interval_s: float | None = Field(
        default=None, gt=0, le=30 * 86400, allow_inf_nan=False, description="blank = Daly's optimum"
    )


class InfantMortality(Spec):
    """Early-life failures: rates multiplied by 1 + (factor - 1) exp(-t / tau) (a decaying bathtub wall)."""

    factor: float = Field(default=1.0, ge=1.0, le=100, allow_inf_nan=False)
    tau_days: float = Field(default=7.0, gt=0, le=365, allow_inf_nan=False)


class ReliabilitySpec(Spec):
    components: dict[str, ComponentFailure]
    recovery: Recovery
    checkpoint: CheckpointSpec
    infant_mortality: InfantMortality = InfantMortality()
    rate_scale: float = Field(default=1.0, ge=0, le=1000, allow_inf_nan=False, description="multiplies every rate")
    spare_nodes: int | None = Field(default=None, ge=0, le=100000, description="blank = 1% of the job's nodes")
    source: str = ""

    @model_validator(mode="after")
    def _some_component(self) -> "ReliabilitySpec":
        if not self.components:
            raise ValueError("reliability needs at least one component")
        return self
