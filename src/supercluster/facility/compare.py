"""What-if: the same training job on other accelerators, at equal GPU count or equal facility power."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.facility.cost import capex, run_cost
from supercluster.facility.power import cluster_power
from supercluster.plan import search
from supercluster.plan.alternatives import nearest_gpu_counts
from supercluster.plan.space import SpaceOptions
from supercluster.specs import PlanSpec, Scenario

DEFAULT_SYSTEMS = ("dgx-h100-superpod", "h200-cluster", "dgx-b200-superpod", "gb200-nvl72-cluster")


@dataclass
class Variant:
    system: str
    accelerator: str
    gpus: int
    layout: str
    step_time_s: float
    mfu: float
    time_to_train_days: float
    facility_mw: float
    energy_mwh: float
    cost_usd: float
    capex_usd: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def smooth_count(limit: int, floor: int = 8) -> int:
    """Largest 2^a 3^b <= limit (a >= 3): GPU counts whose factors let the batch split evenly."""
    best, p2 = floor, 8
    while p2 <= limit:
        p3 = 1
        while p2 * p3 <= limit:
            best = max(best, p2 * p3)
            p3 *= 3
        p2 *= 2
    return best


def _size_for_power(system_name: str, scn: Scenario, target_w: float, base_gpus: int) -> int:
    sys_ = catalog.system(system_name, gpus=base_gpus)
    per_gpu = cluster_power(sys_, base_gpus, scn.facility).facility_w / base_gpus
    return smooth_count(int(target_w / per_gpu))


def compare(
    scn: Scenario, systems: tuple[str, ...] = DEFAULT_SYSTEMS, equal: Literal["gpus", "power"] = "gpus"
) -> list[Variant]:
    if not scn.workload.train_tokens:
        raise SuperclusterError("compare needs the run's train_tokens in the scenario")
    ref_power = cluster_power(scn.system, scn.gpus, scn.facility).facility_w
    out = []
    for name in systems:
        base = (
            catalog.system(name, gpus=scn.gpus)
            if catalog.loader.raw("systems", name).get("generic")
            else (catalog.system(name))
        )
        gpus = scn.gpus if equal == "gpus" else _size_for_power(name, scn, ref_power, scn.gpus)
        if gpus > base.gpus and not base.generic:
            gpus = base.gpus
        system = catalog.system(name, gpus=gpus) if base.generic else base
        sw = catalog.software(system.software)
        note = ""
        try:
            res = search(scn.workload, system, sw, gpus, PlanSpec(), SpaceOptions(allow_fp8=False), top_k=1)
        except SuperclusterError:
            below = [g for g in nearest_gpu_counts(scn.workload, system, gpus, PlanSpec()) if g < gpus]
            if not below:
                continue
            note = f"{gpus:,} GPUs admit no layout for the batch; {below[0]:,} used"
            gpus = below[0]
            system = catalog.system(name, gpus=gpus) if base.generic else base
            res = search(scn.workload, system, sw, gpus, PlanSpec(), SpaceOptions(allow_fp8=False), top_k=1)
        if not res.top:
            continue
        best = res.best
        wall = scn.workload.train_tokens / best.tokens_per_s
        power = cluster_power(system, gpus, scn.facility)
        cap = capex(system, gpus, power, scn.facility)
        cost = run_cost(power, cap, wall, scn.workload.train_tokens, scn.facility)
        out.append(
            Variant(
                name,
                system.accelerator.id,
                gpus,
                best.plan.label(),
                best.step_time_s,
                best.mfu,
                wall / 86400,
                power.facility_w / 1e6,
                cost.energy_mwh,
                cost.total_usd,
                cap.total_usd,
                note,
            )
        )
    return out
