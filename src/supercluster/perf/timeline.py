"""Event-level simulation of one training step on one representative pipeline.

Each pipeline stage runs Megatron-LM's schedule (Narayanan et al. 2021, arXiv:2104.04473,
section 2.2: 1F1B, and with v model chunks per stage the interleaved 1F1B whose warm-up is
2 (p - s - 1) + (v - 1) p micro-steps on stage s) as a list of forward and backward chunk
operations. An operation starts when its stage is free and its input has arrived: the forward of
a chunk waits for the previous stage (or, on stage 0, for the last stage's previous chunk), the
backward for the next stage; each hand-over costs a point-to-point send. After the pipeline drains,
the exposed gradient synchronisation and the optimizer update close the step. With 100,000 GPUs it
simulates one pipeline (one data-parallel replica): all replicas run the same schedule.

The analytical model (:mod:`supercluster.perf.batch`) approximates this with
m * T_max + (p - 1) / v * T_mean; the two agree within ``TOLERANCE`` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from supercluster.errors import SuperclusterError
from supercluster.perf import recompute_modules
from supercluster.perf.batch import PRECISION, RECOMPUTE, inner_terms
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.step import StepEstimate
from supercluster.specs import SoftwareProfile, SystemSpec, WorkloadSpec

TOLERANCE = 0.07  # relative difference allowed between the event simulation and the analytical step time


@dataclass(frozen=True)
class Op:
    stage: int
    chunk: int
    microbatch: int
    kind: str  # "F" or "B"
    start_s: float
    end_s: float


@dataclass
class StepTimeline:
    stages: int
    chunks: int
    microbatches: int
    ops: list[Op]
    p2p_s: float
    pipeline_s: float
    dp_s: float
    optimizer_s: float
    analytical_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return self.pipeline_s + self.dp_s + self.optimizer_s

    @property
    def relative_error(self) -> float:
        return self.total_s / self.analytical_s - 1.0


def schedule(stage: int, p: int, v: int, m: int) -> list[tuple[str, int, int]]:
    """(kind, chunk, microbatch) in the order stage ``stage`` runs them (Megatron interleaved 1F1B)."""
    total = m * v
    warm = min(p - stage - 1, m) if v == 1 else min((p - stage - 1) * 2 + (v - 1) * p, total)

    def fwd(k: int) -> tuple[str, int, int]:
        return ("F", (k // p) % v, (k // (p * v)) * p + k % p)

    def bwd(k: int) -> tuple[str, int, int]:
        return ("B", v - 1 - (k // p) % v, (k // (p * v)) * p + k % p)

    order = [fwd(k) for k in range(warm)]
    for j in range(total - warm):
        order.append(fwd(warm + j))
        order.append(bwd(j))
    order.extend(bwd(j) for j in range(total - warm, total))
    return order


def simulate_step(workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, est: StepEstimate) -> StepTimeline:
    plan = est.plan
    if plan.schedule != "1f1b":
        raise SuperclusterError(
            f"the event-level step simulation covers 1F1B and interleaved schedules; {plan.schedule} is "
            "modelled analytically only"
        )
    p, v, m = plan.pp, plan.vpp, est.microbatches
    # a stack that accumulates outside the schedule runs the step as passes of local_batch sequences: simulate
    # one pass and repeat it
    passes = 1
    if plan.local_batch is not None:
        passes = max(1, m * plan.micro_batch // plan.local_batch)
        m = plan.local_batch // plan.micro_batch
    model = workload.model
    comm = CollectiveModel(system)
    t = inner_terms(
        model,
        workload.seq,
        system,
        sw,
        comm,
        (
            plan.tp,
            plan.cp,
            plan.micro_batch,
            int(plan.sequence_parallel),
            RECOMPUTE.index(plan.recompute),
            PRECISION.index(plan.precision),
            plan.ep,
            plan.expert_tp,
        )
        # the selective recompute modules' mask where the plan has them (perf.recompute_modules)
        + ((recompute_modules.mask_of(plan.recompute_modules),) if plan.recompute_modules else ()),
    )
    share = model.moe_layers / model.layers
    layer_s = t["dense_total"] * (1 - share) + t["moe_total"] * share
    fwd_share = t["fwd"] / max(t["fwd"] + t["bwd_rc"], 1e-30)
    layer_f, layer_b = layer_s * fwd_share, layer_s * (1 - fwd_share)
    crosses = plan.tp * plan.cp * plan.dp >= system.domain_gpus
    p2p = float(comm.p2p(t["p2p_bytes"], crosses)) + t["p2p_ag"] if p > 1 else 0.0
    block = 0.0 if sw.pp_overlap else p2p  # a blocking send also holds the sender
    head_b = t["head_fb"] - t["head_f"]

    def duration(kind: str, stage: int, chunk: int) -> float:
        n = est.stage_layers[stage] / v
        d = n * (layer_f if kind == "F" else layer_b)
        if stage == 0 and chunk == 0:
            d += t["emb_s"] * (1 / 3 if kind == "F" else 2 / 3)
        if stage == p - 1 and chunk == v - 1:
            d += t["head_f"] if kind == "F" else head_b
        return d + (block if p > 1 else 0.0)

    orders = [schedule(s, p, v, m) for s in range(p)]
    pos = [0] * p
    free = [0.0] * p
    done: dict[tuple[str, int, int, int], float] = {}
    ops: list[Op] = []
    remaining = sum(len(o) for o in orders)
    while remaining:
        progressed = False
        for s in range(p):
            while pos[s] < len(orders[s]):
                kind, c, mb = orders[s][pos[s]]
                if kind == "F":
                    dep = ("F", s - 1, c, mb) if s > 0 else ("F", p - 1, c - 1, mb) if c > 0 else None
                else:
                    dep = ("B", s + 1, c, mb) if s < p - 1 else ("B", 0, c + 1, mb) if c < v - 1 else ("F", s, c, mb)
                if dep is not None and dep not in done:
                    break
                ready = done[dep] + (p2p if dep is not None and dep[1] != s else 0.0) if dep is not None else 0.0
                start = max(free[s], ready)
                end = start + duration(kind, s, c)
                free[s] = end
                done[(kind, s, c, mb)] = end
                ops.append(Op(s, c, mb, kind, start, end))
                pos[s] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            raise RuntimeError("pipeline schedule deadlocked")  # a bug, not bad input
    pipeline = max(free) * passes
    notes = [
        f"one representative pipeline of {p} stages x {v} chunks x {m} micro-batches "
        f"(tp {plan.tp} x cp {plan.cp} GPUs per stage); all {plan.dp} data-parallel replicas run alike"
    ]
    if passes > 1:
        notes.append(f"{passes} passes of local_batch {plan.local_batch}, each filling and draining the pipeline")
    analytical = est.step_time_s
    if est.straggler_in_step and est.straggler_s > 0:
        notes.append(
            f"GPUs simulated at their mean speed: the analytical step's {est.straggler_s:.3g} s wait for the slowest "
            "GPU (perf.straggler) is left out of the comparison"
        )
        analytical -= est.straggler_s
    return StepTimeline(p, v, m, ops, p2p, pipeline, est.dp_comm_s, est.optimizer_s, analytical, notes)
