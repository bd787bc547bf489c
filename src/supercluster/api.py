"""Python API: the same operations as the CLI, returning typed results."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from supercluster import catalog, inputs
from supercluster.catalog import scenario_loader
from supercluster.errors import SuperclusterError, UnknownPresetError
from supercluster.perf import StepEstimate
from supercluster.plan import SpaceOptions, resolve, search

__all__ = [
    "build_scenario",
    "collective",
    "compare",
    "estimate",
    "fabric",
    "facility",
    "limits",
    "plan",
    "power_swings",
    "search",
    "simulate",
    "top500",
]
from supercluster.plan.explain import Explanation
from supercluster.plan.explain import explain as explain_layout
from supercluster.plan.search import SearchResult
from supercluster.specs import Assumption, PlanSpec, Scenario, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.units import DAY_S
from supercluster.validate.interval import Kind, StepInterval, step_interval

DEFAULT_SCENARIO = "colossus-grok"
# Without a batch, assume ~4M tokens per step (Llama 2's batch, arXiv:2307.09288 section 2.2).
DEFAULT_TOKENS_PER_STEP = 4 * 1024 * 1024
PLAN_KEYS = (
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "etp",
    "dp",
    "zero",
    "sequence_parallel",
    "micro_batch",
    "recompute",
    "recompute_fraction",
    "recompute_modules",
    "precision",
    "local_batch",
    "sites",
    "sync",
    "diloco_inner_steps",
)


@dataclass(frozen=True)
class EstimateResult:
    scenario: Scenario
    step: StepEstimate
    interval: StepInterval | None = None

    @property
    def time_to_train_s(self) -> float | None:
        tokens = self.scenario.workload.train_tokens
        return tokens / self.step.tokens_per_s if tokens else None

    def interval_dict(self) -> dict[str, Any]:
        """The 80% interval of the step time and the time to train, and how it was formed."""
        if self.interval is None:
            return {}
        lo, hi = self.interval.bounds(self.step.step_time_s)
        out: dict[str, Any] = {"step_time_interval_s": [lo, hi], "interval": self.interval.to_dict()}
        ttt = self.time_to_train_s
        if ttt:
            out["time_to_train_interval_days"] = [x / DAY_S for x in self.interval.bounds(ttt)]
        return out

    @property
    def gpu_hours(self) -> float | None:
        t = self.time_to_train_s
        return t * self.scenario.gpus / 3600.0 if t else None

    def to_dict(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "scenario": s.name,
            "model": s.workload.model.name,
            "params_total": s.workload.model.total_params,
            "params_active": s.workload.model.active_params,
            "system": s.system.id,
            "accelerator": s.system.accelerator.id,
            "software": s.software.id,
            "gpus": s.gpus,
            "seq_len": s.workload.seq,
            "global_batch": s.workload.global_batch,
            "train_tokens": s.workload.train_tokens,
            "time_to_train_s": self.time_to_train_s,
            "time_to_train_days": self.time_to_train_s / DAY_S if self.time_to_train_s else None,
            "gpu_hours": self.gpu_hours,
            **self.step.to_dict(),
            **self.interval_dict(),
            "scenario_assumptions": [a.model_dump() for a in s.assumptions],
        }


def apply_calibration(scn: Scenario, path: str | None) -> Scenario:
    """The scenario with its accelerator's efficiency table replaced by a calibration profile's."""
    if not path:
        return scn
    from supercluster.calibrate.profile import load

    prof = load(path)
    acc = scn.system.accelerator
    if prof.accelerator and prof.accelerator != acc.id:
        raise SuperclusterError(
            f"calibration profile {path} was measured on {prof.accelerator}; the system uses {acc.id}"
        )
    note = f"efficiency table from calibration profile {path} ({prof.device}, {prof.date})"
    if not prof.accelerator:
        note += f"; measured on a device that is not {acc.id}: for testing the pipeline only"
    system = scn.system.model_copy(update={"accelerator": acc.model_copy(update={"efficiency": prof.efficiency})})
    extra = Assumption(what="calibration", value=str(path), why=note)
    return scn.model_copy(update={"system": system, "assumptions": [*scn.assumptions, extra]})


def scenario_dict(scenario: str | None) -> dict[str, Any]:
    """The raw mapping of a preset or file, so CLI flags can override any part before validation."""
    ref = scenario or DEFAULT_SCENARIO
    if inputs.is_file_ref(ref):
        return scenario_loader.read_file(ref)
    if ref not in catalog.scenario_names():
        raise UnknownPresetError("scenario", ref, catalog.scenario_names())
    return scenario_loader.read_yaml(scenario_loader.preset_text(ref), ref)


def build_scenario(
    scenario: str | None = None,
    *,
    system: str | None = None,
    model: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    seq_len: int | None = None,
    train_tokens: float | None = None,
    calibration: str | None = None,
    software: str | None = None,
    **plan: Any,
) -> Scenario:
    """A scenario from a preset or file, with any part overridden.

    Naming a model or a system without a scenario starts from a blank plan rather than
    the default scenario's, so that a dense model does not inherit a MoE layout.
    """
    unknown = set(plan) - set(PLAN_KEYS)
    if unknown:
        raise SuperclusterError(f"unknown plan option(s) {sorted(unknown)}; valid: {', '.join(PLAN_KEYS)}")
    defaults: list[dict[str, str]] = []  # what the user did not choose, listed with the scenario's assumptions
    if scenario is None and not (model or system):
        defaults.append(
            {"what": "scenario", "value": DEFAULT_SCENARIO, "why": "the bundled default (no --scenario given)"}
        )
    if scenario is None and (model or system):
        base = copy.deepcopy(scenario_dict(DEFAULT_SCENARIO))
        data: dict[str, Any] = {
            "name": "custom",
            "workload": {"model": model or base["workload"]["model"]},
            "system": system or base["system"],
            "plan": {},
        }
        if system is None:
            data["gpus"] = base.get("gpus")
            defaults.append(
                {
                    "what": "system",
                    "value": f"{base['system']} ({base.get('gpus'):,} GPUs)",
                    "why": f"the default scenario's ({DEFAULT_SCENARIO}); no --system given",
                }
            )
        if model is None:
            defaults.append({"what": "model", "value": str(base["workload"]["model"]), "why": "the default scenario's"})
    else:
        data = copy.deepcopy(scenario_dict(scenario))
        scenario_loader.check_shape(data, str(scenario or DEFAULT_SCENARIO))
        if data.get("plan") is None:
            data["plan"] = {}
        if model:
            data["workload"]["model"] = model
        if system:
            data["system"] = system
            data.pop("gpus", None)
    wl = data["workload"]
    if seq_len is not None:
        wl["seq_len"] = seq_len
    if global_batch is not None:
        wl["global_batch"] = global_batch
    if train_tokens is not None:
        wl["train_tokens"] = train_tokens
    if "global_batch" not in wl:
        seq = wl.get("seq_len")
        if not (type(seq) is int and seq > 0):  # a bad seq_len is reported when the workload is built
            seq = scenario_loader.resolve_model(wl["model"]).seq_len
        wl["global_batch"] = max(1, DEFAULT_TOKENS_PER_STEP // seq)
        defaults.append(
            {
                "what": "global batch",
                "value": f"{wl['global_batch']:,} x {seq:,} tokens",
                "why": f"about {DEFAULT_TOKENS_PER_STEP / 2**20:.0f}M tokens per step (no --global-batch given), "
                "the order of recent dense pre-training runs (Llama 3 405B: 4M-16M)",
            }
        )
    if gpus is not None:
        data["gpus"] = gpus
    elif data.get("gpus") is None:
        defaults.append({"what": "gpus", "value": "all of the system's", "why": "no --gpus given"})
    if software is not None:
        data["software"] = software
    for key, value in plan.items():
        if value is not None:
            data["plan"][key] = value
    if defaults:
        data["assumptions"] = [*defaults, *(data.get("assumptions") or [])]
    return apply_calibration(scenario_loader.from_dict(data, data.get("name", "scenario")), calibration)


def simulate(
    scenario: str | None = None,
    *,
    trials: int = 200,
    seed: int = 0,
    days: float | None = None,
    tokens: float | None = None,
    checkpoint_interval_s: float | None = None,
    synchronous_checkpoint: bool = False,
    checkpoint_tier: str | None = None,
    spare_nodes: int | None = None,
    rate_scale: float | None = None,
    analyses: bool = True,
    fault_tolerance: str | None = None,
    collective_init: str | None = None,
    **overrides: Any,
) -> Any:
    """Monte Carlo of the whole run under failures (lifecycle.run.simulate_scenario). ``fault_tolerance``
    (global-restart or replica) and ``collective_init`` (linear or scalable) override the scenario's
    reliability.fault_tolerance."""
    from supercluster.lifecycle.run import simulate_scenario

    scn = build_scenario(scenario, **overrides)
    changes: dict[str, Any] = {}
    ck_update: dict[str, Any] = {}
    if synchronous_checkpoint:
        ck_update["asynchronous"] = False
    if checkpoint_tier is not None:
        if checkpoint_tier not in ("storage", "memory"):
            raise SuperclusterError(f"checkpoint tier must be storage or memory, got {checkpoint_tier!r}")
        ck_update["tier"] = checkpoint_tier
    if ck_update:
        changes["checkpoint"] = scn.reliability.checkpoint.model_copy(update=ck_update)
    ft_update: dict[str, Any] = {}
    if fault_tolerance is not None:
        if fault_tolerance not in ("global-restart", "replica"):
            raise SuperclusterError(f"fault tolerance must be global-restart or replica, got {fault_tolerance!r}")
        ft_update["mode"] = fault_tolerance
    if collective_init is not None:
        if collective_init not in ("linear", "scalable"):
            raise SuperclusterError(f"collective init must be linear or scalable, got {collective_init!r}")
        ft_update["init"] = collective_init
    if ft_update:
        changes["fault_tolerance"] = scn.reliability.fault_tolerance.model_copy(update=ft_update)
    if spare_nodes is not None:
        changes["spare_nodes"] = spare_nodes
    if rate_scale is not None:
        changes["rate_scale"] = rate_scale
    spec = scn.reliability
    if changes:
        data = {
            **spec.model_dump(),
            **{k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in changes.items()},
        }
        spec = catalog.loader.build(type(spec), data, "reliability")
    step = estimate(scn).step
    mem = step.memory
    if not mem.fits:
        raise SuperclusterError(
            f"the job cannot run: it needs {mem.total_bytes / 2**30:,.1f} GiB per GPU of "
            f"{mem.capacity_bytes / 2**30:,.0f} GiB on {scn.gpus:,} GPUs ({step.plan.label()}); use more GPUs, a "
            "shorter sequence or a smaller batch (`supercluster plan` finds layouts that fit)"
        )
    return simulate_scenario(
        scn,
        step,
        spec,
        trials=trials,
        seed=seed,
        days=days,
        tokens=tokens,
        interval_s=checkpoint_interval_s,
        analyses=analyses,
    )


def estimate(scn: Scenario) -> EstimateResult:
    step = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus)
    return EstimateResult(scn, step, interval_for(scn, step))


def interval_for(scn: Scenario, step: StepEstimate) -> StepInterval:
    """The error bars of a prediction (supercluster.validate.interval), with the model's own weak-scaling
    slowdown from the largest validated GPU count as the widening when the job is larger than any validated run."""
    return interval_of(scn.workload, scn.system, scn.software, scn.gpus, step)


def interval_of(
    workload: WorkloadSpec, system: SystemSpec, software: SoftwareProfile, gpus: int, step: StepEstimate
) -> StepInterval:
    """``interval_for`` from the three inputs and a step estimate (the report's scaling sweep has no scenario)."""
    kind = Kind(software.id, system.accelerator.id, gpus, workload.model.is_moe)
    first = step_interval(kind)
    if not first.extrapolated:
        return first
    return step_interval(kind, _weak_scaling_slowdown(workload, system, software, step, first.max_validated_gpus))


def _weak_scaling_slowdown(
    workload: WorkloadSpec, system: SystemSpec, software: SoftwareProfile, step: StepEstimate, gpus_ref: int
) -> float:
    """Step time at this GPU count over the step time of the same layout and per-GPU work at ``gpus_ref`` (fewer
    data-parallel replicas, the global batch shrunk with them), minus 1; 0 when no such smaller job exists."""
    p = step.plan
    per_replica = p.tp * p.pp * p.cp
    dp_ref = max(1, gpus_ref // per_replica)
    fold = p.tp // p.expert_tp  # an EP group tiles dp * cp * tp / etp ranks
    while dp_ref > 1 and p.ep > 1 and (dp_ref * p.cp * fold) % p.ep:
        dp_ref -= 1
    if dp_ref >= p.dp:
        return 0.0
    batch_ref = workload.global_batch * dp_ref // p.dp
    if batch_ref < dp_ref * p.micro_batch:
        return 0.0
    fixed = PlanSpec(**{**p.model_dump(), "dp": dp_ref})
    try:
        ref = resolve(
            fixed,
            workload.model_copy(update={"global_batch": batch_ref}),
            system,
            software,
            dp_ref * per_replica,
        )
    except SuperclusterError:
        return 0.0
    return max(0.0, step.step_time_s / ref.step_time_s - 1.0)


@dataclass(frozen=True)
class PlanResult:
    scenario: Scenario
    search: SearchResult
    explanations: list[Explanation]

    def to_dict(self) -> dict[str, Any]:
        s = self.scenario
        best = self.search.best
        ttt = s.workload.train_tokens / best.tokens_per_s if s.workload.train_tokens else None
        iv = interval_for(s, best)
        error_bars: dict[str, Any] = {
            "best_step_time_interval_s": list(iv.bounds(best.step_time_s)),
            "interval": iv.to_dict(),
        }
        if ttt:
            error_bars["best_time_to_train_interval_days"] = [x / DAY_S for x in iv.bounds(ttt)]
        return {
            "scenario": s.name,
            "model": s.workload.model.name,
            "system": s.system.id,
            "accelerator": s.system.accelerator.id,
            "gpus": s.gpus,
            "seq_len": s.workload.seq,
            "global_batch": s.workload.global_batch,
            "train_tokens": s.workload.train_tokens,
            "best_time_to_train_days": ttt / DAY_S if ttt else None,
            **error_bars,
            **self.search.to_dict(),
            "explanations": [e.to_dict() for e in self.explanations],
        }


def plan(
    scenario: str | None = None,
    *,
    top_k: int = 5,
    explain: str | None = None,
    headroom_gib: float = 0.0,
    allow_fp8: bool = True,
    system: str | None = None,
    model: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    seq_len: int | None = None,
    train_tokens: float | None = None,
    calibration: str | None = None,
    software: str | None = None,
    **fixed: Any,
) -> PlanResult:
    """The best layouts for a scenario; axes in ``fixed`` are constraints, the scenario's plan is explained."""
    scn = build_scenario(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        calibration=calibration,
        software=software,
    )
    constraints = catalog.loader.build(PlanSpec, {k: v for k, v in fixed.items() if v is not None}, "plan options")
    return plan_scenario(scn, constraints, top_k=top_k, explain=explain, headroom_gib=headroom_gib, allow_fp8=allow_fp8)


def plan_scenario(
    scn: Scenario,
    constraints: PlanSpec | None = None,
    *,
    top_k: int = 5,
    explain: str | None = None,
    headroom_gib: float = 0.0,
    allow_fp8: bool = True,
) -> PlanResult:
    """`plan` for a scenario already built (a file's, or one changed in code, as the build-out does)."""
    constraints = constraints or PlanSpec()
    result = search(
        scn.workload,
        scn.system,
        scn.software,
        scn.gpus,
        constraints,
        SpaceOptions(allow_fp8=allow_fp8),
        top_k=top_k,
        headroom_gib=headroom_gib,
    )
    if not result.top:
        least = result.batch.memory_bytes.min()
        raise SuperclusterError(
            f"no layout of {scn.gpus:,} GPUs fits in memory: the smallest needs {least / 2**30:.1f} GiB per GPU "
            f"of {result.batch.capacity_bytes / 2**30:.0f} GiB"
            + (f" with {headroom_gib:g} GiB headroom" if headroom_gib else "")
            + "; use more GPUs, a shorter sequence or a smaller batch"
        )
    wanted = [explain] if explain else []
    own = {k: v for k, v in scn.plan.model_dump().items() if v is not None}
    if not explain and own.get("tp") and own.get("pp"):
        wanted.append(" ".join(_layout_tokens(own)))
    return PlanResult(scn, result, [explain_layout(result, w) for w in wanted])


def _layout_tokens(knobs: dict[str, Any]) -> list[str]:
    names = {"micro_batch": "mb"}
    out = []
    for k, v in knobs.items():
        if k == "sequence_parallel":
            out.append("sp" if v else "nosp")
        elif k == "recompute":
            out.append(f"rc-{v}")
        elif k in ("precision", "sync"):
            out.append(str(v))
        elif k == "diloco_inner_steps":
            out.append(f"h{v}")
        else:
            out.append(f"{names.get(k, k)}{v}")
    return out


def facility(scenario: str | None = None, *, buildout: bool | None = None, **overrides: Any) -> dict[str, Any]:
    """Power (training, idle, HPL), capital cost, and the energy, water, CO2 and money of the run."""
    from supercluster.facility.buildout import buildout as build_phases
    from supercluster.facility.cost import capex, run_cost
    from supercluster.facility.power import cluster_power

    scn = build_scenario(scenario, **{k: v for k, v in overrides.items() if v is not None})
    # the facility's power and cost do not depend on the job; a job that cannot be laid out on this GPU
    # count only loses the run's energy and cost, with the reason shown
    est: EstimateResult | None = None
    run_note = None
    try:
        est = estimate(scn)
    except SuperclusterError as err:
        run_note = f"no run energy or cost: {err}"
    powers = {m: cluster_power(scn.system, scn.gpus, scn.facility, m) for m in ("training", "idle", "hpl")}
    cap = capex(scn.system, scn.gpus, powers["training"], scn.facility)
    out: dict[str, Any] = {
        "scenario": scn.name,
        "system": scn.system.id,
        "gpus": scn.gpus,
        "power": {m: p.to_dict() for m, p in powers.items()},
        "grid_mw": scn.system.facility.grid_mw,
        "capex": cap.to_dict(),
        "assumptions": scn.facility.sources,
        "pue_source": scn.system.facility.source,
    }
    if run_note:
        out["run_note"] = run_note
    if est is not None and est.time_to_train_s:
        cost = run_cost(powers["training"], cap, est.time_to_train_s, scn.workload.train_tokens or 0.0, scn.facility)
        out["run"] = {**cost.to_dict(), "note": "steady training with no failures (see `simulate` for ETTR)"}
    from supercluster.facility.buildout import recorded

    show = buildout if buildout is not None else recorded(scn.system.id)
    if show:
        out["buildout"] = [p.to_dict() for p in build_phases(scn, planner=best_on_phase)]
    return out


def best_on_phase(scn: Scenario) -> tuple[int, StepEstimate] | None:
    """The build-out's planner: the scenario's best BF16 layout on a phase's machine, on the largest GPU count
    at or below the phase's that the batch can be laid out on (None when there is none)."""
    from supercluster.plan.alternatives import nearest_gpu_counts

    try:
        return scn.gpus, plan_scenario(scn, top_k=1, allow_fp8=False).search.best
    except SuperclusterError:
        below = [g for g in nearest_gpu_counts(scn.workload, scn.system, scn.gpus, PlanSpec()) if g < scn.gpus]
        if not below:
            return None
        smaller = scn.model_copy(update={"gpus": below[0]})
        return below[0], plan_scenario(smaller, top_k=1, allow_fp8=False).search.best


def top500(system: str = "colossus-100k", *, gpus: int | None = None, list_name: str = "nov-2025") -> dict[str, Any]:
    """HPL estimate of a system from its specs, its power during HPL, and its rank on a bundled list."""
    from supercluster.facility.power import cluster_power
    from supercluster.hpl import estimate as hpl

    sys_ = catalog.system(system, gpus=gpus) if gpus is not None else catalog.system(system)
    n = sys_.gpus
    exclude = system if system in hpl.systems() else None
    est = hpl.estimate(sys_.accelerator.id, n, exclude=exclude)
    power = cluster_power(sys_, n, catalog.loader.facility(), "hpl")
    gfw = est.rmax_pf * 1e6 / power.facility_w if power.facility_w else None
    out = {
        "system": system,
        "name": sys_.name,
        "gpus": n,
        "hpl": est.to_dict(),
        "hpl_power_mw": power.facility_w / 1e6,
        "gflops_per_w": gfw,
        "ranking": hpl.ranking(est.rmax_pf, list_name, sys_.name),
        "validation": hpl.validation(),
    }
    if len(sys_.sites) > 1:
        # one HPL run spans one machine: across a WAN each panel broadcast and row swap would wait for the fibre
        big = max(sys_.sites, key=lambda s: s.gpus)
        alone = hpl.estimate(sys_.accelerator.id, big.gpus, exclude=exclude)
        out["largest_site"] = {"site": big.name, "gpus": big.gpus, "rmax_pf": alone.rmax_pf}
    return out


def compare(
    scenario: str | None = None,
    *,
    systems: list[str] | None = None,
    equal: str = "gpus",
    gpus: int | None = None,
    system: str | None = None,
    model: str | None = None,
    global_batch: int | None = None,
    seq_len: int | None = None,
    train_tokens: float | None = None,
    available: str | dict[str, Any] | None = None,
    start: str | None = None,
    bring_up_days: str | float | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The same job on other systems (supercluster.facility.compare); with ``available``, when each one would
    have finished counting its delivery date and bring-up (supercluster.facility.delivery)."""
    from supercluster.facility import delivery
    from supercluster.facility.compare import DEFAULT_SYSTEMS
    from supercluster.facility.compare import compare as run_compare

    if (start is not None or bring_up_days is not None) and available is None:
        raise SuperclusterError("--start and --bring-up-days need --available (dates per system, or 'catalog')")
    # parse the dates before any search runs, so a typo costs nothing
    dates = delivery.parse_available(available) if available is not None else None
    start_date = delivery.parse_date(start, "--start") if start is not None else None
    bring_up = delivery.parse_bring_up(bring_up_days) if bring_up_days is not None else None
    scn = build_scenario(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
    )
    result = run_compare(scn, tuple(systems or DEFAULT_SYSTEMS), equal=equal)  # type: ignore[arg-type]
    out = {"scenario": scn.name, **result.to_dict()}
    if dates is not None:
        if not result.variants:
            raise SuperclusterError("no compared system has a layout for this job, so none has a finish date")
        rows = [(v.system, v.accelerator, v.time_to_train_days) for v in result.variants]
        entries, filled = delivery.entries_for(rows, dates, bring_up)
        ttr = delivery.time_to_result(entries, start_date)
        ttr.assumptions.extend(filled)
        out["time_to_result"] = ttr.to_dict()
    return out


def fabric(system: str = "colossus-100k", *, gpus: int | None = None, scenario: str | None = None) -> dict[str, Any]:
    """Topology and bill of materials of a system; with a scenario, where its layout's groups sit."""
    from supercluster.fabric.placement import placement
    from supercluster.fabric.topology import bill_of_materials

    sys_ = catalog.system(system, gpus=gpus) if gpus is not None else catalog.system(system)
    out: dict[str, Any] = {
        "system": system,
        "name": sys_.name,
        "fabric": sys_.fabric.model_dump(),
        "bom": bill_of_materials(sys_, gpus).to_dict(),
    }
    if scenario:
        scn = build_scenario(scenario)
        est = estimate(scn).step
        out["placement"] = {
            "scenario": scn.name,
            "layout": est.plan.label(),
            "groups": placement(scn.system, est.plan, scn.software),
        }
    return out


def collective(system: str, *, op: str, nbytes: float, gpus: int, stride: int = 1) -> dict[str, Any]:
    from supercluster.fabric.collectives import CollectiveModel, span_of

    sys_ = catalog.system(system, gpus=max(gpus * stride, 1), generic=True)
    model = CollectiveModel(sys_)
    cands: dict[str, float] = {}
    span = span_of(gpus, stride, model.domain)
    if op == "p2p":
        crosses = stride >= model.domain
        t = float(model.p2p(nbytes, crosses))
        name, cands = ("network" if crosses else "nvlink"), {}
    elif op in ("all_to_all", "broadcast"):
        t = float(getattr(model, op)(nbytes, span))
        name, cands = ("pairwise" if op == "all_to_all" else "ring/Simple"), {}
    else:
        cands = {k: float(v) for k, v in model.algorithms(op, nbytes, span).items()}
        name, t = model.choose(op, nbytes, span)
    n = float(span.n)
    factor = {
        "all_reduce": 2 * (n - 1) / n,
        "all_gather": (n - 1) / n,
        "reduce_scatter": (n - 1) / n,
        "all_to_all": (n - 1) / n,
        "broadcast": 1.0,
        "p2p": 1.0,
    }[op]
    algbw = nbytes / t / 1e9 if t > 0 else 0.0
    return {
        "system": system,
        "op": op,
        "bytes": nbytes,
        "gpus": gpus,
        "stride": stride,
        "algorithm": name,
        "time_s": t,
        "algbw_gb_per_s": algbw,
        "busbw_gb_per_s": algbw * factor,
        "gpus_per_domain": int(float(span.k)),
        "gpus_spanned": int(float(span.extent)),
        "candidates": {k: (v if v != float("inf") else 1e300) for k, v in cands.items()},
    }


def power_swings(
    scenario: str | None = None,
    *,
    ramp_limit_mw_per_s: float | None = None,
    max_swing_mw: float | None = None,
    gpu_slew_ms: float | None = None,
    plot: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Facility power over a step and around restarts; swing, ramp, spectrum; the battery or GPU power floor that
    keeps the grid side within a ramp limit (supercluster.facility.swings)."""
    import math

    from supercluster.facility import swings
    from supercluster.lifecycle.run import mean_recovery_s, setup

    for name, value, hi in (
        ("ramp_limit_mw_per_s", ramp_limit_mw_per_s, 1e7),
        ("max_swing_mw", max_swing_mw, 1e6),
        ("gpu_slew_ms", gpu_slew_ms, 10_000.0),
    ):
        if value is not None and not (math.isfinite(value) and 0 < value <= hi):
            raise SuperclusterError(f"{name} must be a number in (0, {hi:g}], got {value}")
    scn = build_scenario(scenario, **{k: v for k, v in overrides.items() if v is not None})
    step = estimate(scn).step
    if not step.memory.fits:
        raise SuperclusterError(
            f"the job cannot run: it needs {step.memory.total_bytes / 2**30:,.1f} GiB per GPU of "
            f"{step.memory.capacity_bytes / 2**30:,.0f} GiB on {scn.gpus:,} GPUs ({step.plan.label()}); "
            "`supercluster plan` finds layouts that fit"
        )
    rs = setup(scn, step, scn.reliability, days=30)
    events = swings.EventInputs(mean_recovery_s(rs.inputs), rs.inputs.stall_s, rs.mtbf_s, rs.inputs.interval_s)
    assumptions = catalog.loader.power_swings()
    rep = swings.analyse(
        scn,
        step,
        events,
        assumptions,
        ramp_limit_w_per_s=None if ramp_limit_mw_per_s is None else ramp_limit_mw_per_s * 1e6,
        max_swing_w=None if max_swing_mw is None else max_swing_mw * 1e6,
        gpu_slew_s=None if gpu_slew_ms is None else gpu_slew_ms / 1e3,
        plot=plot,
    )
    fa = scn.facility.sources
    sources = {
        "compute-phase node draw": fa.get("power.training_node_fraction", ""),
        "communication and idle node draw": fa.get("power.idle_node_fraction", ""),
        "PUE": scn.system.facility.source or fa.get("pue", ""),
        "recovery and checkpoint stall": "supercluster.lifecycle (Llama 3 failure table, MegaScale restart)",
        **assumptions.sources,
    }
    return {
        "scenario": scn.name,
        "system": scn.system.id,
        "gpus": scn.gpus,
        "layout": step.plan.label(),
        **rep.to_dict(),
        "sources": sources,
    }


# ---- where scaling stops ----
def limits(
    *,
    accelerator: str = "h100-sxm-80gb",
    months: float = 3.0,
    min_flop: float = 1e24,
    max_flop: float = 1e32,
    points_per_decade: int = 4,
    system: str | None = None,
    software: str | None = None,
    aspect_ratio: float | None = None,
    seq_len: int | None = None,
    allow_fp8: bool = False,
) -> Any:
    """Best utilisation and time to train from ``min_flop`` to ``max_flop`` under a duration limit, planned with
    supercluster's own step model and planner: the utilisation knee, the latency wall, the fabric wall, and the
    figures of Erdil and Schneider-Joseph 2024 beside them (supercluster.limits)."""
    from supercluster.limits import run_limits
    from supercluster.specs.limits import LimitsQuestion

    catalog.accelerator(accelerator)  # an unknown name lists the valid ones
    if software is not None:
        catalog.software(software)
    question = catalog.loader.build(
        LimitsQuestion,
        {
            "accelerator": accelerator,
            "months": months,
            "min_flop": min_flop,
            "max_flop": max_flop,
            "points_per_decade": points_per_decade,
            "system": system,
            "software": software,
            "aspect_ratio": aspect_ratio,
            "seq_len": seq_len,
            "allow_fp8": allow_fp8,
        },
        "limits options",
    )
    return run_limits(question)


# ---- training across sites ----


def wan(
    scenario: str | None = None,
    *,
    loss: float = 0.05,
    system: str | None = None,
    model: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    seq_len: int | None = None,
    train_tokens: float | None = None,
    software: str | None = None,
    **plan: Any,
) -> Any:
    """The WAN capacity per site pair at which a run across sites loses less than ``loss`` of its one-site
    throughput, for each synchronisation scheme (supercluster.plan.wan_need)."""
    from supercluster.plan.wan_need import wan_report

    scn = build_scenario(
        scenario,
        system=system,
        model=model,
        gpus=gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        train_tokens=train_tokens,
        software=software,
        **plan,
    )
    return wan_report(scn.name, scn.workload, scn.system, scn.software, scn.gpus, scn.plan, loss)
