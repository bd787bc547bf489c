"""How much wide-area bandwidth a job across sites needs: the WAN capacity per site pair at which spanning the
sites costs less than a given share (5%) of the throughput the same job would reach in one building.

For each synchronisation scheme the layout is filled once (at the system's own WAN) and then held fixed; the
reference is that layout with all its replicas on one site (sites 1, the synchronous all-reduce). Throughput falls
by ``loss`` when the step grows to ``one_site_step / (1 - loss)``; the step model's WAN term falls monotonically
with the bandwidth, so the answer is found by bisection on the step model itself (perf.batch.evaluate), on a log
scale to a relative width of 1e-10. With no WAN overlap, that is the closed form

    bandwidth = bytes one site sends per step / (allowed extra time - latency per step)

(allreduce: 2 (s - 1) / s x parameters x gradient bytes every step; DiLoCo: the outer gradients every H steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from supercluster.errors import SuperclusterError
from supercluster.perf.batch import Candidates, evaluate
from supercluster.perf.wan import QUALITY, SYNC_NAMES, wan_bytes_per_step
from supercluster.plan.fill import resolve
from supercluster.specs import PlanSpec, ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec

DEFAULT_LOSS = 0.05
LOW_GBPS, HIGH_GBPS = 1e-6, 1e12  # the bracket of the bisection (1 kb/s to 1 Eb/s)
REL_TOL = 1e-10


@dataclass(frozen=True)
class WanNeed:
    """One synchronisation scheme: the step on one site, at the system's WAN, and the bandwidth for ``loss``."""

    sync: str
    sites: int
    inner_steps: int | None
    layout: str
    one_site_step_s: float
    step_s: float
    wan_exposed_s: float
    bytes_per_step: float
    needed_gbps: float | None
    why: str
    cost_usd_per_year: float | None = None

    @property
    def loss_at_system_wan(self) -> float:
        """Share of one-site throughput lost at the system's WAN: 1 - one_site_step / step."""
        return 1.0 - self.one_site_step_s / self.step_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "sites": self.sites,
            "inner_steps": self.inner_steps,
            "layout": self.layout,
            "one_site_step_s": self.one_site_step_s,
            "step_s": self.step_s,
            "wan_exposed_s": self.wan_exposed_s,
            "loss_at_system_wan": self.loss_at_system_wan,
            "wan_bytes_per_step": self.bytes_per_step,
            "needed_gbps": self.needed_gbps,
            "why": self.why,
            "cost_usd_per_year": self.cost_usd_per_year,
        }


@dataclass(frozen=True)
class WanReport:
    scenario: str
    system: str
    gpus: int
    sites: int
    loss: float
    wan_gbps: float
    distance_km: float
    latency_ms: float
    rows: list[WanNeed]
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "system": self.system,
            "gpus": self.gpus,
            "sites": self.sites,
            "loss": self.loss,
            "wan_gbps_per_site_pair": self.wan_gbps,
            "distance_km": self.distance_km,
            "latency_ms": self.latency_ms,
            "rows": [r.to_dict() for r in self.rows],
            "assumptions": self.assumptions,
        }


def _with_wan(system: SystemSpec, gbps: float) -> SystemSpec:
    assert system.wan is not None
    return system.model_copy(update={"wan": system.wan.model_copy(update={"gbps_per_site_pair": gbps})})


def _step(workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, plan: ResolvedPlan) -> float:
    return float(evaluate(workload, system, sw, Candidates.from_plans([plan])).step_time_s[0])


def needed_gbps(
    workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, plan: ResolvedPlan, loss: float = DEFAULT_LOSS
) -> tuple[float | None, float, str]:
    """(WAN Gb/s per site pair at which ``plan`` loses ``loss`` of its one-site throughput, or None; the one-site
    step; why). Bisection on the step model (module docstring)."""
    if not 0 < loss < 1:
        raise SuperclusterError(f"loss must be a share between 0 and 1 (0.05 = 5%), got {loss:g}")
    one_site = plan.model_copy(update={"sites": 1, "sync": "allreduce", "diloco_inner_steps": None})
    base = _step(workload, system, sw, one_site)
    target = base / (1.0 - loss)
    if plan.sites == 1:
        return 0.0, base, "one site: nothing crosses the WAN"
    best = _step(workload, _with_wan(system, HIGH_GBPS), sw, plan)
    if best > target:
        return (
            None,
            base,
            f"even an unlimited WAN leaves {(1 - base / best) * 100:.1f}% (latency and the split itself) above the "
            f"{loss * 100:g}% allowed",
        )
    lo, hi = math.log(LOW_GBPS), math.log(HIGH_GBPS)
    if _step(workload, _with_wan(system, LOW_GBPS), sw, plan) <= target:
        return LOW_GBPS, base, f"any WAN above {LOW_GBPS:g} Gb/s keeps the loss under {loss * 100:g}%"
    while hi - lo > REL_TOL:
        mid = 0.5 * (lo + hi)
        if _step(workload, _with_wan(system, math.exp(mid)), sw, plan) <= target:
            hi = mid
        else:
            lo = mid
    return math.exp(hi), base, f"throughput within {loss * 100:g}% of one site"


def wan_report(
    name: str,
    workload: WorkloadSpec,
    system: SystemSpec,
    sw: SoftwareProfile,
    gpus: int,
    plan: PlanSpec,
    loss: float = DEFAULT_LOSS,
) -> WanReport:
    """The bandwidth a run needs across ``plan.sites`` sites (2 when blank) for each synchronisation scheme (or the
    plan's own), the layout filled once per scheme at the system's WAN and then held fixed."""
    wan = system.wan
    if wan is None or system.site_count < 2:
        raise SuperclusterError(
            f"system {system.id} is one site: the WAN question needs a multi-site system (sites and a wan in its "
            "spec, e.g. fairwater-multisite)"
        )
    sites = plan.sites or 2
    syncs = [plan.sync] if plan.sync else list(SYNC_NAMES)
    params = float(workload.model.total_params + workload.model.mtp_params)
    rows = []
    notes = [
        f"the reference is the same layout on one site; throughput falls by {loss * 100:g}% when the step grows to "
        f"one-site step / {1 - loss:g}",
        "each scheme's layout is filled at the system's WAN and held fixed while the bandwidth varies",
    ]
    for sync in syncs:
        fixed = plan.model_copy(update={"sites": sites, "sync": sync})
        if sync == "allreduce":
            fixed = fixed.model_copy(update={"diloco_inner_steps": None})
        est = resolve(fixed, workload, system, sw, gpus)
        p = est.plan
        need, base, why = needed_gbps(workload, system, sw, p, loss)
        pairs = 1 if sites == 2 else sites  # the ring's links
        cost = need * wan.usd_per_gbps_year * pairs if need is not None and wan.usd_per_gbps_year else None
        rows.append(
            WanNeed(
                sync=sync,
                sites=sites,
                inner_steps=p.diloco_inner_steps,
                layout=p.label(),
                one_site_step_s=base,
                step_s=est.step_time_s,
                wan_exposed_s=est.wan_s,
                bytes_per_step=wan_bytes_per_step(sync, sites, p.diloco_inner_steps, params, sw.grad_reduce_bytes),
                needed_gbps=need,
                why=why,
                cost_usd_per_year=cost,
            )
        )
        if sync in QUALITY:
            notes.append(QUALITY[sync])
    return WanReport(
        scenario=name,
        system=system.id,
        gpus=gpus,
        sites=sites,
        loss=loss,
        wan_gbps=wan.gbps_per_site_pair,
        distance_km=wan.distance_km,
        latency_ms=wan.latency_s * 1e3,
        rows=rows,
        assumptions=notes,
    )
