"""Fill the knobs a plan leaves blank the way a tuning engineer would.

Blank knobs are searched jointly (micro-batch, interleaving, recompute, ZeRO
stage, and tp/pp when absent) with the step model; the fastest layout that fits
in memory wins, and every filled value is reported with the reason. When
nothing fits, the layout with the least memory is returned and flagged, so a
prediction is still made and the user sees why it would not run.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from supercluster.errors import SuperclusterError
from supercluster.perf.layout import precheck
from supercluster.perf.step import StepEstimate, estimate
from supercluster.specs import PlanSpec, ResolvedPlan, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.specs.plan import Recompute

MICRO_BATCHES = (1, 2, 4, 8, 16)
VPP_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
TP_CHOICES = (1, 2, 4, 8)
PP_CHOICES = (1, 2, 4, 8, 16, 32, 64)


def _divisors_of_batch(global_batch: int, dp: int) -> list[int]:
    per = global_batch // dp if global_batch % dp == 0 else 0
    return [b for b in MICRO_BATCHES if per and per % b == 0]


def candidates(plan: PlanSpec, workload: WorkloadSpec, system: SystemSpec, gpus: int) -> Iterator[ResolvedPlan]:
    model = workload.model
    cp = plan.cp or 1
    ep = plan.ep or 1
    tps = [plan.tp] if plan.tp else [t for t in TP_CHOICES if t <= system.domain_gpus]
    pps = [plan.pp] if plan.pp else [p for p in PP_CHOICES if p <= model.layers]
    precision = plan.precision or "bf16"
    for tp, pp in itertools.product(tps, pps):
        if gpus % (tp * pp * cp):
            continue
        dp = plan.dp or gpus // (tp * pp * cp)
        if tp * pp * cp * dp != gpus:
            continue
        mbs = [plan.micro_batch] if plan.micro_batch else _divisors_of_batch(workload.global_batch, dp)
        layers_per_rank = -(-model.layers // pp)
        vpps = [plan.vpp] if plan.vpp else [v for v in VPP_CHOICES if v == 1 or (pp > 1 and v <= layers_per_rank)]
        rcs: list[Recompute] = [plan.recompute] if plan.recompute else ["none", "selective", "full"]
        zeros = [plan.zero] if plan.zero is not None else [0, 1, 2]
        sps = [plan.sequence_parallel] if plan.sequence_parallel is not None else [tp > 1]
        for mb, vpp, rc, zero, sp in itertools.product(mbs, vpps, rcs, zeros, sps):
            if vpp > 1:
                m = workload.global_batch // (dp * mb)
                if m % pp:
                    continue
            yield ResolvedPlan(
                tp=tp,
                pp=pp,
                vpp=vpp,
                cp=cp,
                ep=ep,
                dp=dp,
                zero=zero,
                sequence_parallel=sp,
                micro_batch=mb,
                recompute=rc,
                precision=precision,
            )


def _reasons(plan: PlanSpec, chosen: ResolvedPlan, fits: bool) -> dict[str, str]:
    why = "fastest layout that fits in memory with a 5% margin" if fits else "least memory (no choice fits)"
    filled: dict[str, str] = {}
    given: dict[str, Any] = plan.model_dump()
    for knob in (
        "tp",
        "pp",
        "dp",
        "cp",
        "ep",
        "vpp",
        "micro_batch",
        "recompute",
        "zero",
        "sequence_parallel",
        "precision",
    ):
        if given.get(knob) is None:
            value = getattr(chosen, knob)
            if knob in ("cp", "ep") and value == 1:
                filled[knob] = "1 (not given: no context/expert parallelism)"
            elif knob == "dp":
                filled[knob] = f"{value} (gpus / (tp * pp * cp))"
            elif knob == "precision":
                filled[knob] = f"{value} (FP8 changes numerics: choose it explicitly)"
            elif knob == "sequence_parallel":
                filled[knob] = f"{value} (with tp > 1 it never costs time and saves memory)"
            else:
                filled[knob] = f"{value} ({why})"
    return filled


# A tuning engineer keeps a margin for allocator spikes and growing NCCL buffers: a layout
# that fits with less than this share of HBM to spare is taken only when nothing roomier fits.
COMFORT_HEADROOM_FRACTION = 0.05


def _comfortable(est: StepEstimate) -> bool:
    return est.memory.headroom_bytes >= COMFORT_HEADROOM_FRACTION * est.memory.capacity_bytes


def _better(a: StepEstimate, b: StepEstimate) -> bool:
    if _comfortable(a) != _comfortable(b):
        return _comfortable(a)
    return a.step_time_s < b.step_time_s


def resolve(plan: PlanSpec, workload: WorkloadSpec, system: SystemSpec, sw: SoftwareProfile, gpus: int) -> StepEstimate:
    """Estimate a plan, searching its blank knobs."""
    precheck(workload.model, plan, gpus, workload.global_batch)
    best: StepEstimate | None = None
    least: StepEstimate | None = None
    last_error: SuperclusterError | None = None
    tried = 0
    for cand in candidates(plan, workload, system, gpus):
        tried += 1
        try:
            est = estimate(workload, system, sw, cand, gpus)
        except SuperclusterError as err:
            last_error = err
            continue
        if est.memory.fits and (best is None or _better(est, best)):
            best = est
        if (
            least is None
            or est.memory.total_bytes < least.memory.total_bytes
            or (est.memory.total_bytes == least.memory.total_bytes and est.step_time_s < least.step_time_s)
        ):
            least = est
    chosen = best or least
    if chosen is None:
        if last_error is not None and tried == 1:
            raise last_error
        detail = f": {last_error}" if last_error else ""
        raise SuperclusterError(
            f"no valid layout for {gpus} GPUs from the given plan{detail}; fix tp/pp/cp or the GPU count"
        )
    filled = _reasons(plan, chosen.plan, best is not None)
    assumptions = list(chosen.assumptions)
    if best is None:
        assumptions.append("no layout fits in memory; the estimate is for the smallest one")
    return dataclasses.replace(chosen, filled=filled, assumptions=assumptions)
