"""What-if: the same training job on other accelerators, at equal GPU count or equal facility power.

Each system gets the fastest BF16 layout the planner finds among the plausible ones (supercluster.plan.plausible:
pp at most the layer count, stages within 10% of an even split) on a GPU count that admits such layouts:

- equal GPUs: the job's own count, or the largest plausible count below it when the batch cannot be split on it;
- equal power: the counts whose facility power stays within the reference job's, the largest few of those that
  split as tp * cp * pp * dp with a plausible pp and dp dividing the batch; the fastest to train is kept.

Per-GPU power at the meter (supercluster.facility.power) is shown beside the node's published maximum per GPU, so
that each system's power can be read against its spec sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric.topology import max_gpus
from supercluster.facility.cost import capex, run_cost
from supercluster.facility.power import cluster_power, node_max_w
from supercluster.perf import StepEstimate
from supercluster.plan import search
from supercluster.plan.plausible import MAX_STAGE_IMBALANCE, plausible_gpu_counts, plausible_mask, stage_imbalance
from supercluster.plan.space import SpaceOptions
from supercluster.specs import PlanSpec, Scenario, SystemSpec
from supercluster.units import DAY_S

DEFAULT_SYSTEMS = ("dgx-h100-superpod", "h200-cluster", "dgx-b200-superpod", "gb200-nvl72-cluster")
# Work bound: at most this many GPU counts are searched per system, and at equal power the fastest of the first
# few that fit is kept (counts within this share of the power-limited count)
MAX_COUNTS = 6
POWER_CANDIDATES = 3
POWER_COUNT_SPAN = 0.10


@dataclass
class Variant:
    system: str
    accelerator: str
    gpus: int
    layout: str
    pp: int
    vpp: int
    layers: int
    stage_layers_min: int
    stage_layers_max: int
    stage_imbalance: float
    step_time_s: float
    mfu: float
    time_to_train_days: float
    facility_mw: float
    facility_w_per_gpu: float
    it_w_per_gpu: float
    node_max_w_per_gpu: float
    pue: float
    energy_mwh: float
    cost_usd: float
    capex_usd: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Comparison:
    model: str
    train_tokens: float
    global_batch: int
    seq_len: int
    equal: str
    reference_system: str
    reference_gpus: int
    reference_facility_mw: float
    variants: list[Variant]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "train_tokens": self.train_tokens,
            "global_batch": self.global_batch,
            "seq_len": self.seq_len,
            "equal": self.equal,
            "reference": {
                "system": self.reference_system,
                "gpus": self.reference_gpus,
                "facility_mw": self.reference_facility_mw,
            },
            "precision": "bf16",
            "max_stage_imbalance": MAX_STAGE_IMBALANCE,
            "variants": [v.to_dict() for v in self.variants],
            "skipped": dict(self.skipped),
        }


def _system(name: str, gpus: int) -> SystemSpec:
    """A preset at ``gpus`` (generic presets take any count; a named machine stays as built)."""
    if catalog.loader.raw("systems", name).get("generic"):
        return catalog.system(name, gpus=gpus)
    return catalog.system(name)


def _limit(name: str, scn: Scenario, equal: str, target_w: float) -> int:
    """The most GPUs this system may use: the job's count, or what the reference power feeds; never more than
    the preset's own machine (a named system) or its fabric (a generic one)."""
    base = catalog.system(name)
    cap = max_gpus(base)[0] if base.generic else base.gpus
    if equal == "gpus":
        return min(scn.gpus, cap)
    guess = scn.gpus
    for _ in range(3):  # per-GPU power depends a little on the count (switch tiers): settle it
        sys_g = _system(name, min(guess, cap))
        per_gpu = cluster_power(sys_g, min(guess, cap), scn.facility).facility_w / min(guess, cap)
        guess = max(1, int(target_w / per_gpu))
    return min(guess, cap)


def _best_plausible(scn: Scenario, system: SystemSpec, gpus: int) -> StepEstimate | None:
    """The fastest BF16 layout with a plausible pipeline split on ``gpus`` GPUs (None when none fits)."""
    sw = catalog.software(system.software)
    try:
        res = search(scn.workload, system, sw, gpus, PlanSpec(), SpaceOptions(allow_fp8=False), top_k=1)
    except SuperclusterError:
        return None
    if not res.top:
        return None
    c = res.batch.cand
    return res.best_where(plausible_mask(c.pp, c.vpp, scn.workload.model.layers))


def _variant(name: str, scn: Scenario, system: SystemSpec, gpus: int, est: StepEstimate, note: str) -> Variant:
    tokens = scn.workload.train_tokens or 0.0
    wall = tokens / est.tokens_per_s
    power = cluster_power(system, gpus, scn.facility)
    cap = capex(system, gpus, power, scn.facility)
    cost = run_cost(power, cap, wall, tokens, scn.facility)
    p = est.plan
    layers = scn.workload.model.layers
    return Variant(
        system=name,
        accelerator=system.accelerator.id,
        gpus=gpus,
        layout=p.label(),
        pp=p.pp,
        vpp=p.vpp,
        layers=layers,
        stage_layers_min=min(est.stage_layers),
        stage_layers_max=max(est.stage_layers),
        stage_imbalance=stage_imbalance(layers, p.pp * p.vpp),
        step_time_s=est.step_time_s,
        mfu=est.mfu,
        time_to_train_days=wall / DAY_S,
        facility_mw=power.facility_w / 1e6,
        facility_w_per_gpu=power.per_gpu_w,
        it_w_per_gpu=power.it_w / gpus,
        node_max_w_per_gpu=node_max_w(system) / system.gpus_per_node,
        pue=power.pue,
        energy_mwh=cost.energy_mwh,
        cost_usd=cost.total_usd,
        capex_usd=cap.total_usd,
        note=note,
    )


def _one(name: str, scn: Scenario, equal: str, target_w: float) -> tuple[Variant | None, str]:
    """The variant of one system, or None and why not."""
    limit = _limit(name, scn, equal, target_w)
    base = _system(name, limit)
    counts = plausible_gpu_counts(scn.workload, base, limit, MAX_COUNTS)
    if not counts:
        return None, f"no GPU count up to {limit:,} splits the batch of {scn.workload.global_batch:,} plausibly"
    found: list[tuple[int, SystemSpec, StepEstimate]] = []
    for g in counts:
        if equal == "power" and found and (len(found) >= POWER_CANDIDATES or g < (1 - POWER_COUNT_SPAN) * limit):
            break
        system = _system(name, g)
        if equal == "power" and cluster_power(system, g, scn.facility).facility_w > target_w:
            continue
        est = _best_plausible(scn, system, g)
        if est is None:
            continue
        found.append((g, system, est))
        if equal == "gpus":
            break
    if not found:
        return None, f"no plausible layout fits in memory on {', '.join(f'{g:,}' for g in counts)} GPUs"
    g, system, est = max(found, key=lambda f: f[2].tokens_per_s)  # the shortest time to train
    note = ""
    if equal == "gpus" and g != scn.gpus:
        note = f"{scn.gpus:,} GPUs admit no plausible layout for the batch; {g:,} used"
    elif equal == "power" and g < limit:
        note = f"{g:,} of the {limit:,} GPUs the power feeds: the fastest of the largest counts with a plausible layout"
    return _variant(name, scn, system, g, est, note), ""


def compare(
    scn: Scenario, systems: tuple[str, ...] = DEFAULT_SYSTEMS, equal: Literal["gpus", "power"] = "gpus"
) -> Comparison:
    """The scenario's job on each system, at equal GPU count or within the scenario's facility power."""
    if not scn.workload.train_tokens:
        raise SuperclusterError(
            "compare needs the run's tokens: give --train-tokens (e.g. 1.5e13) or a scenario with them"
        )
    if equal not in ("gpus", "power"):
        raise SuperclusterError(f"equal must be 'gpus' or 'power', got '{equal}'")
    for name in systems:
        catalog.loader.raw("systems", name)  # an unknown preset is named before any search runs
    ref_w = cluster_power(scn.system, scn.gpus, scn.facility).facility_w
    out, skipped = [], {}
    for name in systems:
        variant, why = _one(name, scn, equal, ref_w)
        if variant is None:
            skipped[name] = why
        else:
            out.append(variant)
    return Comparison(
        model=scn.workload.model.name,
        train_tokens=float(scn.workload.train_tokens),
        global_batch=scn.workload.global_batch,
        seq_len=scn.workload.seq,
        equal=equal,
        reference_system=scn.system.id,
        reference_gpus=scn.gpus,
        reference_facility_mw=ref_w / 1e6,
        variants=out,
        skipped=skipped,
    )
