"""Stragglers: a synchronous step ends when its slowest GPU does.

Mechanism. In synchronous training every GPU of a job meets every other at least once per step: a tensor-parallel
group at each of its collectives, a pipeline at each send and receive (its steady state runs at the pace of its
slowest stage), and all replicas at the data-parallel gradient reduction (or, under ZeRO-3/FSDP, at every
parameter all-gather). So the GPU-bound part of a step (the slowest stage's forward, backward and recompute, and
the pipeline bubble, which is made of stage computations too) runs at the speed of the slowest of the N GPUs that
synchronise each step, not at the mean speed the kernel efficiencies describe.

Variation. Identical GPUs do not run identically: manufacturing (leakage) variation under a fixed power cap gives
each chip its own sustained clock, and thermal headroom, HBM and host noise add to it. Measured spreads:

- Meta, PRISM (Golden et al. 2025, arXiv:2510.15596, abstract): "At the 64k GPU scale, we already observed 9% GPU
  time variability for frontier foundation model training", and "up to 14% variation in GPU performance on GEMM
  workloads depending on training hardware and deployed environment".
- Sinha et al. 2022, "Not All GPUs Are Created Equal" (arXiv:2208.11035v3, abstract; SC22): on five clusters
  (Summit, Vortex, Frontera, Longhorn, Corona) "8% (max 22%) average performance variation even though the GPU
  architecture and vendor SKU are identical within each cluster, with outliers up to 1.5X slower than the median
  GPU", and the variation holds "regardless of the application, cluster, GPU vendor, and cooling method".

Each spread is read as the range between the fastest and slowest GPU of the population measured. If per-GPU speed
is normal with relative standard deviation sigma, a population of n GPUs spans 2 E[M_n] sigma on average, E[M_n]
being the expected maximum of n standard normal variables, so sigma = spread / (2 E[M_n]): PRISM's 9% over 65,536
GPUs gives 0.09 / (2 x 4.291) = 1.05% (:data:`RANK_SIGMA`); Sinha's 8% over Summit's 27,648 GPUs gives
0.08 / (2 x 4.095) = 0.98%, the same within the reading's uncertainty. Outliers (Sinha's 1.5x GPUs) are what
operators' straggler detection removes (MegaScale, arXiv:2402.15627, section 5; Llama 3, arXiv:2407.21783,
section 3.3.4), so the normal body of the distribution is what a healthy job keeps. Uncertainty: x0.5 (if the
spread were +-, not a range) to x1.5 (if it excluded the tails).

Expected maximum. For n independent ranks with relative slowdown e ~ N(0, sigma), the step waits E[max e] =
sigma E[M_n] (David & Nagaraja, Order Statistics, 3rd ed. 2003, section 3.1: E[X_(n)] = integral of x dF^n(x));
:func:`expected_max_normal` integrates it exactly (Tippett 1925 and Harter 1961 tabulate 1.4236 for n = 8 and 3.2414
for n = 1,000). Asymptotically it grows as sqrt(2 ln n) (the Gumbel limit, :func:`gumbel_expected_max`): slowly,
so 1,000 GPUs already pay three quarters of what 100,000 do.

Persistent and transient. A slow chip is slow in every step and every micro-batch: nothing averages it away, and
the step pays sigma E[M_n] on all its GPU-bound time. Transient per-kernel noise (host jitter, clock dithering)
averages over the m micro-batches of a step (its share of a rank's step falls as 1/sqrt(m)); PRISM's figure is a
per-step GPU time in production training, so whatever transient part survives that averaging is already in the
measured spread and is not priced twice. Episodic fail-slows (a degraded GPU or link for minutes to hours: "delaying
large training jobs by 1.34x on average", Wu et al., FALCON/GREYHOUND, arXiv:2410.12588, ATC'25) are not per-step
variation; the lifecycle simulation prices them (reliability.yaml ``straggler_slowdown``).

Ranks that synchronise each step: every GPU of the job, except under DiLoCo, where the sites meet only every H inner
steps and a step waits for the slowest GPU of its own site.

Verdict (scripts/straggler_protocol.py, benchmarks/results/straggler_protocol.json). Added to the step time, the term
raised the leave-one-source-out MAPE of all 676 predicted rows from 15.60% to 15.64% and of the published set from
7.92% to 8.39%; with the fitted efficiencies refitted on their sources (H100 BF16 GEMM 0.61 -> 0.63, A100 0.79 ->
0.81) the all-rows figure fell to 15.25% but the published set still rose (8.13%) and the held-out error of the H100
fit rose from 7.0% to 9.3% (Llama 3 at 16,384 GPUs, where the model already reads 6.6% slow). So it is priced and
reported for every layout (``straggler_s`` in the breakdown) and not added to the step time
(:data:`IN_STEP_TIME`).

Re-judged on 2026-12-01 (768 rows, 767 predicted; scripts/straggler_refit.py, benchmarks/results/straggler_refit.json)
with the whole-set refit (each card family's BF16 GEMM fraction refitted on all its rows, with and without each
source): the refit absorbs the term's near-uniform 2.2-4.2% (H100 0.695 -> 0.720, A100 0.788 -> 0.815, B200/GB200
0.529 -> 0.548), and leave-one-source-out MAPE still rises, all rows 7.75% -> 7.99%, published 4.16% -> 4.29%. The
rows whose error grows with GPU count (MegaScale Table 2's Megatron-LM baseline, Nemotron-4 340B Table 2) move by
under one point: what they miss is about 1 s per step, not a share of the step (scripts/scalegrowth_diagnosis.py).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

# The accuracy protocol's verdict (scripts/straggler_protocol.py, benchmarks/results/straggler_protocol.json): the term
# is priced and reported for every layout, and added to the step time only while this is True.
IN_STEP_TIME = False
# PRISM (arXiv:2510.15596): "9% GPU time variability" at "the 64k GPU scale" (read as 65,536 GPUs)
RANK_SPREAD_FRACTION = 0.09
RANK_SPREAD_GPUS = 65_536
# Sinha et al. (arXiv:2208.11035v3): "8% ... average performance variation"; Summit's 27,648 V100 (4,608 nodes x 6)
CROSS_CHECK_SPREAD_FRACTION = 0.08
CROSS_CHECK_GPUS = 27_648
EULER_GAMMA = 0.5772156649015329

_X = np.linspace(-9.0, 9.0, 18_001)  # standard normal quantiles; the tails beyond +-9 hold < 1e-18 of the mass
_LOG_CDF: np.ndarray | None = None


def _log_cdf() -> np.ndarray:
    """log Phi(x) on the grid, computed once (scipy's log_ndtr keeps both tails exact)."""
    global _LOG_CDF
    if _LOG_CDF is None:
        from scipy.special import log_ndtr

        _LOG_CDF = log_ndtr(_X)
    return _LOG_CDF


@lru_cache(maxsize=256)
def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normal variables], by numerical integration.

    E[M_n] = integral of x dF(x)^n = int_0^inf (1 - Phi^n) dx - int_-inf^0 Phi^n dx (David & Nagaraja 2003, section
    3.1), trapezoidal on [-9, 9] with step 0.001 (error < 1e-6). 0 for one rank (it waits for nobody)."""
    if n <= 1:
        return 0.0
    cdf_n = np.exp(n * _log_cdf())
    upper, lower = _X >= 0, _X <= 0  # both halves hold x = 0
    pos = np.trapezoid(1.0 - cdf_n[upper], _X[upper])
    neg = np.trapezoid(cdf_n[lower], _X[lower])
    return float(pos - neg)


def gumbel_expected_max(n: int) -> float:
    """The extreme-value asymptote of :func:`expected_max_normal`: b_n + gamma / a_n with a_n = sqrt(2 ln n) and
    b_n = a_n - (ln ln n + ln 4 pi) / (2 a_n) (Cramer 1946, section 28.6; David & Nagaraja 2003, section 10.5), the
    Gumbel location and scale of the normal maximum. It overestimates the exact value by 0.10 at n = 8 and by 0.016
    at n = 100,000; sqrt(2 ln n) alone is an upper bound for every n."""
    if n <= 1:
        return 0.0
    a = math.sqrt(2.0 * math.log(n))
    b = a - (math.log(math.log(n)) + math.log(4.0 * math.pi)) / (2.0 * a)
    return b + EULER_GAMMA / a


def sigma_from_spread(spread_fraction: float, gpus: int) -> float:
    """Relative standard deviation of per-GPU speed from a measured fastest-to-slowest spread over ``gpus`` GPUs:
    spread / (2 E[M_gpus]) (the expected range of a normal sample is twice its expected maximum)."""
    return spread_fraction / (2.0 * expected_max_normal(gpus))


RANK_SIGMA = sigma_from_spread(RANK_SPREAD_FRACTION, RANK_SPREAD_GPUS)


def slowest_rank_fraction(ranks: Any, sigma: float = RANK_SIGMA) -> np.ndarray:
    """Expected slowdown of the slowest of ``ranks`` GPUs relative to the mean one: sigma E[M_ranks]."""
    r = np.asarray(ranks, dtype=np.int64)
    if r.size == 0:
        return np.zeros(r.shape)
    lo, hi = (int(r.item()),) * 2 if r.size == 1 else (int(r.min()), int(r.max()))
    if lo == hi:  # the planner's batches: every candidate on the same GPUs
        return np.full(r.shape, sigma * expected_max_normal(lo))
    uniq, inv = np.unique(r.reshape(-1), return_inverse=True)
    em = np.array([expected_max_normal(int(k)) for k in uniq])
    return sigma * em[inv].reshape(r.shape)  # type: ignore[no-any-return]


def straggler_s(gpu_bound_s: Any, ranks: Any, sigma: float = RANK_SIGMA) -> np.ndarray:
    """Seconds per step lost waiting for the slowest rank: the GPU-bound time x sigma E[M_ranks]."""
    return np.asarray(gpu_bound_s, dtype=float) * slowest_rank_fraction(ranks, sigma)  # type: ignore[no-any-return]


def source() -> str:
    """Where the term comes from and whether the step time includes it, in one line (the report's sources)."""
    where = (
        "added to the step time"
        if IN_STEP_TIME
        else "priced, not added to the step time (accuracy protocol, benchmarks/results/straggler_protocol.json)"
    )
    return (
        f"per-GPU speed spread sigma = {RANK_SIGMA * 100:.2f}%: Meta's PRISM (Golden et al. 2025, arXiv:2510.15596): "
        '"At the 64k GPU scale, we already observed 9% GPU time variability for frontier foundation model training", '
        "read as the fastest-to-slowest range of 65,536 GPUs, / (2 x 4.29); cross-check Sinha et al. 2022 "
        '(arXiv:2208.11035): "8% (max 22%) average performance variation" -> 0.98% on Summit. A step waits for the '
        "slowest GPU: sigma x E[max of N normals] of its compute, recompute and bubble (uncertainty x0.5 to x1.5); "
        + where
    )
