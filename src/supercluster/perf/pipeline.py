"""Pipeline schedules: stage balancing and the bubble.

1F1B (PipeDream-Flush; Narayanan et al. 2021, arXiv:2104.04473, section 2.2.1)
takes (m + p - 1) stage-slots for m micro-batches on p stages: bubble fraction
(p-1)/m. The interleaved schedule with v model chunks per rank divides the
bubble by v (same paper, section 2.2.2, bubble (p-1)/(v m)). When stages are
uneven the steady state runs at the pace of the slowest stage and the fill and
drain cost the mean stage time:

    T = m * T_max + (p - 1) / v * T_mean
"""

from __future__ import annotations

import bisect
import math
from functools import lru_cache
from typing import Any

import numpy as np

# Pipeline chunks beyond the transformer layers: the embedding and the output head (with the loss) may each be a
# chunk of their own. Llama 3 (arXiv:2407.21783, section 3.3.2, "Pipeline parallelism improvements"): "To balance
# the pipeline, we reduce one Transformer layer each from the first and the last stages, respectively. This means
# that the first model chunk on the first stage has only the embedding, and the last model chunk on the last stage
# has only output projection and loss calculation." (126 layers on 16 ranks: 16 x 8 = 128 chunks, one layer each
# plus those two.) Megatron-Core's --pipeline-model-parallel-layout has the same stages ("E = embedding layer",
# "L = loss calculation layer"; docs.nvidia.com/megatron-core/developer-guide/latest/user-guide/features/
# pipeline_parallel_layout.html). So interleaving may reach pp * vpp = layers + 2.
EMBEDDING_HEAD_CHUNKS = 2


def balance_layers(layers: int, stages: int, first_extra: float, last_extra: float) -> list[int]:
    """Layers per stage; the extras are rounded to 1/1000 of a layer so results can be cached."""
    return list(stage_split(layers, stages, first_extra, last_extra))


def stage_split(layers: int, stages: int, first_extra: float, last_extra: float) -> tuple[int, ...]:
    """:func:`balance_layers` as the memoised tuple (the planner's many (inner key, pp) pairs share few splits)."""
    return _balance(layers, stages, rounded_extra(first_extra), rounded_extra(last_extra))


def rounded_extra(extra: float) -> float:
    """An end stage's extra work (in layers) as :func:`stage_split` keys it: rounded to 1/1000 of a layer."""
    return round(float(extra), 3)


def split_rounded(layers: int, stages: int, first_rounded: float, last_rounded: float) -> tuple[int, ...]:
    """:func:`stage_split` of extras already rounded by :func:`rounded_extra` (the planner rounds each inner key's
    extras once and splits many (inner key, pp) pairs with them)."""
    return _balance(layers, stages, first_rounded, last_rounded)


@lru_cache(maxsize=65536)
def _balance(layers: int, stages: int, first_extra: float, last_extra: float) -> tuple[int, ...]:
    """Layers per stage that minimise the slowest stage, with extra work (in layer units) on the ends.

    This is how real runs split 126 layers over 16 stages: fewer layers on the stages that
    also hold the embedding or the output head (Llama 3, arXiv:2407.21783, section 3.3.2).
    """
    if stages == 1:
        return (layers,)
    extras = [0.0] * stages
    extras[0] += first_extra
    extras[-1] += last_extra

    def capacity(limit: float) -> int:
        return sum(max(0, math.floor(limit - e + 1e-9)) for e in extras)

    candidates = sorted({k + e for e in set(extras) for k in range(layers + 1)})
    lo = bisect.bisect_left(candidates, 0.0)
    hi = len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if capacity(candidates[mid]) >= layers:
            hi = mid
        else:
            lo = mid + 1
    limit = candidates[lo]
    counts = [max(0, math.floor(limit - e + 1e-9)) for e in extras]
    # Give back surplus from the stages with the most layers so the total is exact,
    # keeping at least one layer on every stage.
    surplus = sum(counts) - layers
    order = sorted(range(stages), key=lambda i: -counts[i])
    i = 0
    while surplus > 0:
        j = order[i % stages]
        if counts[j] > 1:
            counts[j] -= 1
            surplus -= 1
        i += 1
    return tuple(counts)


SCHEDULES = ("1f1b", "zb-h1", "zb-v", "dualpipe")


def schedule_bubble(sched: Any, t_mean: Any, fwd_share: Any, pp: Any, vpp: Any) -> Any:
    """Bubble of one step by schedule (arrays: one entry per candidate; ``sched`` indexes SCHEDULES).

    With F and B a stage's forward and backward per micro-batch, and the backward split in equal halves
    for input and weight gradients (W = B/2):
      1f1b (and interleaved): (p - 1)/v (F + B)                    (Narayanan et al. 2021, section 2.2)
      zb-h1: (p - 1)(F + B_in - W) = (p - 1) F                     (Qi et al. 2023, arXiv:2401.10241, 3.1)
      zb-v:  (p - 1)(F_c + B_c - 2 W_c) per chunk of half a stage  (same paper, section 4)
      dualpipe: (p/2 - 1)(F&B + B - 3W) per chunk of half a stage  (DeepSeek-V3, arXiv:2412.19437, Table 2)
    """
    pp = np.asarray(pp, dtype=float)
    f = t_mean * fwd_share
    b = t_mean * (1.0 - fwd_share)
    out = (pp - 1) / vpp * t_mean
    # each schedule's candidates take their own formula (np.select's choice); a formula no candidate uses is skipped
    sched = np.asarray(sched)
    is_zbh1, is_zbv, is_dual = sched == 1, sched == 2, sched == 3
    if is_dual.any():
        out = np.where(is_dual, np.maximum(pp / 2 - 1, 0.0) * (f / 2 + b / 2 + b / 2 - 3 * b / 4), out)
    if is_zbv.any():
        out = np.where(is_zbv, (pp - 1) * np.maximum(0.0, f / 2 + b / 4 - b / 2), out)
    if is_zbh1.any():
        out = np.where(is_zbh1, (pp - 1) * f, out)
    return np.where(pp > 1, out, 0.0)
