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
Stragglers slow each uninterrupted stretch by a random factor. Failures that only
drop one data-parallel replica (``tax``, see lifecycle.tolerance) slow it further by
1 / (1 - tax) and are counted, not replayed. Deterministic for a seed; bounded by
``max_events`` iterations, so it never hangs. Where the interruptions per trial run
into the thousands and the work of replaying them grows past a budget, the run is
priced by the renewal-reward theorem instead (lifecycle.renewal), from the same
interruption logic (``interrupt``).
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
# Renewal-reward pricing (lifecycle.renewal) takes over from replaying events when a trial holds at least
# RENEWAL_MIN_EVENTS interruptions (the normal approximation of a sum of that many cycles is then within a few
# per cent in its spread and far closer in its mean) and replaying would pass the limits above or this budget of
# trial-interruptions (about 1 s of replay on one core).
RENEWAL_MIN_EVENTS = 1_000
RENEWAL_TRIAL_EVENTS = 2_000_000


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
    tax: float = 0.0  # share of uptime taken by failures that drop one replica only (lifecycle.tolerance)
    contained_per_s: float = 0.0  # rate of those failures (counted per trial, not replayed)


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
    contained: np.ndarray = field(default_factory=lambda: np.zeros(0))  # replica-only failures, per trial
    tax_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # wall time those cost, per trial
    method: str = "events"  # "events": every interruption replayed; "renewal-reward": see lifecycle.renewal
    cycles: int = 0  # interruption cycles sampled by the renewal-reward method

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
    """Refuse inputs that are not finite and non-negative, and a job that could never finish."""
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
        "contained_per_s",
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
    rate_s = _rate_s(inp)
    # a job that can never finish is said so first, before any limit on the work of simulating it
    cost = inp.restart_s + inp.load_s + inp.stall_s
    if rate_s > 0 and cost * rate_s > 0.95:
        raise SuperclusterError(
            f"the job would spend more than 95% of its time recovering: one interruption every "
            f"{1 / rate_s:.0f} s against {cost:.0f} s of restart, load and checkpoint; it would never finish"
        )
    if not 0.0 <= inp.tax < 0.95:
        raise SuperclusterError(
            f"failures that drop one replica would take {inp.tax * 100:.0f}% of the time (>= 95%): the job would "
            "never finish; fewer, faster-recovering replicas or a lower failure rate"
        )


def _rate_s(inp: RunInputs) -> float:
    """Interruptions per second that stop the job (failures at their early-life peak, and maintenance)."""
    return inp.rates.total_per_hour / 3600.0 * inp.infant_factor + inp.planned_per_s


def expected_events(inp: RunInputs) -> tuple[float, float]:
    """Interruptions expected per trial, over the span simulated (the window, or up to three times the work)."""
    span = min(inp.horizon_s, inp.work_s * 3.0)
    return _rate_s(inp) * span, span


def method_for(inp: RunInputs, trials: int, budget: float = RENEWAL_TRIAL_EVENTS) -> str:
    """The method: events (replay every interruption) or renewal-reward (lifecycle.renewal), or refuse the work.

    Renewal-reward when a trial holds at least RENEWAL_MIN_EVENTS interruptions and replaying them would pass a
    limit or ``budget`` trial-interruptions; the rate must then not change with time (no infant mortality).
    """
    expected, span = expected_events(inp)
    rate_s = _rate_s(inp)
    over = expected > MAX_EVENTS_PER_TRIAL or expected * trials > min(budget, MAX_TRIAL_EVENTS)
    if over and expected >= RENEWAL_MIN_EVENTS:
        if inp.infant_factor > 1.0:
            raise SuperclusterError(
                f"about {expected:,.0f} interruptions per trial with infant mortality (rates x"
                f"{inp.infant_factor:g} early in life): too many to replay and not stationary for renewal-reward "
                "pricing; simulate fewer days or trials, or drop infant_mortality"
            )
        return "renewal-reward"
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
    return "events"


def stretch(inp: RunInputs) -> float:
    """Wall seconds per compute second from failures that drop one replica: 1 / (1 - tax) (lifecycle.tolerance)."""
    return 1.0 / (1.0 - inp.tax)


@dataclass
class Interruptions:
    """What a batch of uninterrupted stretches, each ended by a failure or maintenance, did (one row each)."""

    kept_s: np.ndarray  # compute kept (written checkpoints, or everything before maintenance)
    lost_s: np.ndarray  # compute thrown away
    down_s: np.ndarray  # wall time from the interruption to training again
    stalls: np.ndarray  # checkpoint stalls paid in the stretch
    checkpoints: np.ndarray  # checkpoints started in the stretch
    wait_s: np.ndarray  # waiting for a spare node
    fallback: np.ndarray  # the failure lost every in-memory copy
    fail: np.ndarray  # a failure (else planned maintenance)
    comp: np.ndarray  # the failed component of each failure (rows where ``fail``)
    again_row: np.ndarray  # failures during recovery: the row each hit
    again_comp: np.ndarray  # and its component
    gap_s: float  # shortest wall time between two checkpoint starts seen


def interrupt(
    rng: np.random.Generator,
    inp: RunInputs,
    p: np.ndarray,
    lam: np.ndarray,
    seg: np.ndarray,
    jit: np.ndarray,
    is_fail: np.ndarray,
    rem: np.ndarray,
    have: np.ndarray,
    need_from: np.ndarray,
    spare_wait: Any,
) -> Interruptions:
    """One interruption per row after ``seg`` wall seconds of running: the checkpoints written in the stretch, the
    work kept and lost, and the downtime (Daly 2006's renewal cycle, with the drain, memory tier, node swap and
    failures during recovery described in the module docstring). ``rem``: compute still to do; ``have``: compute
    kept before the stretch; ``need_from``: wall clock at the stretch's start; ``spare_wait(rows, need_at)``: wait
    for a spare node of the failures in ``rows`` needing one at ``need_at``."""
    rates = inp.rates
    n_comp = len(rates.names)
    tau, stall = inp.interval_s, inp.stall_s
    cycle = tau * jit + stall
    k = np.floor(seg / cycle)
    gap = float(cycle[k >= 1].min()) if np.any(k >= 1) else math.inf
    kept = np.zeros(len(seg))
    lost = np.zeros(len(seg))
    down = np.empty(len(seg))
    stalls = k.copy()
    wait = np.zeros(len(seg))
    fallback = np.zeros(len(seg), dtype=bool)
    fail, plan = is_fail, ~is_fail
    comp = np.zeros(0, dtype=np.int64)
    if np.any(fail):
        kf = k[fail]
        since = seg[fail] - kf * cycle[fail]
        # the last checkpoint is still draining: it is not written, so roll back to the one before
        kf = kf - ((since < inp.drain_s) & (kf >= 1))
        kept_f = np.minimum(kf * tau, rem[fail])
        lost_f = seg[fail] - kf * cycle[fail]
        comp = rng.choice(n_comp, size=int(fail.sum()), p=p)
        swap = rates.swap[comp]
        load = np.full(len(comp), inp.load_s)
        if inp.fallback_p > 0:
            gone = rng.random(len(comp)) < inp.fallback_p
            if np.any(gone):
                # every in-memory copy lost: back to the last persistent checkpoint, from storage
                back = rng.random(int(gone.sum())) * inp.fallback_window_s
                back = np.minimum(back, have[fail][gone] + kept_f[gone])
                kept_f[gone] -= back
                lost_f[gone] += back
                load[gone] = inp.fallback_load_s
                fb = fallback[fail]
                fb[gone] = True
                fallback[fail] = fb
        kept[fail] = kept_f
        lost[fail] = lost_f
        dn = rates.detect_s[comp] + inp.restart_s + load + swap * inp.swap_s
        if np.any(swap):
            rows = np.flatnonzero(fail)[swap]
            need_at = need_from[rows] + seg[rows] + rates.detect_s[comp[swap]]
            w = spare_wait(rows, need_at)
            dn[swap] += w
            wait[rows] = w
        down[fail] = dn
    if np.any(plan):
        # planned maintenance writes a checkpoint first: every interval done so far is kept
        kp = k[plan]
        extra = np.maximum(0.0, seg[plan] - kp * cycle[plan] - stall) / jit[plan]
        kept[plan] = np.minimum(kp * tau, rem[plan]) + np.minimum(extra, np.maximum(rem[plan] - kp * tau, 0.0))
        stalls[plan] += 1
        down[plan] = inp.planned_downtime_s + inp.restart_s + inp.load_s
    # Components keep failing while the job recovers: each such failure interrupts the restart
    # and costs another detection + restart + load (Poisson in the recovery window).
    again = rng.poisson(lam * down)
    total_again = int(again.sum())
    owner = np.zeros(0, dtype=np.int64)
    comp_again = np.zeros(0, dtype=np.int64)
    if total_again:
        owner = np.repeat(np.arange(len(seg)), again)
        comp_again = rng.choice(n_comp, size=total_again, p=p)
        extra_dn = rates.detect_s[comp_again] + inp.restart_s + inp.load_s
        down += np.bincount(owner, weights=extra_dn, minlength=len(seg))
    return Interruptions(kept, lost, down, stalls, k, wait, fallback, fail, comp, owner, comp_again, gap)


def simulate(
    inp: RunInputs,
    trials: int = 200,
    seed: int = 0,
    timeline_trial: int = 0,
    method: str = "auto",
    budget: float = RENEWAL_TRIAL_EVENTS,
    cycles: int | None = None,
) -> RunResult:
    """The run, ``trials`` times: every interruption replayed, or (``method`` auto, for very many interruptions
    per trial, see ``method_for``; or ``renewal-reward``) priced by lifecycle.renewal. ``timeline_trial``: the
    trial whose interruptions are listed (-1: none); ``cycles``: renewal cycles drawn (default renewal.CYCLES)."""
    check_inputs(inp, trials)
    chosen = method_for(inp, trials, budget) if method == "auto" else method
    if chosen == "renewal-reward":
        from supercluster.lifecycle.renewal import simulate_renewal

        return simulate_renewal(inp, trials, seed, timeline_trial, cycles)
    if chosen != "events":
        raise SuperclusterError(f"simulation method must be auto, events or renewal-reward, got {method!r}")
    return _replay(inp, trials, seed, timeline_trial)


def _replay(inp: RunInputs, trials: int, seed: int, timeline_trial: int) -> RunResult:
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
    contained = np.zeros(trials)
    tax_s = np.zeros(trials)
    min_gap = np.inf
    spare_free = np.zeros((trials, max(inp.spares, 1)))
    active = np.ones(trials, dtype=bool)
    timeline: list[dict[str, Any]] = []
    tau, stall = inp.interval_s, inp.stall_s
    slow = stretch(inp)
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
        jit = np.maximum(1.0, 1.0 + inp.straggler_mean + inp.straggler_sigma * rng.standard_normal(n)) * slow
        cycle = tau * jit + stall
        rem = inp.work_s - prog[idx]
        finite = np.isfinite(rem)
        rem0 = np.where(finite, rem, 0.0)
        finish = np.where(finite, rem0 * jit + np.floor(rem0 / tau) * stall, np.inf)
        to_h = inp.horizon_s - t
        fin = (finish <= dt) & (finish <= to_h)
        hz = ~fin & (to_h <= dt)
        ev = ~fin & ~hz
        run_s = np.where(fin, finish, np.where(hz, to_h, dt))  # wall time of this stretch, for the tax
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

            def spare_wait(rows: np.ndarray, need_at: np.ndarray, c: np.ndarray = c) -> np.ndarray:
                trial = c[rows]
                if inp.spares <= 0:
                    return np.full(len(rows), inp.repair_s)
                slot = np.argmin(spare_free[trial], axis=1)
                avail = spare_free[trial, slot]
                w = np.maximum(0.0, avail - need_at)
                spare_free[trial, slot] = need_at + w + inp.repair_s
                return w

            out = interrupt(rng, inp, p, lam[ev], dt[ev], jit[ev], is_fail[ev], rem[ev], prog[c], t[ev], spare_wait)
            min_gap = min(min_gap, out.gap_s)
            prog[c] += out.kept_s
            lost[c] += out.lost_s
            stall_tot[c] += out.stalls * stall
            ckpts[c] += out.checkpoints
            wait_tot[c] += out.wait_s
            falls[c] += out.fallback
            cf = c[out.fail]
            np.add.at(counts, (cf, out.comp), 1)
            planned[c[~out.fail]] += 1
            if len(out.again_row):
                np.add.at(counts, (c[out.again_row], out.again_comp), 1)
            if timeline_trial in c:
                j = int(np.flatnonzero(c == timeline_trial)[0])
                at = float(t[ev][j] + dt[ev][j])
                if out.fail[j]:
                    comp_j = out.comp[int(np.flatnonzero(np.flatnonzero(out.fail) == j)[0])]
                    entry = {
                        "t_s": at,
                        "kind": "failure",
                        "cause": rates.names[comp_j],
                        "category": rates.categories[comp_j],
                        "downtime_s": float(out.down_s[j] - _again_s(out, j, inp)),
                        "lost_work_s": float(out.lost_s[j]),
                    }
                else:
                    entry = {
                        "t_s": at,
                        "kind": "planned",
                        "cause": "planned maintenance",
                        "category": "Planned",
                        "downtime_s": float(out.down_s[j] - _again_s(out, j, inp)),
                        "lost_work_s": 0.0,
                    }
                timeline.append(entry)
            down[c] += out.down_s
            now[c] = t[ev] + dt[ev] + out.down_s
            over = c[now[c] >= inp.horizon_s]
            if len(over):
                wall[over] = inp.horizon_s
                active[over] = False
        if inp.contained_per_s > 0:
            # failures that drop one replica: counted over the stretch, their cost carried by the stretch factor
            contained[idx] += rng.poisson(inp.contained_per_s * run_s)
            tax_s[idx] += run_s * inp.tax
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
        contained=contained,
        tax_s=tax_s,
    )


def _again_s(out: Interruptions, row: int, inp: RunInputs) -> float:
    """Downtime added to ``row`` by failures during its recovery (the timeline shows the first recovery alone, as
    before these were counted)."""
    hit = out.again_comp[out.again_row == row]
    return float((inp.rates.detect_s[hit] + inp.restart_s + inp.load_s).sum())
