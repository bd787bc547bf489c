"""Build-out phases (Colossus): GPUs and megawatts online against the power on site, and what each could train."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from supercluster import catalog
from supercluster.facility.power import cluster_power
from supercluster.perf import StepEstimate
from supercluster.specs import PlanSpec, Scenario


@cache
def phases_data() -> dict[str, Any]:
    text = resources.files("supercluster.catalog.data").joinpath("buildout.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def recorded(system_id: str) -> bool:
    """Whether the bundled build-out has a phase on this system (Colossus's three; not its successors)."""
    return system_id in {p["system"] for p in phases_data()["phases"]}


@dataclass
class Phase:
    name: str
    date: str
    system: str
    gpus: int
    it_mw: float
    facility_mw: float
    supply_mw: float
    supply: dict[str, float]
    job_gpus: int | None = None
    layout: str | None = None
    time_to_train_days: float | None = None
    mfu: float | None = None
    sources: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def margin_mw(self) -> float:
        return self.supply_mw - self.facility_mw

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "margin_mw": self.margin_mw}


# A planner for the build-out: the scenario on a phase's machine -> (GPUs the job uses, its best layout), or None
# when no layout of that size exists. The API layer passes one; the facility floor does not reach up to plan.
Planner = Callable[[Scenario], tuple[int, StepEstimate] | None]


def buildout(scn: Scenario, planner: Planner | None = None) -> list[Phase]:
    """Every phase of the bundled build-out; with a ``planner``, the scenario's workload planned on each."""
    out = []
    for ph in phases_data()["phases"]:
        system = catalog.system(ph["system"])
        gpus = int(ph["gpus"])
        pw = cluster_power(system, gpus, scn.facility, "training")
        supply = {k: float(v) for k, v in ph["power_mw"].items() if k != "batteries"}
        phase = Phase(
            ph["name"],
            str(ph["date"]),
            ph["system"],
            gpus,
            pw.it_w / 1e6,
            pw.facility_w / 1e6,
            sum(supply.values()),
            supply,
            sources=list(ph.get("sources", [])),
            assumed=list(ph.get("assumed", [])),
        )
        tokens = scn.workload.train_tokens
        if planner is not None and not tokens:
            phase.note = "no train_tokens in the scenario"
        elif planner is not None and tokens:
            # the scenario's own workload and software on this phase's machine; its layout is not imposed
            found = planner(scn.model_copy(update={"system": system, "gpus": gpus, "plan": PlanSpec()}))
            if found is None:
                phase.note = "no layout of this size for the scenario's batch"
                out.append(phase)
                continue
            job, best = found
            phase.job_gpus = job
            phase.layout = best.plan.label()
            phase.mfu = best.mfu
            phase.time_to_train_days = tokens / best.tokens_per_s / 86400
        out.append(phase)
    return out
