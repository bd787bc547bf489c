"""Whole-run simulation of a scenario: inputs from the step model and the failure catalog, outputs typed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.lifecycle.checkpoint import LONGEST_INTERVAL_S, daly_interval_s, expected_ettr, young_interval_s
from supercluster.lifecycle.failures import job_components, job_rates
from supercluster.lifecycle.memtier import node_fabric_bytes_per_s
from supercluster.lifecycle.montecarlo import RunInputs, RunResult, simulate
from supercluster.lifecycle.plan import (
    CheckpointPlan,
    Restart,
    as_dict,
    checkpoint_plan,
    failure_basis,
    restart,
    restart_basis,
)
from supercluster.lifecycle.tolerance import Contained, Option, contained_costs, first_order, split
from supercluster.perf.step import StepEstimate
from supercluster.specs import ReliabilitySpec, Scenario, SystemSpec
from supercluster.units import DAY_S, HOUR_S

CLUSTER_SIZES = (1024, 4096, 16384, 65536, 100_000, 200_000)  # and the job's own size when it is larger
INTERVAL_FACTORS = (0.25, 0.4, 0.6, 0.8, 1.0, 1.25, 1.6, 2.2, 3.0, 4.0)
# The sweeps run many small simulations: renewal-reward pricing takes over above this many trial-interruptions
# each (montecarlo.method_for; with at least RENEWAL_MIN_EVENTS per trial), from fewer cycles, so a million-GPU
# sweep stays within seconds.
ANALYSIS_BUDGET = 20_000
ANALYSIS_CYCLES = 50_000


def restart_s(spec: ReliabilitySpec, gpus: int) -> float:
    """Scheduler requeue + process start + collective initialisation, which grows with the job (MegaScale)."""
    return restart(spec, gpus).total_s


@dataclass(frozen=True)
class RunSetup:
    inputs: RunInputs
    checkpoint_bytes: float
    write_s: float
    mtbf_s: float
    assumptions: list[str]
    checkpoint: CheckpointPlan
    restart: Restart
    basis: list[dict[str, str]]
    contained: Contained | None = None  # failures that drop one replica (fault_tolerance mode replica)
    options: list[Option] = field(default_factory=list)  # the four ways of surviving failures, first order
    init: str = "linear"  # collective initialisation law of the restarts (fault_tolerance.init)


def replicas(scn: Scenario, step: StepEstimate, gpus: int) -> tuple[int, int]:
    """Data-parallel replicas of the job on ``gpus`` GPUs, and GPUs per replica (the layout's tp x pp x cp)."""
    per = max(1, scn.gpus // max(step.plan.dp, 1))
    return max(1, gpus // per), per


def peer_copy_s(step: StepEstimate, system: SystemSpec) -> float:
    """A rejoining replica's state from a healthy peer: each node's share of weights and optimizer over the node's
    compute-fabric bandwidth, every node at once (the memory tier's recovery path, lifecycle.memtier)."""
    state = (step.memory.weights_bytes + step.memory.optimizer_bytes) * system.gpus_per_node
    return state / node_fabric_bytes_per_s(system)


def setup(
    scn: Scenario,
    step: StepEstimate,
    spec: ReliabilitySpec,
    gpus: int | None = None,
    days: float | None = None,
    tokens: float | None = None,
    interval_s: float | None = None,
    system: SystemSpec | None = None,
) -> RunSetup:
    gpus = gpus or scn.gpus
    system = system or scn.system
    comps = job_components(system, gpus)
    all_rates = job_rates(spec, comps)
    rates, contained = all_rates, None
    dp, per_replica = replicas(scn, step, gpus)
    copy_s = peer_copy_s(step, system)
    if spec.fault_tolerance.mode == "replica" and dp > 1:
        rates, inside = split(all_rates, spec.fault_tolerance.contained)
        contained = contained_costs(spec, inside, dp, per_replica, step.step_time_s, copy_s)
    rs = restart(spec, gpus)
    plan = checkpoint_plan(scn, step, spec, gpus, system, rates, comps, rs, interval_s)
    mtbf = rates.mtbf_s
    tokens = tokens if tokens is not None else (None if days else scn.workload.train_tokens)
    if tokens is None and days is None:
        raise SuperclusterError("give --tokens or --days (the scenario sets no train_tokens)")
    if tokens is not None and (not math.isfinite(tokens) or tokens <= 0):
        raise SuperclusterError(f"tokens must be a positive number, got {tokens}")
    if days is not None and (not math.isfinite(days) or days <= 0 or days > 3650):
        raise SuperclusterError(f"days must be in (0, 3650], got {days}")
    work = tokens / step.tokens_per_s if tokens is not None else math.inf
    horizon = days * DAY_S if days is not None else math.inf
    r = spec.recovery
    swaps_per_repair = float((all_rates.per_hour * all_rates.swap).sum()) * r.repair_hours
    # Spare pool sized so waiting is rare: Poisson mean + 3 sigma of the swaps during one repair time.
    auto_spares = math.ceil(swaps_per_repair + 3.0 * math.sqrt(swaps_per_repair)) + 1
    spares = spec.spare_nodes if spec.spare_nodes is not None else auto_spares
    mem = plan.memory
    inputs = RunInputs(
        work_s=work,
        horizon_s=horizon,
        rates=rates,
        restart_s=rs.total_s,
        load_s=plan.load_s,
        swap_s=r.swap_s,
        stall_s=plan.stall_s,
        interval_s=plan.interval.interval_s,
        planned_per_s=r.planned_per_day / DAY_S,
        planned_downtime_s=r.planned_downtime_s,
        spares=spares,
        repair_s=r.repair_hours * HOUR_S,
        straggler_mean=r.straggler_slowdown,
        straggler_sigma=r.straggler_sigma,
        infant_factor=spec.infant_mortality.factor,
        infant_tau_s=spec.infant_mortality.tau_days * DAY_S,
        drain_s=plan.drain_s,
        fallback_p=mem.group_loss_p if mem else 0.0,
        fallback_load_s=plan.storage_load_s if mem else 0.0,
        fallback_window_s=plan.persist.interval_s if plan.persist else 0.0,
        tax=contained.tax if contained else 0.0,
        contained_per_s=contained.per_s if contained else 0.0,
    )
    ck = spec.checkpoint
    notes = [
        f"failure rates per component-hour from Llama 3's 54-day table, applied to {comps.gpus:,} GPUs, "
        f"{comps.nodes:,} nodes and {comps.nics:,} NICs (x{spec.rate_scale:g})",
        f"checkpoint {plan.nbytes / 1e12:.2f} TB ({ck.bytes_per_param:g} bytes/parameter), "
        f"{'asynchronous' if ck.asynchronous else 'synchronous'}, {plan.tier} tier: {plan.stall_s:.1f} s stall each, "
        f"write {plan.write_s:.1f} s and load {plan.storage_load_s:.1f} s at {system.id}'s checkpoint storage"
        + (" (assumed)" if plan.path.assumed else ""),
        f"restart {rs.total_s:.0f} s (scheduler {rs.scheduler_s:g} + start {rs.process_start_s:g} + init "
        f"{rs.init_s:.0f} s); node swap {r.swap_s:g} s from {spares} spare nodes"
        + (" (Poisson mean + 3 sigma of swaps per repair)" if spec.spare_nodes is None else "")
        + f", {r.repair_hours:g} h repair",
        f"planned maintenance {r.planned_per_day:g}/day at {r.planned_downtime_s / 60:g} min; stragglers "
        f"{r.straggler_slowdown * 100:g}% mean slowdown",
        f"checkpoint every {plan.interval.interval_s / 60:.1f} min of compute: {plan.interval.why()}",
    ]
    if spec.infant_mortality.factor > 1:
        notes.append(
            f"infant mortality: rates x{spec.infant_mortality.factor:g} at start, decaying over "
            f"{spec.infant_mortality.tau_days:g} days"
        )
    basis = failure_basis(spec, comps, rates) + plan.basis + restart_basis(rs, spec, gpus)
    if contained:
        notes.append(_contained_note(contained))
        basis += _contained_basis(spec, contained)
    options = first_order(
        spec, all_rates, gpus, dp, per_replica, step.step_time_s, copy_s, plan.stall_s, plan.drain_s, plan.load_s
    )
    return RunSetup(
        inputs, plan.nbytes, plan.write_s, mtbf, notes, plan, rs, basis, contained, options, spec.fault_tolerance.init
    )


def _contained_note(c: Contained) -> str:
    d = c.to_dict()
    return (
        f"replica fault tolerance: {d['per_hour']:,.2f} failures per hour drop one of {c.dp:,} replicas "
        f"({c.replica_gpus:,} GPUs) and cost the job {d['mean_cost_s']:,.1f} s each ({d['mean_hold_s']:,.1f} s until "
        f"dropped + a {c.step_s:,.2f} s step + {d['mean_replica_out_s']:,.0f} s out / dp): {c.tax * 100:.2f}% of "
        f"the time; {d['replicas_out_mean']:,.1f} replicas out on average"
    )


def _contained_basis(spec: ReliabilitySpec, c: Contained) -> list[dict[str, str]]:
    d = c.to_dict()
    src = spec.sources
    return [
        {
            "what": "failures inside one replica",
            "value": f"{d['per_hour']:,.2f} per hour ({', '.join(sorted(set(c.rates.categories)))}) of "
            f"{c.dp:,} replicas",
            "source": src.get("fault_tolerance_contained", ""),
        },
        {
            "what": "cost of each",
            "value": f"{d['mean_cost_s']:,.1f} s = {d['mean_hold_s']:,.1f} s until dropped + {c.step_s:,.2f} s step "
            f"+ {d['mean_replica_out_s']:,.0f} s out (init {c.replica_init_s:,.1f} s, peer copy "
            f"{c.peer_copy_s:,.1f} s) / {c.dp:,}: {c.tax * 100:.2f}% of the time",
            "source": src.get("fault_tolerance_replica", "") + " | " + src.get("heartbeat_timeout_s", ""),
        },
    ]


def _percentiles(x: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return {"mean": float(x.mean()), "p10": float(p10), "p50": float(p50), "p90": float(p90)}


@dataclass
class SimulationReport:
    scenario: str
    gpus: int
    setup: RunSetup
    result: RunResult
    step_time_s: float
    interval_analysis: dict[str, Any] = field(default_factory=dict)
    scaling: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        res, inp = self.result, self.setup.inputs
        window = math.isfinite(inp.horizon_s)
        gpu_hours = res.wall_s * self.gpus / HOUR_S
        return {
            "scenario": self.scenario,
            "gpus": self.gpus,
            "trials": res.trials,
            "mode": "window" if window else "to completion",
            "window_days": inp.horizon_s / DAY_S if window else None,
            "steady_step_time_s": self.step_time_s,
            "ideal_days": None if window else inp.work_s / DAY_S,
            "wall_days": _percentiles(res.wall_s / DAY_S),
            "ettr": _percentiles(res.ettr),
            "interruptions": _percentiles(res.interruptions.astype(float)),
            "planned": float(res.planned.mean()),
            "expected_interruptions": inp.rates.total_per_hour * (float(np.mean(res.wall_s)) / HOUR_S),
            "job_mtbf_h": self.setup.mtbf_s / HOUR_S,
            "by_category": res.by_category(),
            "by_component": res.by_component(),
            "gpu_hours": _percentiles(gpu_hours),
            "lost_work_h": float(res.lost_work_s.mean() / HOUR_S),
            "downtime_h": float(res.downtime_s.mean() / HOUR_S),
            "checkpoint_stall_h": float(res.stall_total_s.mean() / HOUR_S),
            "spare_wait_h": float(res.spare_wait_s.mean() / HOUR_S),
            "checkpoint_interval_min": inp.interval_s / 60,
            "checkpoint_tb": self.setup.checkpoint_bytes / 1e12,
            "checkpoint": as_dict(self.setup.checkpoint, self.setup.restart),
            "checkpoints_written": float(res.checkpoints.mean()),
            "min_checkpoint_gap_s": res.min_checkpoint_gap_s if math.isfinite(res.min_checkpoint_gap_s) else None,
            "memory_fallbacks": float(res.fallbacks.mean()),
            "ettr_basis": self.setup.basis,
            "interval_analysis": self.interval_analysis,
            "ettr_vs_cluster_size": self.scaling,
            "timeline": res.timeline,
            "assumptions": self.setup.assumptions,
            "method": res.method,
            "method_note": _method_note(res),
            "fault_tolerance": self._tolerance(),
            "recovery_options": [o.to_dict() for o in self.setup.options],
        }

    def _tolerance(self) -> dict[str, Any]:
        c, res = self.setup.contained, self.result
        out: dict[str, Any] = {"mode": "replica" if c else "global-restart", "init": self.setup.init}
        if c:
            share = c.rates.per_hour / max(c.rates.total_per_hour, 1e-300)
            cats: dict[str, float] = {}
            for cat, w in zip(c.rates.categories, share, strict=True):
                cats[cat] = cats.get(cat, 0.0) + float(w * res.contained.mean())
            out |= c.to_dict() | {
                "contained_failures": float(res.contained.mean()),
                "contained_by_category": cats,
                "contained_time_h": float(res.tax_s.mean() / HOUR_S),
            }
        return out


def _method_note(res: RunResult) -> str:
    if res.method == "renewal-reward":
        return (
            f"renewal-reward: {res.cycles:,} interruption cycles drawn, each trial's totals from the renewal-reward "
            "theorem and its central limit theorem (Ross, Stochastic Processes, Thm 3.6.1); the timeline shows the "
            "first interruptions of one trial replayed"
        )
    return "every interruption replayed, trial by trial"


def first_order_ettr(inp: RunInputs, mtbf_s: float) -> float:
    """Daly's first-order ETTR on the interruptions that stop the job (checkpoint.expected_ettr), times the share of
    time left by failures that drop one replica only (1 - tax, lifecycle.tolerance)."""
    return (1.0 - inp.tax) * expected_ettr(inp.interval_s, inp.stall_s, mean_recovery_s(inp), mtbf_s, inp.drain_s)


def interval_analysis(rs: RunSetup, trials: int, seed: int) -> dict[str, Any]:
    """Young, Daly and the simulated optimum side by side, on a 30-day window."""
    inp = rs.inputs
    delta, mtbf, recovery = inp.stall_s, rs.mtbf_s, mean_recovery_s(inp)
    daly = daly_interval_s(delta, mtbf) if math.isfinite(mtbf) else LONGEST_INTERVAL_S
    young = young_interval_s(delta, mtbf) if math.isfinite(mtbf) else LONGEST_INTERVAL_S
    window = replace_inputs(inp, horizon_s=30 * DAY_S, work_s=math.inf)
    curve = []
    # intervals shorter than the drain are impossible (a checkpoint cannot start before the last one is written)
    taus = sorted({max(daly * f, inp.drain_s) for f in INTERVAL_FACTORS})
    for tau in taus:
        sim = simulate(
            replace_inputs(window, interval_s=tau),
            trials=trials,
            seed=seed,
            timeline_trial=-1,
            budget=ANALYSIS_BUDGET,
            cycles=ANALYSIS_CYCLES,
        )
        curve.append(
            {
                "interval_min": tau / 60,
                "ettr_simulated": float(sim.ettr.mean()),
                "ettr_first_order": (1.0 - inp.tax) * expected_ettr(tau, delta, recovery, mtbf, inp.drain_s),
            }
        )
    best = max(curve, key=lambda c: c["ettr_simulated"])
    return {
        "young_min": young / 60,
        "daly_min": daly / 60,
        "drain_min": inp.drain_s / 60,
        "simulated_optimum_min": best["interval_min"],
        "curve": curve,
    }


def mean_recovery_s(inp: RunInputs) -> float:
    """Mean time from a failure to running again: detection + restart + load + swap share."""
    w = inp.rates.per_hour / max(inp.rates.per_hour.sum(), 1e-300)
    return float((w * (inp.rates.detect_s + inp.swap_s * inp.rates.swap)).sum()) + inp.restart_s + inp.load_s


def replace_inputs(inp: RunInputs, **kw: Any) -> RunInputs:
    from dataclasses import replace

    return replace(inp, **kw)


def scaling(scn: Scenario, step: StepEstimate, spec: ReliabilitySpec, trials: int, seed: int) -> list[dict[str, Any]]:
    """ETTR of the same job shape on 1k to 200k GPUs of this system (30-day window, Daly's interval clamped to the
    drain). Storage given per block of GPUs grows with the GPUs; a fixed aggregate stays the system's."""
    rows = []
    sizes = CLUSTER_SIZES + ((scn.gpus,) if scn.gpus > CLUSTER_SIZES[-1] else ())
    for n in sizes:
        rs = setup(scn, step, spec, gpus=n, days=30, system=scn.system)
        sim = simulate(
            rs.inputs, trials=trials, seed=seed, timeline_trial=-1, budget=ANALYSIS_BUDGET, cycles=ANALYSIS_CYCLES
        )
        rows.append(
            {
                "gpus": n,
                "job_mtbf_h": rs.mtbf_s / HOUR_S,
                "interval_min": rs.inputs.interval_s / 60,
                "write_s": rs.write_s,
                "interval_clamped": rs.checkpoint.interval.clamped,
                "ettr_first_order": first_order_ettr(rs.inputs, rs.mtbf_s),
                "ettr_simulated": float(sim.ettr.mean()),
                "interruptions_per_day": float(sim.interruptions.mean() / 30),
            }
        )
    return rows


def simulate_scenario(
    scn: Scenario,
    step: StepEstimate,
    spec: ReliabilitySpec,
    trials: int = 200,
    seed: int = 0,
    days: float | None = None,
    tokens: float | None = None,
    interval_s: float | None = None,
    analyses: bool = True,
) -> SimulationReport:
    rs = setup(scn, step, spec, days=days, tokens=tokens, interval_s=interval_s)
    result = simulate(rs.inputs, trials=trials, seed=seed)
    report = SimulationReport(scn.name, scn.gpus, rs, result, step.step_time_s)
    if analyses:
        small = max(20, min(100, trials // 4))
        report.interval_analysis = interval_analysis(rs, small, seed)
        report.scaling = scaling(scn, step, spec, max(10, small // 4), seed)
    return report
