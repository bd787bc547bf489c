"""Monte Carlo of a whole training run under failures, vectorised over trials.

Each loop iteration advances every unfinished trial by one interruption (a
renewal process, as in Daly 2006, FGCS 22(3)): the job runs from a restart
until the next unplanned failure (exponential, rate = sum of component rates,
optionally raised early in life) or planned maintenance, writing a checkpoint
every ``interval_s`` of compute at a stall of ``stall_s``; an asynchronous
checkpoint then drains for ``drain_s`` and only counts once written, so the
interval is never shorter than the drain (refused otherwise) and two writes
never overlap. A failure loses the work since the last written checkpoint and
costs detection + restart (scheduler, process start, collective
initialisation) + checkpoint load, plus a node swap from the spare pool for
hardware faults (waiting for a repaired node when the pool is empty). With
in-memory checkpoints a failure finds every copy of its group lost with
probability ``fallback_p``; it then rolls back to the last persistent
checkpoint (its phase drawn uniformly over ``fallback_window_s`` of compute)
and loads from storage. Planned maintenance checkpoints first and loses nothing.
Stragglers slow each uninterrupted stretch by a random factor. Deterministic
for a seed; bounded by ``max_events`` iterations, so it never hangs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.lifecycle.failures import FailureRates

# Work bounds, measured on one CPU core: an event step costs ~250 us plus ~0.4 us per trial still running, so
# 20,000 interruptions per trial and 10 million trial-interruptions in all keep one simulation under ~10 s.
MAX_EVENTS_PER_TRIAL = 20_000
MAX_TRIAL_EVENTS = 10_000_000


@dataclass(frozen=True)
class RunInputs:
    work_s: float  # compute seconds at steady speed to finish the run (inf: fixed window)
    horizon_s: float  # wall-clock window (inf: run to completion)
    rates: FailureRates
    restart_s: float
    load_s: float
    swap_s: float
    stall_s: float
    interval_s: float
    planned_per_s: float
    planned_downtime_s: float
    spares: int
    repair_s: float
    straggler_mean: float
    straggler_sigma: float
    infant_factor: float = 1.0
    infant_tau_s: float = 7 * 86400.0
    drain_s: float = 0.0  # a checkpoint is written (and counts) this long after its stall ends
    fallback_p: float = 0.0  # chance a failure loses every in-memory copy and falls back to persistent storage
    fallback_load_s: float = 0.0  # load time from persistent storage in that case
    fallback_window_s: float = 0.0  # compute seconds between persistent checkpoints


@dataclass
class RunResult:
    trials: int
    wall_s: np.ndarray
    progress_s: np.ndarray
    counts: np.ndarray  # trials x components
    planned: np.ndarray
    lost_work_s: np.ndarray
    downtime_s: np.ndarray
    stall_total_s: np.ndarray
    spare_wait_s: np.ndarray
    names: tuple[str, ...]
    categories: tuple[str, ...]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: np.ndarray = field(default_factory=lambda: np.zeros(0))  # checkpoints started, per trial
    fallbacks: np.ndarray = field(default_factory=lambda: np.zeros(0))  # failures that lost the in-memory copies
    min_checkpoint_gap_s: float = float("inf")  # shortest wall time between two checkpoint starts, all trials

    @property
    def ettr(self) -> np.ndarray:
        """Effective training time ratio (Kokolis et al. 2024): kept work over wall-clock time."""
        return self.progress_s / self.wall_s

    @property
    def interruptions(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def by_category(self) -> dict[str, float]:
        out: dict[str, float] = {}
        means = self.counts.mean(axis=0)
        for cat, m in zip(self.categories, means, strict=True):
            out[cat] = out.get(cat, 0.0) + float(m)
        return out

    def by_component(self) -> dict[str, float]:
        return {n: float(m) for n, m in zip(self.names, self.counts.mean(axis=0), strict=True)}


def check_inputs(inp: RunInputs, trials: int) -> None:
    for name in (
        "restart_s",
        "load_s",
        "swap_s",
        "stall_s",
        "interval_s",
        "planned_per_s",
        "planned_downtime_s",
        "repair_s",
        "straggler_mean",
        "straggler_sigma",
        "drain_s",
        "fallback_load_s",
        "fallback_window_s",
    ):
        v = getattr(inp, name)
        if not math.isfinite(v) or v < 0:
            raise SuperclusterError(f"simulation input {name} = {v}: must be finite and >= 0")
    if inp.interval_s <= 0:
        raise SuperclusterError("checkpoint interval must be > 0 s")
    if inp.interval_s < inp.drain_s:
        raise SuperclusterError(
            f"checkpoint interval {inp.interval_s:,.1f} s is shorter than the {inp.drain_s:,.1f} s a checkpoint takes "
            "to drain; a checkpoint cannot start before the previous one is written: use an interval >= the drain"
        )
    if not 0.0 <= inp.fallback_p <= 1.0:
        raise SuperclusterError(f"fallback probability {inp.fallback_p} must be in [0, 1]")
    if not (math.isfinite(inp.work_s) or math.isfinite(inp.horizon_s)):
        raise SuperclusterError("give the run's tokens or a number of days to simulate")
    if inp.work_s <= 0 or inp.horizon_s <= 0:
        raise SuperclusterError("the run's work and the simulated window must be > 0")
    if not 1 <= trials <= 100_000:
        raise SuperclusterError(f"trials must be in 1..100000, got {trials}")
    rate_s = inp.rates.total_per_hour / 3600.0 * inp.infant_factor + inp.planned_per_s
    span = min(inp.horizon_s, inp.work_s * 3.0)
    expected = rate_s * span
    # a job that can never finish is said so first, before any limit on the work of simulating it
    cost = inp.restart_s + inp.load_s + inp.stall_s
    if rate_s > 0 and cost * rate_s > 0.95:
        raise SuperclusterError(
            f"the job would spend more than 95% of its time recovering: one interruption every "
            f"{1 / rate_s:.0f} s against {cost:.0f} s of restart, load and checkpoint; it would never finish"
        )
    if expected > MAX_EVENTS_PER_TRIAL:
        raise SuperclusterError(
            f"about {expected:,.0f} interruptions per trial (one every {1 / rate_s:.0f} s over "
            f"{span / 86400:.0f} days), over the limit of {MAX_EVENTS_PER_TRIAL:,}: simulate fewer days, a shorter "
            "run or a smaller job, or check that the failure rates and their scale are not absurd"
        )
    if expected * trials > MAX_TRIAL_EVENTS:
        raise SuperclusterError(
            f"trials({trials:,}) x about {expected:,.0f} interruptions per trial = {expected * trials:,.0f}, over the "
            f"limit of {MAX_TRIAL_EVENTS:,}: use at most {max(1, int(MAX_TRIAL_EVENTS // max(expected, 1))):,} trials "
            "or simulate fewer days"
        )


def simulate(inp: RunInputs, trials: int = 200, seed: int = 0, timeline_trial: int = 0) -> RunResult:
    check_inputs(inp, trials)
    rng = np.random.default_rng(seed)
    rates = inp.rates
    n_comp = len(rates.names)
    lam_total = rates.total_per_hour / 3600.0
    p = rates.per_hour / rates.per_hour.sum() if lam_total > 0 else np.full(n_comp, 1.0 / n_comp)
    now = np.zeros(trials)
    prog = np.zeros(trials)
    wall = np.full(trials, np.nan)
    counts = np.zeros((trials, n_comp), dtype=np.int64)
    planned = np.zeros(trials, dtype=np.int64)
    lost = np.zeros(trials)
    down = np.zeros(trials)
    stall_tot = np.zeros(trials)
    wait_tot = np.zeros(trials)
    ckpts = np.zeros(trials)
    falls = np.zeros(trials)
    min_gap = np.inf
    spare_free = np.zeros((trials, max(inp.spares, 1)))
    active = np.ones(trials, dtype=bool)
    timeline: list[dict[str, Any]] = []
    tau, stall = inp.interval_s, inp.stall_s
    for _ in range(MAX_EVENTS_PER_TRIAL + 1):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        n = len(idx)
        t = now[idx]
        boost = 1.0 + (inp.infant_factor - 1.0) * np.exp(-t / inp.infant_tau_s)
        lam = lam_total * boost
        dt_f = rng.exponential(1.0, n) / np.where(lam > 0, lam, 1e-300)
        dt_p = rng.exponential(1.0 / inp.planned_per_s, n) if inp.planned_per_s > 0 else np.full(n, np.inf)
        dt = np.minimum(dt_f, dt_p)
        is_fail = dt_f <= dt_p
        jit = np.maximum(1.0, 1.0 + inp.straggler_mean + inp.straggler_sigma * rng.standard_normal(n))
        cycle = tau * jit + stall
        rem = inp.work_s - prog[idx]
        finite = np.isfinite(rem)
        rem0 = np.where(finite, rem, 0.0)
        finish = np.where(finite, rem0 * jit + np.floor(rem0 / tau) * stall, np.inf)
        to_h = inp.horizon_s - t
        fin = (finish <= dt) & (finish <= to_h)
        hz = ~fin & (to_h <= dt)
        ev = ~fin & ~hz
        # A: the run completes before anything interrupts it
        a = idx[fin]
        if len(a):
            n_ck = np.floor(rem[fin] / tau)
            stall_tot[a] += n_ck * stall
            ckpts[a] += n_ck
            if np.any(n_ck >= 1):
                min_gap = min(min_gap, float(cycle[fin][n_ck >= 1].min()))
            wall[a] = t[fin] + finish[fin]
            prog[a] = inp.work_s
            active[a] = False
        # B: the simulated window ends first (count the work in hand as done)
        b = idx[hz]
        if len(b):
            seg = to_h[hz]
            k = np.floor(seg / cycle[hz])
            prog[b] += k * tau + np.minimum((seg - k * cycle[hz]) / jit[hz], tau)
            stall_tot[b] += k * stall
            ckpts[b] += k
            if np.any(k >= 1):
                min_gap = min(min_gap, float(cycle[hz][k >= 1].min()))
            wall[b] = inp.horizon_s
            active[b] = False
        # C: an interruption
        c = idx[ev]
        if len(c):
            seg = dt[ev]
            k = np.floor(seg / cycle[ev])
            stall_tot[c] += k * stall
            ckpts[c] += k
            if np.any(k >= 1):
                min_gap = min(min_gap, float(cycle[ev][k >= 1].min()))
            fail = is_fail[ev]
            cf, cp = c[fail], c[~fail]
            # planned maintenance writes a checkpoint first: every interval done so far is kept
            prog[cp] += np.minimum(k[~fail] * tau, rem[ev][~fail])
            downtime = np.empty(len(c))
            if len(cf):
                kf = k[fail]
                since = seg[fail] - kf * cycle[ev][fail]
                # the last checkpoint is still draining: it is not written, so roll back to the one before
                kf = kf - ((since < inp.drain_s) & (kf >= 1))
                kept = np.minimum(kf * tau, rem[ev][fail])
                lost_now = seg[fail] - kf * cycle[ev][fail]
                comp = rng.choice(n_comp, size=len(cf), p=p)
                np.add.at(counts, (cf, comp), 1)
                swap = rates.swap[comp]
                load = np.full(len(cf), inp.load_s)
                if inp.fallback_p > 0:
                    gone = rng.random(len(cf)) < inp.fallback_p
                    if np.any(gone):
                        # every in-memory copy lost: back to the last persistent checkpoint, from storage
                        back = rng.random(int(gone.sum())) * inp.fallback_window_s
                        have = prog[cf[gone]] + kept[gone]
                        back = np.minimum(back, have)
                        kept[gone] -= back
                        lost_now[gone] += back
                        load[gone] = inp.fallback_load_s
                        falls[cf[gone]] += 1
                prog[cf] += kept
                lost[cf] += lost_now
                dn = rates.detect_s[comp] + inp.restart_s + load + swap * inp.swap_s
                need_at = t[ev][fail] + seg[fail] + rates.detect_s[comp]
                if np.any(swap):
                    rows = cf[swap]
                    if inp.spares > 0:
                        slot = np.argmin(spare_free[rows], axis=1)
                        avail = spare_free[rows, slot]
                        w = np.maximum(0.0, avail - need_at[swap])
                        spare_free[rows, slot] = need_at[swap] + w + inp.repair_s
                    else:
                        w = np.full(len(rows), inp.repair_s)
                    dn[swap] += w
                    wait_tot[rows] += w
                downtime[fail] = dn
                if timeline_trial in cf:
                    j = int(np.flatnonzero(cf == timeline_trial)[0])
                    timeline.append(
                        {
                            "t_s": float(t[ev][fail][j] + seg[fail][j]),
                            "kind": "failure",
                            "cause": rates.names[comp[j]],
                            "category": rates.categories[comp[j]],
                            "downtime_s": float(dn[j]),
                            "lost_work_s": float(lost_now[j]),
                        }
                    )
            if len(cp):
                sp = seg[~fail]
                extra = np.maximum(0.0, sp - k[~fail] * cycle[ev][~fail] - stall) / jit[ev][~fail]
                prog[cp] += np.minimum(extra, np.maximum(rem[ev][~fail] - k[~fail] * tau, 0.0))
                stall_tot[cp] += stall
                planned[cp] += 1
                downtime[~fail] = inp.planned_downtime_s + inp.restart_s + inp.load_s
                if timeline_trial in cp:
                    j = int(np.flatnonzero(cp == timeline_trial)[0])
                    timeline.append(
                        {
                            "t_s": float(t[ev][~fail][j] + sp[j]),
                            "kind": "planned",
                            "cause": "planned maintenance",
                            "category": "Planned",
                            "downtime_s": float(downtime[~fail][j]),
                            "lost_work_s": 0.0,
                        }
                    )
            # Components keep failing while the job recovers: each such failure interrupts the restart
            # and costs another detection + restart + load (Poisson in the recovery window).
            again = rng.poisson(lam[ev] * downtime)
            total_again = int(again.sum())
            if total_again:
                owner = np.repeat(np.arange(len(c)), again)
                comp = rng.choice(n_comp, size=total_again, p=p)
                np.add.at(counts, (c[owner], comp), 1)
                extra = rates.detect_s[comp] + inp.restart_s + inp.load_s
                downtime += np.bincount(owner, weights=extra, minlength=len(c))
            down[c] += downtime
            now[c] = t[ev] + seg + downtime
            over = c[now[c] >= inp.horizon_s]
            if len(over):
                wall[over] = inp.horizon_s
                active[over] = False
    else:
        raise SuperclusterError(f"simulation stopped after {MAX_EVENTS_PER_TRIAL:,} interruptions in one trial")
    return RunResult(
        trials,
        wall,
        prog,
        counts,
        planned,
        lost,
        down,
        stall_tot,
        wait_tot,
        rates.names,
        rates.categories,
        timeline,
        checkpoints=ckpts,
        fallbacks=falls,
        min_checkpoint_gap_s=min_gap,
    )
