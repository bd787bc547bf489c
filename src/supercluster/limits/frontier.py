"""For one compute budget: the fewest GPUs whose best layout trains the job within the duration limit, or,
when none can, the fastest any GPU count reaches. Every GPU count is searched with supercluster's own planner
(supercluster.plan.search: every valid layout, vectorised, ranked by step time).

GPU counts walk a ladder 8, 12, 16, 24, 32, 48, ... (2^k and 3 * 2^k, each 1.33-1.5x the last). From a first
guess the walk goes down while the limit is still met, or up until it is met. Going up, it stops when the time
to train has not improved by STALL_GAIN over ``stall`` rungs (the job is at its fastest), when no layout has
fitted in memory for NOFIT_PATIENCE rungs (8x the GPUs), or after ``max_trials`` rungs. Work per compute point
is therefore bounded; past the latency wall the caller asks for fewer rungs (PAST_WALL_TRIALS).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.limits.binding import binding
from supercluster.limits.workload import ComputeJob
from supercluster.perf.step import StepEstimate
from supercluster.plan import SpaceOptions, search
from supercluster.plan.search import SearchResult
from supercluster.specs import PlanSpec, SoftwareProfile, SystemSpec
from supercluster.units import DAY_S

LADDER_START = 8
MAX_TRIALS = 12
STALL_STEPS = 3
STALL_GAIN = 0.03
NOFIT_PATIENCE = 6
PAST_WALL_TRIALS = 4
PAST_WALL_STALL = 2
# Search bounds of the layout space at these sizes (not physics): micro-batches of more than 2 sequences and
# interleaving past 8 chunks never ranked first in trial runs of 1e24-1e32 FLOP jobs (every best layout there
# had one sequence per micro-batch), and each halves the candidates.
LIMITS_SPACE = SpaceOptions(micro_batches=(1, 2), vpp_choices=(1, 2, 4, 8))


def ladder(i: int) -> int:
    """The i-th GPU count: 8, 12, 16, 24, 32, 48, ..."""
    base = LADDER_START * 2 ** (i // 2)
    return base if i % 2 == 0 else base * 3 // 2


def ladder_index(gpus: float) -> int:
    """The rung nearest ``gpus`` (in ratio)."""
    if gpus <= LADDER_START:
        return 0
    guess = max(0, round(2 * math.log2(gpus / LADDER_START)))
    near = [i for i in (guess - 1, guess, guess + 1) if i >= 0]
    return min(near, key=lambda i: abs(math.log(ladder(i) / gpus)))


@dataclass(frozen=True)
class Trial:
    """The planner's best layout on one GPU count, or why there is none."""

    gpus: int
    step: StepEstimate | None
    days: float
    reason: str = ""

    @property
    def fits(self) -> bool:
        return self.step is not None


@dataclass(frozen=True)
class PointResult:
    job: ComputeJob
    limit_days: float
    chosen: Trial | None  # the fewest GPUs that meet the limit
    fastest: Trial | None  # the fastest job found on any GPU count (None: no layout fits anywhere tried)
    trials: int
    wall_s: float

    @property
    def feasible(self) -> bool:
        return self.chosen is not None

    @property
    def shown(self) -> Trial | None:
        """The layout a row reports: the chosen one, else the fastest."""
        return self.chosen or self.fastest

    @property
    def min_days(self) -> float:
        return self.fastest.days if self.fastest else math.inf


def schedule_valid(result: SearchResult, global_batch: int) -> np.ndarray:
    """Candidates whose pipeline schedule is priced inside the range its formula holds for: 1F1B (and its
    interleaved form) for any number of micro-batches, T = (m + p - 1) slots (Narayanan et al. 2021,
    arXiv:2104.04473, section 2.2); the zero-bubble schedules only with at least as many micro-batches per
    replica as stages, the steady state their bubble formulas assume (Qi et al. 2023, arXiv:2401.10241,
    sections 3-4: the weight-gradient passes of m >= p micro-batches fill the bubble). With fewer there are
    not enough of them to fill it, and supercluster.perf.pipeline.schedule_bubble would price it too low."""
    c = result.batch.cand
    sched = c.sched if c.sched is not None else np.zeros(len(c), dtype=np.int8)
    micro = global_batch / (c.dp * c.mb)
    return (sched == 0) | (micro >= c.pp)  # type: ignore[no-any-return]


def try_gpus(job: ComputeJob, system: SystemSpec, sw: SoftwareProfile, gpus: int, options: SpaceOptions) -> Trial:
    """The best layout of ``job`` on ``gpus`` GPUs (among those :func:`schedule_valid` keeps) and its days to
    train (inf when no layout runs)."""
    try:
        result = search(job.workload, system, sw, gpus, PlanSpec(), options, top_k=1)
    except SuperclusterError as err:
        return Trial(gpus, None, math.inf, str(err))
    best = result.best_where(schedule_valid(result, job.workload.global_batch)) if result.top else None
    if best is None:
        least = float(result.batch.memory_bytes.min()) / 2**30 if len(result.batch.cand) else math.inf
        return Trial(gpus, None, math.inf, f"no layout fits in memory (smallest {least:.0f} GiB per GPU)")
    return Trial(gpus, best, job.tokens / best.tokens_per_s / DAY_S)


def frontier_point(
    job: ComputeJob,
    system: SystemSpec,
    sw: SoftwareProfile,
    limit_days: float,
    first_guess_gpus: float,
    options: SpaceOptions = LIMITS_SPACE,
    max_trials: int = MAX_TRIALS,
    stall: int = STALL_STEPS,
) -> PointResult:
    """Walk the GPU ladder from ``first_guess_gpus`` (see the module docstring) for the fewest GPUs that train
    ``job`` within ``limit_days``, and the fastest time seen."""
    t0 = time.perf_counter()
    seen: dict[int, Trial] = {}

    def at(i: int) -> Trial:
        if i not in seen:
            seen[i] = try_gpus(job, system, sw, ladder(i), options)
        return seen[i]

    i = ladder_index(first_guess_gpus)
    chosen: Trial | None = None
    if at(i).days <= limit_days:
        chosen = at(i)
        while i > 0 and len(seen) < max_trials and at(i - 1).days <= limit_days:
            i -= 1
            chosen = at(i)
    else:
        best, stale, nofit = at(i).days, 0, 0 if at(i).fits else 1
        while len(seen) < max_trials:
            i += 1
            trial = at(i)
            if trial.days <= limit_days:
                chosen = trial
                break
            nofit = 0 if trial.fits or math.isfinite(best) else nofit + 1
            if trial.days < best * (1 - STALL_GAIN):
                best, stale = trial.days, 0
            else:
                stale += 1
            if (stale >= stall and math.isfinite(best)) or nofit >= NOFIT_PATIENCE:
                break
    fits = [t for t in seen.values() if t.fits]
    fastest = min(fits, key=lambda t: t.days) if fits else None
    return PointResult(job, limit_days, chosen, fastest, len(seen), time.perf_counter() - t0)


def row(point: PointResult, fabric_gpus: int) -> dict[str, Any]:
    """One compute point as data: the job, the layout shown, and what bounds it."""
    shown = point.shown
    out: dict[str, Any] = {**point.job.to_dict(), "feasible": point.feasible, "trials": point.trials}
    out["search_s"] = point.wall_s
    out["limit_days"] = point.limit_days
    out["min_days"] = point.min_days if math.isfinite(point.min_days) else None
    out["step_time_budget_s"] = point.limit_days * DAY_S / point.job.steps
    if shown is None or shown.step is None:
        last = "no GPU count tried holds a layout in memory"
        out.update({"gpus": None, "layout": None, "mfu": None, "days": None, "step_time_s": None})
        out.update({"beyond_fabric": None, "binding": "memory", "binding_why": last})
        return out
    step = shown.step
    out.update(
        {
            "gpus": shown.gpus,
            "layout": step.plan.label(),
            "plan": step.plan.model_dump(),
            "mfu": step.mfu,
            "days": shown.days,
            "step_time_s": step.step_time_s,
            "breakdown": step.breakdown(),
            "sequences_per_gpu": point.job.workload.global_batch / shown.gpus,
            "beyond_fabric": shown.gpus > fabric_gpus,
            "memory_gib": step.memory.total_bytes / 2**30,
        }
    )
    out.update(binding(step, point.job.workload.global_batch, point.feasible))
    return out
