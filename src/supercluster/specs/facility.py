"""Facility assumptions: power fractions, PUE, prices, water, emissions. All overridable per scenario."""

from pydantic import Field

from supercluster.specs.base import Spec


def _f(lo: float, hi: float, desc: str = "") -> float:
    return Field(ge=lo, le=hi, allow_inf_nan=False, description=desc)  # type: ignore[no-any-return]


class PowerAssumptions(Spec):
    training_node_fraction: float = _f(0.05, 1.5, "node draw in training, of its rated maximum")
    idle_node_fraction: float = _f(0.0, 1.0, "node draw while the job is down")
    hpl_node_fraction: float = _f(0.05, 1.5, "node draw during HPL")
    storage_fraction: float = _f(0.0, 1.0, "storage and service nodes, of compute power")
    cdu_w_per_rack: float = _f(0.0, 100_000.0)
    gpus_per_rack: int = Field(ge=1, le=1024)


class Prices(Spec):
    electricity_usd_per_kwh: float = _f(0.0, 10.0)
    server_usd_per_gpu: dict[str, float] = Field(description="server cost per GPU, by accelerator")
    network_fraction_of_servers: float = _f(0.0, 5.0)
    facility_usd_per_w: float = _f(0.0, 1000.0)
    depreciation_years: float = _f(0.1, 50.0)


class FacilityAssumptions(Spec):
    power: PowerAssumptions
    pue_liquid: float = _f(1.0, 3.0)
    pue_air: float = _f(1.0, 3.0)
    pue: float | None = Field(default=None, ge=1.0, le=3.0, allow_inf_nan=False, description="override")
    prices: Prices
    wue_l_per_kwh: float = _f(0.0, 100.0)
    kg_co2_per_kwh: float = _f(0.0, 5.0)
    sources: dict[str, str] = Field(default_factory=dict)
