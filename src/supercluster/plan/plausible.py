"""Layouts a practitioner would run, and the GPU counts that admit them.

The search prices any pipeline size up to the layer count, uneven stages included (the slowest stage sets the
pace, supercluster.perf.pipeline). That is right for ranking, but a comparison that sizes a machine (equal power)
or must pick one layout per system should not offer a layout that no one would run: 126 layers on 91 stages
leaves 35 stages with two layers and 56 with one, so 44% of the pipeline's slots idle behind the slowest stage.

Published runs split layers nearly evenly. Llama 3 405B put 126 layers on 16 stages (arXiv:2407.21783, section
3.3.2: fewer layers on the first and last stage), 8 x 16 / 126 - 1 = 1.6% above the mean; DeepSeek-V3 put 61
layers on 16 stages (arXiv:2412.19437, sections 3.2.1 and 4.2), 4 x 16 / 61 - 1 = 4.9%. A layout is plausible when
its slowest chunk holds at most ``MAX_STAGE_IMBALANCE`` more layers than the mean: 10%, twice DeepSeek-V3's split,
is a choice (stated here, checked against those two runs in the tests), not a published number.
"""

from __future__ import annotations

import numpy as np

from supercluster.plan.space import divisors
from supercluster.specs import SystemSpec, WorkloadSpec

MAX_STAGE_IMBALANCE = 0.10


def stage_imbalance(layers: int, chunks: int) -> float:
    """How far the slowest of ``chunks`` pipeline chunks sits above the mean: ceil(L / c) * c / L - 1.

    With ``c`` chunks (pp stages times vpp virtual stages) the best split puts ceil(L / c) layers on the largest
    chunk, and the schedule runs at that chunk's pace (Narayanan et al. 2021, arXiv:2104.04473, section 2.2: every
    stage waits for the slowest). 0 when c divides L.
    """
    if chunks < 1 or layers < 1:
        raise ValueError(f"layers({layers}) and chunks({chunks}) must be >= 1")
    return -(-layers // chunks) * chunks / layers - 1.0


def plausible_pp(layers: int, pp: int, vpp: int = 1) -> bool:
    """A pipeline of ``pp`` stages of ``vpp`` chunks each that a practitioner would run on ``layers`` layers."""
    return bool(plausible_mask(np.array([pp]), np.array([vpp]), layers)[0])


def plausible_mask(pp: np.ndarray, vpp: np.ndarray, layers: int) -> np.ndarray:
    """Whether each candidate's pp * vpp chunks fit the layers with the slowest chunk at most
    ``MAX_STAGE_IMBALANCE`` above the mean (:func:`stage_imbalance`, over the search's ``Candidates.pp``/``.vpp``)."""
    chunks = np.asarray(pp, dtype=np.int64) * np.asarray(vpp, dtype=np.int64)
    safe = np.maximum(chunks, 1)
    imbalance = -(-layers // safe) * safe / layers - 1.0
    return (chunks <= layers) & (imbalance <= MAX_STAGE_IMBALANCE + 1e-12)


def plausible_gpu_counts(workload: WorkloadSpec, system: SystemSpec, limit: int, count: int = 6) -> list[int]:
    """The ``count`` largest GPU counts at or below ``limit`` that split as tp * cp * pp * dp with a plausible pp
    (no interleaving), tp and cp as the search allows them, and dp dividing the global batch: the counts on which
    the planner can find a layout someone would run. Largest first; arithmetic over a few small sets, never a walk
    over counts."""
    from supercluster.plan.space import cp_choices, tp_choices

    model = workload.model
    pps = [p for p in range(1, model.layers + 1) if plausible_pp(model.layers, p)]
    sizes = {t * c * p for t in tp_choices(model, system) for c in cp_choices(workload.seq) for p in pps}
    u = np.array(sorted(sizes), dtype=np.int64)
    d = np.array(divisors(workload.global_batch), dtype=np.int64)
    g = np.unique((u[:, None] * d[None, :]).ravel())
    g = g[g <= limit]
    return [int(x) for x in g[::-1][:count]]
