"""How validation fills the layout knobs a measured run's source leaves blank.

The planner fills blank knobs with the fastest layout that fits (:func:`supercluster.plan.fill.fastest`): the
right answer for "what should I run", but optimistic by construction for "what did they run". A measured run
ran what its recipe said, so where the stack documents a default the fill takes it:

* micro-batch: the stack's recipe value (``SoftwareProfile.recipe_micro_batch``; Megatron-Core/NeMo recipes run
  1, see catalog/data/software.yaml), else the smallest micro-batch in the pool when the recipe value is not in it;
* recompute: with ``SoftwareProfile.recipe_recompute_least`` (Megatron-LM's ``--recompute-granularity`` defaults to
  None) the least recomputation that fits, in the order none, selective, full (Korthikanti et al. 2022,
  arXiv:2205.05198, section 5: selective recomputation first, full only where memory still runs short);
* every other blank knob, and both of these where the stack documents nothing: the fastest of what is left.

The rule narrows the pool the planner's fill has already built (layouts that fit with a 5% margin, else that
fit at all, else the least memory), so it never picks a layout that does not fit when one does.
"""

from __future__ import annotations

import numpy as np

from supercluster.perf.batch import BatchResult
from supercluster.specs import PlanSpec, SoftwareProfile


def measured(res: BatchResult, pool: np.ndarray, plan: PlanSpec, sw: SoftwareProfile) -> tuple[int, dict[str, str]]:
    """The layout a measured run most likely ran, from ``pool`` (indices into ``res``), and the reason for each
    knob the stack's documented defaults chose (a :data:`supercluster.plan.fill.Chooser`)."""
    cand = res.cand
    ruled: dict[str, str] = {}
    if plan.micro_batch is None and sw.recipe_micro_batch is not None:
        want = sw.recipe_micro_batch
        at = pool[cand.mb[pool] == want]
        if len(at):
            pool = at
            ruled["micro_batch"] = f"the recipe default of {sw.id}; the source does not state it"
        else:
            pool = pool[cand.mb[pool] == cand.mb[pool].min()]
            ruled["micro_batch"] = (
                f"the smallest left: {sw.id}'s recipe default {want} does not divide the batch or fit; the source "
                "does not state it"
            )
    if plan.recompute is None and sw.recipe_recompute_least:
        least = int(cand.rc[pool].min())  # codes index perf.batch.RECOMPUTE: none, selective, full
        pool = pool[cand.rc[pool] == least]
        ruled["recompute"] = (
            f"{sw.id} recomputes nothing unless told to: the least that fits"
            if least
            else f"{sw.id} recomputes nothing unless told to, and it fits"
        )
    return int(pool[np.argmin(res.step_time_s[pool])]), ruled
