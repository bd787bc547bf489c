"""A run with very many interruptions, priced by the renewal-reward theorem instead of replayed event by event.

Between two restarts the job runs until the next interruption and then recovers: a renewal cycle (Daly 2006,
FGCS 22(3)). With rates that do not change in time the cycles are independent and identically distributed, so
the renewal-reward theorem (Ross, Stochastic Processes, 2nd ed., Wiley 1996, Theorem 3.6.1) gives the long-run
rate of any reward accumulated per cycle (kept compute, lost work, downtime, failures by cause):

    X(t) / t -> E[X_cycle] / E[C]  (C: the cycle's wall time),

and its central limit theorem (the CLT for regenerative processes, e.g. Asmussen, Applied Probability and
Queues, 2nd ed., Springer 2003, chapter VI) the spread around it:

    X(t) ~ Normal(t E[X]/E[C], t Var(X - (E[X]/E[C]) C) / E[C]).

The cycle moments come from ``CYCLES`` cycles drawn with exactly the interruption logic of the event replay
(``montecarlo.interrupt``); each trial then draws its totals from the joint normal, so a trial costs a few
floating-point operations however many thousand interruptions it holds. A run to completion inverts the
progress: it ends at T = W / r - sqrt(T / E[C]) Y_progress / r (r = E[R]/E[C], Y the normal fluctuation), the
first-order inversion of X(T) = W. Neglected, and exact in the limit the theorem describes: the partial cycle at
the end of a run and the waits for spare nodes (a pool sized by setup holds spares for 3 sigma of the swaps in a
repair time; an empty pool waits the repair time for every swap).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from supercluster.lifecycle.montecarlo import RunInputs, RunResult, expected_events, interrupt, simulate, stretch

CYCLES = 200_000  # renewal cycles drawn to estimate the moments (about 0.2% error on the mean rate)
TIMELINE_EVENTS = 400  # the event replay of one trial shown beside the pricing: its first interruptions only


def cycle_samples(inp: RunInputs, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` independent renewal cycles of a job with stationary rates: each one stretch of running up to an
    interruption, then the recovery. Returns the cycle's wall time ``C`` and what it accumulates."""
    rates = inp.rates
    n_comp = len(rates.names)
    lam_total = rates.total_per_hour / 3600.0
    p = rates.per_hour / rates.per_hour.sum() if lam_total > 0 else np.full(n_comp, 1.0 / n_comp)
    dt_f = rng.exponential(1.0, n) / lam_total if lam_total > 0 else np.full(n, np.inf)
    dt_p = rng.exponential(1.0 / inp.planned_per_s, n) if inp.planned_per_s > 0 else np.full(n, np.inf)
    seg = np.minimum(dt_f, dt_p)
    is_fail = dt_f <= dt_p
    jit = np.maximum(1.0, 1.0 + inp.straggler_mean + inp.straggler_sigma * rng.standard_normal(n)) * stretch(inp)
    lam = np.full(n, lam_total)
    inf = np.full(n, np.inf)
    waits = inp.repair_s if inp.spares <= 0 else 0.0
    out = interrupt(
        rng, inp, p, lam, seg, jit, is_fail, inf, inf, np.zeros(n), lambda rows, _at: np.full(len(rows), waits)
    )
    failures = np.bincount(np.flatnonzero(is_fail), minlength=n).astype(float)
    if len(out.again_row):
        failures += np.bincount(out.again_row, minlength=n)
    per_comp = np.bincount(out.comp, minlength=n_comp).astype(float)
    if len(out.again_comp):
        per_comp += np.bincount(out.again_comp, minlength=n_comp)
    return {
        "C": seg + out.down_s,
        "progress": out.kept_s,
        "failures": failures,
        "planned": (~is_fail).astype(float),
        "lost": out.lost_s,
        "down": out.down_s,
        "stall": out.stalls * inp.stall_s,
        "wait": out.wait_s,
        "checkpoints": out.checkpoints,
        "fallbacks": out.fallback.astype(float),
        "contained": rng.poisson(inp.contained_per_s * seg).astype(float),
        "tax": seg * inp.tax,
        "_per_comp": per_comp,
        "_gap": np.array([out.gap_s]),
    }


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    """A square root L (L L^T = cov) of a covariance matrix, robust to rounding below zero."""
    vals, vecs = np.linalg.eigh(cov)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def simulate_renewal(
    inp: RunInputs, trials: int, seed: int, timeline_trial: int = 0, cycles: int | None = None
) -> RunResult:
    """Every trial's totals from the renewal-reward theorem and its CLT (module docstring), from ``cycles``
    sampled cycles (default CYCLES)."""
    n_cycles = int(cycles or CYCLES)
    rng = np.random.default_rng(seed)
    cyc = cycle_samples(inp, n_cycles, rng)
    per_comp, gap = cyc.pop("_per_comp"), float(cyc.pop("_gap")[0])
    c = cyc.pop("C")
    keys = list(cyc)
    x = np.stack([cyc[k] for k in keys])  # rewards x cycles
    mean_c = float(c.mean())
    rate = x.mean(axis=1) / mean_c  # reward per wall second
    centred = x - rate[:, None] * c[None, :]
    root = _sqrt_psd(np.cov(centred))
    z = rng.standard_normal((len(keys), trials))
    y = root @ z  # one joint normal fluctuation per trial: Var(X - rate C) per cycle
    i_prog = keys.index("progress")
    horizon = np.full(trials, inp.horizon_s)
    done = np.zeros(trials, dtype=bool)
    if math.isfinite(inp.work_s):
        t_star = inp.work_s / rate[i_prog]
        end = t_star - np.sqrt(t_star / mean_c) * y[i_prog] / rate[i_prog]
        end = np.maximum(end, inp.work_s)  # never faster than the work itself
        done = end <= inp.horizon_s
        horizon = np.where(done, end, inp.horizon_s)
    scale = np.sqrt(horizon / mean_c)
    tot = {k: np.maximum(0.0, rate[j] * horizon + scale * y[j]) for j, k in enumerate(keys)}
    prog = np.where(done, inp.work_s, np.minimum(tot["progress"], inp.work_s))
    failures = tot["failures"]
    share = per_comp / max(per_comp.sum(), 1.0)
    counts = failures[:, None] * share[None, :]
    timeline = _timeline(inp, seed + 1) if 0 <= timeline_trial < trials else []
    return RunResult(
        trials,
        horizon,
        prog,
        counts,
        tot["planned"],
        tot["lost"],
        tot["down"],
        tot["stall"],
        tot["wait"],
        inp.rates.names,
        inp.rates.categories,
        timeline,
        checkpoints=tot["checkpoints"],
        fallbacks=tot["fallbacks"],
        min_checkpoint_gap_s=gap,
        contained=tot["contained"],
        tax_s=tot["tax"],
        method="renewal-reward",
        cycles=n_cycles,
    )


def _timeline(inp: RunInputs, seed: int) -> list[dict[str, Any]]:
    """The first interruptions of one trial, replayed event by event (what the report plots)."""
    expected, span = expected_events(inp)
    window = min(span, inp.horizon_s, span * TIMELINE_EVENTS / max(expected, 1.0))
    short = replace(inp, horizon_s=window, work_s=math.inf)
    return simulate(short, trials=1, seed=seed, method="events").timeline
