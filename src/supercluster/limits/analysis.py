"""The two thresholds read off a compute grid: where utilisation starts to fall, and where no GPU count can
finish in time. Pure functions of the rows, so their definitions are testable on hand-made curves.

Definitions (the issue asks for precise ones; both are ours, the paper's abstract gives only "about"):

- utilisation knee: MFU's plateau is the highest MFU on the grid; the knee is the smallest compute past which
  every grid point is below KNEE_FRACTION of the plateau (a point that cannot finish counts as below),
  interpolated linearly in MFU against log compute between the last point above and the first below.
- latency wall: the smallest compute past which no grid point finishes within the limit at any GPU count,
  interpolated linearly in log(fastest days / limit) against log compute across the crossing.
- fabric wall: the smallest compute past which the GPUs a point needs exceed what the system's fabric wires,
  interpolated in log(GPUs / fabric GPUs).
Each returns None when the grid never crosses, and the first grid point, flagged, when it starts past it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KNEE_FRACTION = 0.9


@dataclass(frozen=True)
class Crossing:
    """Where a quantity crosses its threshold on the grid: the interpolated compute and its neighbours."""

    flop: float | None
    below_grid: bool = False  # the first grid point is already past the threshold
    index: int | None = None  # the first grid point past it

    def to_dict(self) -> dict[str, Any]:
        return {"flop": self.flop, "at_or_below_grid_start": self.below_grid, "first_point_past": self.index}


def _first_run_to_end(past: Sequence[bool]) -> int | None:
    """The index from which every element is True (None if the last one is False)."""
    if not past or not past[-1]:
        return None
    k = len(past) - 1
    while k > 0 and past[k - 1]:
        k -= 1
    return k


def _interpolate(flop: Sequence[float], k: int, y: Sequence[float]) -> float:
    """Log-compute where the straight line through (flop[k-1], y[k-1]) and (flop[k], y[k]) crosses y = 0."""
    y0, y1 = y[k - 1], y[k]
    lo, hi = math.log10(flop[k - 1]), math.log10(flop[k])
    if not (math.isfinite(y0) and math.isfinite(y1)) or y1 == y0:
        return flop[k]
    t = min(1.0, max(0.0, y0 / (y0 - y1)))
    return 10 ** (lo + t * (hi - lo))


def utilisation_knee(flop: Sequence[float], mfu: Sequence[float | None], feasible: Sequence[bool]) -> Crossing:
    """The knee as defined in the module docstring; ``mfu`` is None where no layout fits at all."""
    values = [m for m, ok in zip(mfu, feasible, strict=True) if ok and m is not None]
    if not values:
        return Crossing(None)
    threshold = KNEE_FRACTION * max(values)
    past = [(not ok) or m is None or m < threshold for m, ok in zip(mfu, feasible, strict=True)]
    k = _first_run_to_end(past)
    if k is None:
        return Crossing(None)
    if k == 0:
        return Crossing(flop[0], below_grid=True, index=0)
    # y > 0 above the threshold; a point that cannot finish sits at zero utilisation for the crossing
    y = [(m if (ok and m is not None) else 0.0) - threshold for m, ok in zip(mfu, feasible, strict=True)]
    return Crossing(_interpolate(flop, k, y), index=k)


def latency_wall(flop: Sequence[float], min_days: Sequence[float], limit_days: float) -> Crossing:
    """The wall as defined in the module docstring; ``min_days`` is inf where no layout fits at all."""
    past = [d > limit_days for d in min_days]
    k = _first_run_to_end(past)
    if k is None:
        return Crossing(None)
    if k == 0:
        return Crossing(flop[0], below_grid=True, index=0)
    y = [math.log(limit_days / d) if 0 < d < math.inf else (-math.inf if d > 0 else math.inf) for d in min_days]
    return Crossing(_interpolate(flop, k, y), index=k)


def fabric_wall(flop: Sequence[float], gpus_needed: Sequence[float], fabric_gpus: int) -> Crossing:
    """Where the GPUs needed to finish in time first exceed (for good) what the fabric wires; ``gpus_needed`` is
    inf where no GPU count finishes in time."""
    past = [g > fabric_gpus for g in gpus_needed]
    k = _first_run_to_end(past)
    if k is None:
        return Crossing(None)
    if k == 0:
        return Crossing(flop[0], below_grid=True, index=0)
    y = [math.log(fabric_gpus / g) if math.isfinite(g) else -math.inf for g in gpus_needed]
    return Crossing(_interpolate(flop, k, y), index=k)


def factor_apart(ours: float | None, theirs: float) -> float | None:
    """How many times apart two computes are (>= 1), or None when ours is missing."""
    if ours is None or ours <= 0:
        return None
    r = ours / theirs
    return max(r, 1 / r)
