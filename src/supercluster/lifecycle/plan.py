"""The checkpoint and restart plan of a job: sizes, times, interval and tier, each with what it rests on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from supercluster.lifecycle.checkpoint import (
    IntervalChoice,
    checkpoint_bytes,
    choose_interval,
    load_s,
    snapshot_s,
    stall_s,
    write_s,
)
from supercluster.lifecycle.failures import FailureRates, JobComponents
from supercluster.lifecycle.memtier import MemoryTier, memory_tier
from supercluster.lifecycle.storage import StoragePath, storage_path
from supercluster.perf.step import StepEstimate
from supercluster.specs import ReliabilitySpec, Scenario, SystemSpec
from supercluster.units import GB, HOUR_S, TB


@dataclass(frozen=True)
class Restart:
    """Time from a detected failure to training again, without the checkpoint load and a node swap."""

    scheduler_s: float
    process_start_s: float
    init_s: float

    @property
    def total_s(self) -> float:
        return self.scheduler_s + self.process_start_s + self.init_s


def init_s_per_10k_gpus(spec: ReliabilitySpec) -> float:
    """Collective initialisation per 10,000 GPUs: the linear law of ``recovery`` or, with ``fault_tolerance.init``
    scalable, NCCLX's (arXiv:2510.20171: "11x faster startup" at 96K GPUs, so 30 s / 11 per 10,000 GPUs)."""
    ft = spec.fault_tolerance
    return ft.scalable_init_s_per_10k_gpus if ft.init == "scalable" else spec.recovery.init_s_per_10k_gpus


def restart(spec: ReliabilitySpec, gpus: int) -> Restart:
    """Scheduler requeue + process start + collective initialisation, the last linear in the ranks.

    MegaScale (arXiv:2402.15627) brought initialisation under 30 s at more than 10,000 GPUs; NCCL's bootstrap
    all-gathers every rank's address around a ring, O(N) steps, so the time is scaled with the rank count
    (per 10,000 GPUs: ``init_s_per_10k_gpus``).
    """
    r = spec.recovery
    return Restart(r.scheduler_s, r.process_start_s, init_s_per_10k_gpus(spec) * gpus / 10_000)


@dataclass(frozen=True)
class CheckpointPlan:
    tier: str
    nbytes: float
    per_gpu_state_bytes: float
    path: StoragePath
    write_s: float  # drain to storage
    storage_load_s: float
    snapshot_s: float
    stall_s: float  # per checkpoint, as the simulation charges it
    drain_s: float  # background time before the checkpoint counts
    load_s: float  # read at a restart (from peers under the memory tier)
    interval: IntervalChoice
    memory: MemoryTier | None = None
    persist: IntervalChoice | None = None
    basis: list[dict[str, str]] = field(default_factory=list)


def _source(spec: ReliabilitySpec, key: str) -> str:
    return spec.sources.get(key, "")


def checkpoint_plan(
    scn: Scenario,
    step: StepEstimate,
    spec: ReliabilitySpec,
    gpus: int,
    system: SystemSpec,
    rates: FailureRates,
    comps: JobComponents,
    rs: Restart,
    interval_s: float | None,
) -> CheckpointPlan:
    """Bytes, stall, drain and load of one checkpoint, and the interval, for the storage or the memory tier."""
    ck = spec.checkpoint
    nbytes = checkpoint_bytes(scn.workload.model, ck)
    state = step.memory.weights_bytes + step.memory.optimizer_bytes
    path = storage_path(system, gpus)
    w, ld = write_s(nbytes, path), load_s(nbytes, path)
    snap = snapshot_s(state, ck)
    mtbf = rates.mtbf_s
    requested = interval_s or ck.interval_s
    mem: MemoryTier | None = None
    persist: IntervalChoice | None = None
    if ck.tier == "storage":
        stall = stall_s(snap, w, ck)
        drain = w if ck.asynchronous else 0.0
        choice = choose_interval(stall, drain, mtbf, requested)
        load = ld
    else:
        node_loss = float((rates.per_hour * rates.swap).sum()) / HOUR_S / max(comps.nodes, 1)
        share = float((rates.per_hour * rates.swap).sum() / max(rates.per_hour.sum(), 1e-300))
        window = float((rates.detect_s * rates.swap).max(initial=0.0)) + rs.total_s + spec.recovery.swap_s
        mem = memory_tier(system, state, ck, node_loss, window, share)
        drain = mem.copy_s if ck.asynchronous else 0.0
        base = snap if ck.asynchronous else snap + mem.copy_s
        choice = choose_interval(base, drain, mtbf, requested)
        persist = choose_interval(base, w, mtbf, ck.persist_interval_s)
        # the persistent checkpoints' blocking cost, spread over the in-memory ones between them
        stall = base + ck.coordination_s * choice.interval_s / persist.interval_s
        load = mem.load_s
    plan = CheckpointPlan(ck.tier, nbytes, state, path, w, ld, snap, stall, drain, load, choice, mem, persist)
    return replace(plan, basis=_basis(plan, spec, scn, system))


def _basis(plan: CheckpointPlan, spec: ReliabilitySpec, scn: Scenario, system: SystemSpec) -> list[dict[str, str]]:
    ck = spec.checkpoint
    items = [
        {
            "what": "checkpoint size",
            "value": f"{plan.nbytes / TB:,.2f} TB = {scn.workload.model.total_params / 1e9:,.0f}B parameters x "
            f"{ck.bytes_per_param:g} B",
            "source": _source(spec, "bytes_per_param"),
        },
        {
            "what": "checkpoint storage",
            "value": f"{system.id}: " + plan.path.describe(),
            "source": ("assumed: " if plan.path.assumed else "") + plan.path.source,
        },
        {
            "what": "write time",
            "value": f"{plan.write_s:,.1f} s = {plan.nbytes / TB:,.2f} TB / "
            f"{plan.path.write_bytes_per_s / TB:,.2f} TB/s",
            "source": "derived: bytes / min(aggregate storage write, node storage links x nodes)",
        },
        {
            "what": "stall per checkpoint",
            "value": f"{plan.stall_s:,.1f} s: snapshot {plan.snapshot_s:,.2f} s "
            f"({plan.per_gpu_state_bytes / GB:,.1f} GB per GPU at {ck.snapshot_gb_per_s_per_gpu:g} GB/s) + "
            f"{ck.coordination_s:g} s coordination"
            + (" per persistent checkpoint, spread over the in-memory ones" if plan.memory else "")
            + ("" if ck.asynchronous else " + the write (synchronous)"),
            "source": _source(spec, "coordination_s") + " | " + _source(spec, "snapshot_gb_per_s_per_gpu"),
        },
        {
            "what": "interval",
            "value": f"{plan.interval.interval_s / 60:,.2f} min of compute: {plan.interval.why()}",
            "source": "Daly 2006 (FGCS 22(3), eq. 37) on the stall and the job MTBF; interval >= drain time",
        },
        {
            "what": "load at restart",
            "value": f"{plan.load_s:,.1f} s" + (" from a peer's host memory" if plan.memory else " from storage"),
            "source": "derived: bytes / read bandwidth" if not plan.memory else _source(spec, "memory_tier"),
        },
    ]
    if plan.memory and plan.persist:
        m = plan.memory
        items.append(
            {
                "what": "in-memory tier",
                "value": f"{ck.memory_replicas} copies of {m.node_state_bytes / GB:,.1f} GB per node = "
                f"{m.host_memory_bytes / GB:,.1f} GB of host memory per node; copies drain in {m.copy_s:,.2f} s at "
                f"{m.fabric_bytes_per_s / GB:,.0f} GB/s per node; every copy lost in {m.group_loss_p:.1e} of "
                f"failures; persistent checkpoint every {plan.persist.interval_s / 60:,.0f} min ({plan.persist.why()})",
                "source": _source(spec, "memory_tier") + " | " + _source(spec, "persist_interval_s"),
            }
        )
    return items


def restart_basis(rs: Restart, spec: ReliabilitySpec, gpus: int) -> list[dict[str, str]]:
    return [
        {"what": "scheduler requeue", "value": f"{rs.scheduler_s:g} s", "source": _source(spec, "scheduler_s")},
        {"what": "process start", "value": f"{rs.process_start_s:g} s", "source": _source(spec, "process_start_s")},
        {
            "what": "collective initialisation",
            "value": f"{rs.init_s:,.0f} s = {init_s_per_10k_gpus(spec):g} s per 10,000 GPUs x {gpus / 10_000:,.2f}"
            + (" (scalable init)" if spec.fault_tolerance.init == "scalable" else ""),
            "source": _source(
                spec,
                "scalable_init_s_per_10k_gpus" if spec.fault_tolerance.init == "scalable" else "init_s_per_10k_gpus",
            ),
        },
    ]


def failure_basis(spec: ReliabilitySpec, comps: JobComponents, rates: FailureRates) -> list[dict[str, str]]:
    w = rates.per_hour / max(rates.per_hour.sum(), 1e-300)
    detect = float((w * rates.detect_s).sum())
    mtbf = rates.mtbf_s / HOUR_S
    return [
        {
            "what": "failure rates",
            "value": f"{rates.total_per_hour:,.2f} per hour on {comps.gpus:,} GPUs, {comps.nodes:,} nodes, "
            f"{comps.nics:,} NICs (x{spec.rate_scale:g}): job MTBF "
            + (f"{mtbf:,.2f} h" if math.isfinite(mtbf) else "none"),
            "source": spec.source + " (Table 5 counts per component-hour)",
        },
        {
            "what": "detection",
            "value": f"{detect:,.0f} s on average over causes ({rates.detect_s.min():g}-{rates.detect_s.max():g} s)",
            "source": _source(spec, "detection"),
        },
        {
            "what": "node swap, repair, maintenance",
            "value": f"swap {spec.recovery.swap_s:g} s, repair {spec.recovery.repair_hours:g} h, planned "
            f"{spec.recovery.planned_per_day:g}/day at {spec.recovery.planned_downtime_s / 60:g} min, stragglers "
            f"{spec.recovery.straggler_slowdown * 100:g}%",
            "source": _source(spec, "swap_s"),
        },
    ]


def as_dict(plan: CheckpointPlan, rs: Restart) -> dict[str, Any]:
    """The plan as JSON: every time in seconds, with the reason for the interval."""
    out: dict[str, Any] = {
        "tier": plan.tier,
        "bytes_tb": plan.nbytes / TB,
        "storage_write_tb_per_s": plan.path.storage_write_bytes_per_s / TB,
        "storage_read_tb_per_s": plan.path.storage_read_bytes_per_s / TB,
        "node_links_tb_per_s": plan.path.host_path_bytes_per_s / TB,
        "storage_assumed": plan.path.assumed,
        "write_s": plan.write_s,
        "snapshot_s": plan.snapshot_s,
        "stall_s": plan.stall_s,
        "drain_s": plan.drain_s,
        "load_s": plan.load_s,
        "interval_s": plan.interval.interval_s,
        "optimum_s": plan.interval.wanted_s,
        "interval_clamped": plan.interval.clamped,
        "interval_why": plan.interval.why(),
        "restart_s": {
            "scheduler": rs.scheduler_s,
            "process_start": rs.process_start_s,
            "collective_init": rs.init_s,
            "total": rs.total_s,
        },
    }
    if plan.memory and plan.persist:
        out["memory"] = {
            "host_memory_gb_per_node": plan.memory.host_memory_bytes / GB,
            "copy_s": plan.memory.copy_s,
            "group_loss_p": plan.memory.group_loss_p,
            "persist_interval_s": plan.persist.interval_s,
            "persist_clamped": plan.persist.clamped,
        }
    return out
