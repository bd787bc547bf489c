"""Fill the knobs a plan leaves blank the way a tuning engineer would.

The blank knobs are searched jointly with the planner's vectorised evaluation:
the fastest layout that fits with a 5% memory margin wins; failing that the
fastest that fits at all; failing that the one with least memory, flagged, so a
prediction is still made and the user sees why it would not run. Context and
expert parallelism stay 1 and precision BF16 unless given (they change the
run's numerics or its data layout, so they are the user's call).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.perf import vpp_split
from supercluster.perf.batch import BatchResult, evaluate
from supercluster.perf.layout import precheck
from supercluster.perf.step import StepEstimate, from_batch
from supercluster.plan import sites as site_plan
from supercluster.plan.alternatives import no_layout_message
from supercluster.plan.space import SpaceOptions, enumerate_space
from supercluster.rules import check_sites, check_vpp_split
from supercluster.specs import PlanSpec, SoftwareProfile, SystemSpec, WorkloadSpec

# A tuning engineer keeps a margin for allocator spikes and growing NCCL buffers: a layout
# that fits with less than this share of HBM to spare is taken only when nothing roomier fits.
COMFORT_HEADROOM_FRACTION = 0.05
FILL_OPTIONS = SpaceOptions(allow_fp8=False, zero_stages=(0, 1, 2))

# How a pool of layouts that fit becomes one: given the evaluated batch, the pool's indices, the plan as given
# and the stack, the chosen index and, per blank knob a rule set, the reason printed for it (the other blank knobs
# print the pool's "fastest layout that fits" reason). The planner's rule is the fastest; a measured row's blank
# knobs are filled by supercluster.validate.fill_rule.
Chooser = Callable[[BatchResult, np.ndarray, PlanSpec, SoftwareProfile], tuple[int, dict[str, str]]]


def fastest(res: BatchResult, pool: np.ndarray, plan: PlanSpec, sw: SoftwareProfile) -> tuple[int, dict[str, str]]:
    """The fastest layout of the pool (what a tuning engineer searching every knob would run)."""
    return int(pool[np.argmin(res.step_time_s[pool])]), {}


def _reasons(
    plan: PlanSpec, chosen: StepEstimate, why: str, sw: SoftwareProfile, ruled: dict[str, str]
) -> dict[str, str]:
    filled: dict[str, str] = {}
    given = plan.model_dump()
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
        "schedule",
    ):
        if given.get(knob) is not None:
            continue
        value = getattr(chosen.plan, knob)
        if knob in ruled:
            filled[knob] = f"{value} ({ruled[knob]})"
        elif knob in ("cp", "ep") and value == 1:
            filled[knob] = "1 (not given: no context/expert parallelism)"
        elif knob == "dp":
            filled[knob] = f"{value} (gpus / (tp * pp * cp))"
        elif knob == "precision":
            filled[knob] = f"{value} (FP8 changes numerics: choose it explicitly)"
        elif knob == "sequence_parallel" and chosen.plan.tp > 1 and not sw.has_sequence_parallel:
            filled[knob] = f"{value} (the stack {sw.id} has no sequence parallelism)"
        elif knob == "sequence_parallel":
            filled[knob] = f"{value} (with tp > 1 it never costs time and saves memory)"
        elif knob == "vpp" and chosen.plan.pp > 1 and not sw.has_interleaved_schedule:
            filled[knob] = f"{value} (the stack {sw.id} has no interleaved schedule)"
        else:
            filled[knob] = f"{value} ({why})"
    if plan.etp is None and chosen.plan.etp is not None:
        filled["etp"] = (
            f"{chosen.plan.etp} (ep({chosen.plan.ep}) does not divide dp * cp: the stack folds expert parallelism "
            f"over tp / etp too, with the widest expert TP that fits)"
        )
    return filled


def resolve(
    plan: PlanSpec,
    workload: WorkloadSpec,
    system: SystemSpec,
    sw: SoftwareProfile,
    gpus: int,
    choose: Chooser = fastest,
) -> StepEstimate:
    """Estimate a plan, searching its blank knobs; ``choose`` picks among the layouts that fit (the fastest
    unless told otherwise)."""
    precheck(workload.model, plan, gpus, workload.global_batch, system.accelerator, workload.seq)
    check_vpp_split(workload.model, plan, sw)
    check_sites(plan, system, gpus)
    fixed = plan.model_copy(
        update={
            "cp": plan.cp or 1,
            "ep": plan.ep or (None if workload.model.is_moe else 1),
            "precision": plan.precision or "bf16",
        }
    )
    space = enumerate_space(
        workload,
        system,
        gpus,
        fixed,
        FILL_OPTIONS,
        sw.attention_kernel == "flash",
        tuple(sw.schedules),
        tuple(sw.zero_stages),
        sw.ep_folded,
        sw.has_sequence_parallel,
        sw.has_interleaved_schedule,
        sw.has_selective_recompute,
        sw.selective_reruns,
        vpp_split.space_rule(sw, workload.model.layers),
    )
    if len(space.candidates) == 0:
        raise SuperclusterError(no_layout_message(workload, system, gpus, fixed, FILL_OPTIONS))
    options = site_plan.choices(system, gpus, plan, search=False)
    candidates = site_plan.spread(space.candidates, options)
    if len(candidates) == 0:
        raise SuperclusterError(site_plan.no_layout_message(options))
    res = evaluate(workload, system, sw, candidates)
    spare = res.capacity_bytes - res.memory_bytes
    comfortable = spare >= COMFORT_HEADROOM_FRACTION * res.capacity_bytes
    fits = spare >= 0
    notes: list[str] = []
    if comfortable.any():
        pool, why = np.flatnonzero(comfortable), "fastest layout that fits in memory with a 5% margin"
    elif fits.any():
        pool, why = np.flatnonzero(fits), "fastest layout that fits in memory (less than 5% to spare)"
    else:
        least = res.memory_bytes.min()
        pool, why = np.flatnonzero(res.memory_bytes <= least * (1 + 1e-9)), "least memory (no choice fits)"
        notes.append("no layout fits in memory; the estimate is for the smallest one")
    best, ruled = choose(res, pool, plan, sw)
    est = from_batch(res, best, workload, system, gpus)
    p = est.plan
    sites_why = site_plan.filled(system, plan, p.sites, p.sync, p.diloco_inner_steps)
    reasons = _reasons(plan, est, why, sw, ruled) | sites_why
    return dataclasses.replace(est, filled=reasons, assumptions=est.assumptions + notes)
