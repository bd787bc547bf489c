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


def balance_layers(layers: int, stages: int, first_extra: float, last_extra: float) -> list[int]:
    """Layers per stage that minimise the slowest stage, with extra work (in layer units) on the ends.

    This is how real runs split 126 layers over 16 stages: fewer layers on the stages that
    also hold the embedding or the output head (Llama 3, arXiv:2407.21783, section 3.3.2).
    """
    if stages == 1:
        return [layers]
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
    return counts


def pipeline_time_s(stage_times_s: list[float], microbatches: int, vpp: int) -> tuple[float, float]:
    """(total pipeline time, bubble time) for one optimizer step."""
    p = len(stage_times_s)
    t_max = max(stage_times_s)
    steady = microbatches * t_max
    if p == 1:
        return steady, 0.0
    bubble = (p - 1) / vpp * (sum(stage_times_s) / p)
    return steady + bubble, bubble
