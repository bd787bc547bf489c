"""Energy, water, emissions and money of a training run, and the capital cost of the cluster.

Run cost = electricity + the run's share of straight-line depreciation of capital (servers, network,
facility), the amortised-cost method of Cottier et al. 2024 (arXiv:2405.21015, section 2), who find energy
to be 2-6% of the amortised cost of frontier training runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from supercluster.facility.power import PowerBreakdown
from supercluster.specs import SystemSpec
from supercluster.specs.facility import FacilityAssumptions
from supercluster.units import DAY_S


@dataclass(frozen=True)
class Capex:
    servers_usd: float
    network_usd: float
    facility_usd: float

    @property
    def total_usd(self) -> float:
        return self.servers_usd + self.network_usd + self.facility_usd

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "total_usd": self.total_usd}


def server_price(accelerator: str, fa: FacilityAssumptions) -> float:
    prices = fa.prices.server_usd_per_gpu
    return prices.get(accelerator, prices.get("h100-sxm-80gb", next(iter(prices.values()))))


def capex(system: SystemSpec, gpus: int, power: PowerBreakdown, fa: FacilityAssumptions) -> Capex:
    servers = gpus * server_price(system.accelerator.id, fa)
    return Capex(servers, servers * fa.prices.network_fraction_of_servers, power.it_w * fa.prices.facility_usd_per_w)


@dataclass(frozen=True)
class RunCost:
    wall_s: float
    tokens: float
    energy_mwh: float
    it_energy_mwh: float
    electricity_usd: float
    amortised_capex_usd: float
    water_m3: float
    co2_t: float

    @property
    def total_usd(self) -> float:
        return self.electricity_usd + self.amortised_capex_usd

    @property
    def energy_share(self) -> float:
        return self.electricity_usd / self.total_usd if self.total_usd else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "wall_days": self.wall_s / DAY_S,
            "total_usd": self.total_usd,
            "energy_share": self.energy_share,
            "kwh_per_million_tokens": self.energy_mwh * 1e3 / (self.tokens / 1e6) if self.tokens else None,
            "usd_per_million_tokens": self.total_usd / (self.tokens / 1e6) if self.tokens else None,
        }


def run_cost(power: PowerBreakdown, cap: Capex, wall_s: float, tokens: float, fa: FacilityAssumptions) -> RunCost:
    """Cost of occupying the cluster for ``wall_s`` at ``power``'s draw."""
    energy_mwh = power.facility_w * wall_s / 3.6e9
    it_mwh = power.it_w * wall_s / 3.6e9
    years = wall_s / (365.0 * DAY_S)
    return RunCost(
        wall_s=wall_s,
        tokens=tokens,
        energy_mwh=energy_mwh,
        it_energy_mwh=it_mwh,
        electricity_usd=energy_mwh * 1e3 * fa.prices.electricity_usd_per_kwh,
        amortised_capex_usd=cap.total_usd * years / fa.prices.depreciation_years,
        water_m3=it_mwh * 1e3 * fa.wue_l_per_kwh / 1e3,
        co2_t=energy_mwh * 1e3 * fa.kg_co2_per_kwh / 1e3,
    )
