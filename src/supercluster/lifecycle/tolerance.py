"""Replica-level fault tolerance: which failures stop the whole job, and what the others cost while it trains on.

With TorchFT's fault-tolerant HSDP (github.com/pytorch/torchft) a failure inside one data-parallel replica drops
that replica from the quorum; the others skip the step in flight and continue with dp - 1 replicas until it
rejoins with a copy of the state from a healthy peer. Failures that corrupt or crash every replica (software
bugs, silent data corruption: reliability.yaml ``fault_tolerance_contained``) still restart the job from a
checkpoint, priced event by event as before. Each contained failure j costs

    c_j = h_j + s + out_j / dp   wall seconds of the whole job,

h_j the wait until the failed replica is dropped (heartbeat timeout for a crash, collective timeout for a hang),
s one step (the step in flight is discarded), out_j the replica's own recovery (detection, node swap, restart,
its collective initialisation, the peer copy) during which 1/dp of the throughput is missing. By the
renewal-reward theorem (Ross, Stochastic Processes, 2nd ed., Theorem 3.6.1) the share of time they take is the
mean cost per failure times their rate, tax = sum_j lambda_j c_j; the replicas out at once are Poisson with mean
sum_j lambda_j out_j (an M/G/infinity queue, Little's law).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.lifecycle.checkpoint import choose_interval, expected_ettr
from supercluster.lifecycle.failures import FailureRates
from supercluster.lifecycle.plan import init_s_per_10k_gpus, restart
from supercluster.specs import ReliabilitySpec
from supercluster.units import HOUR_S


@dataclass(frozen=True)
class Contained:
    """The failures that stay inside one replica, and what each costs the job."""

    rates: FailureRates  # per hour, the contained components only
    dp: int
    replica_gpus: int
    step_s: float
    hold_s: np.ndarray  # wait until the failed replica is dropped, per component
    out_s: np.ndarray  # the failed replica's own recovery, per component
    replica_init_s: float
    peer_copy_s: float

    @property
    def per_s(self) -> float:
        return self.rates.total_per_hour / HOUR_S

    @property
    def cost_s(self) -> np.ndarray:
        """Wall seconds of the whole job per failure: hold + the discarded step + the replica's absence / dp."""
        return self.hold_s + self.step_s + self.out_s / self.dp

    @property
    def tax(self) -> float:
        """Share of training time taken: sum of rate x cost (renewal-reward)."""
        return float((self.rates.per_hour / HOUR_S * self.cost_s).sum())

    @property
    def replicas_out(self) -> float:
        """Mean replicas recovering at once (M/G/infinity: rate x mean time out)."""
        return float((self.rates.per_hour / HOUR_S * self.out_s).sum())

    def to_dict(self) -> dict[str, Any]:
        w = self.rates.per_hour / max(self.rates.total_per_hour, 1e-300)
        return {
            "per_hour": self.rates.total_per_hour,
            "dp": self.dp,
            "replica_gpus": self.replica_gpus,
            "mean_hold_s": float((w * self.hold_s).sum()),
            "step_s": self.step_s,
            "mean_replica_out_s": float((w * self.out_s).sum()),
            "replica_init_s": self.replica_init_s,
            "peer_copy_s": self.peer_copy_s,
            "mean_cost_s": float((w * self.cost_s).sum()),
            "replicas_out_mean": self.replicas_out,
            "tax": self.tax,
        }


def split(rates: FailureRates, contained: tuple[str, ...]) -> tuple[FailureRates, FailureRates]:
    """The job-wide failures and the contained ones, each with its own rates."""
    mask = np.array([n in contained for n in rates.names], dtype=bool)

    def pick(m: np.ndarray) -> FailureRates:
        return FailureRates(
            tuple(n for n, k in zip(rates.names, m, strict=True) if k),
            tuple(c for c, k in zip(rates.categories, m, strict=True) if k),
            rates.per_hour[m],
            rates.detect_s[m],
            rates.swap[m],
        )

    return pick(~mask), pick(mask)


def contained_costs(
    spec: ReliabilitySpec, rates: FailureRates, dp: int, replica_gpus: int, step_s: float, peer_copy_s: float
) -> Contained:
    """Hold, recovery and cost of each contained failure (module docstring).

    hold: ``heartbeat_timeout_s`` (TorchFT's lighthouse drops a replica that stops heartbeating), or
    ``collective_timeout_s`` for the components in ``hangs`` (the Manager's collective timeout). out: detection +
    node swap where the cause needs one + scheduler + process start + the replica's collective initialisation
    (the job's init law at replica_gpus) + the peer copy of its state.
    """
    ft, r = spec.fault_tolerance, spec.recovery
    hang = np.array([n in ft.hangs for n in rates.names], dtype=bool)
    hold = np.where(hang, ft.collective_timeout_s, ft.heartbeat_timeout_s)
    init = init_s_per_10k_gpus(spec) * replica_gpus / 10_000
    out = rates.detect_s + rates.swap * r.swap_s + r.scheduler_s + r.process_start_s + init + peer_copy_s
    found = Contained(rates, dp, replica_gpus, step_s, hold, out, init, peer_copy_s)
    if found.replicas_out > dp / 2:
        raise SuperclusterError(
            f"replica fault tolerance: {found.replicas_out:,.1f} of {dp:,} replicas would be recovering at once on "
            "average, more than half; the job would not hold a quorum: use fewer GPUs per replica or global-restart"
        )
    return found


@dataclass(frozen=True)
class Option:
    """One way of surviving failures, priced to first order."""

    mode: str
    init: str
    restart_s: float
    job_wide_per_hour: float
    contained_per_hour: float
    tax: float
    interval_s: float
    ettr_first_order: float
    never_finishes: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def first_order(
    spec: ReliabilitySpec,
    rates: FailureRates,
    gpus: int,
    dp: int,
    replica_gpus: int,
    step_s: float,
    peer_copy_s: float,
    stall_s: float,
    drain_s: float,
    load_s: float,
) -> list[Option]:
    """The four combinations of global-restart or replica fault tolerance and linear or scalable collective
    initialisation, each to first order: ETTR = (1 - tax) / (1 + delta/tau + (tau/2 + W + R)/M) (Daly 2006, first
    order, with the drain W; ``checkpoint.expected_ettr``) on the job-wide failures, tau Daly's interval for their
    MTBF M, R their mean detection + swap share + restart + load. A job that the simulation refuses (recovery x
    rate > 0.95, or tax >= 0.95) never finishes: 0."""
    out = []
    for mode in ("global-restart", "replica"):
        for init in ("linear", "scalable"):
            ft = spec.fault_tolerance.model_copy(update={"mode": mode, "init": init})
            s = spec.model_copy(update={"fault_tolerance": ft})
            rs = restart(s, gpus)
            wide, inside = split(rates, ft.contained) if mode == "replica" and dp > 1 else (rates, None)
            tax = 0.0
            if inside is not None and inside.total_per_hour > 0:
                try:
                    tax = contained_costs(s, inside, dp, replica_gpus, step_s, peer_copy_s).tax
                except SuperclusterError:
                    tax = 1.0
            per_s = wide.total_per_hour / HOUR_S + s.recovery.planned_per_day / 86400.0
            mtbf = wide.mtbf_s
            w = wide.per_hour / max(wide.total_per_hour, 1e-300)
            recovery = float((w * (wide.detect_s + s.recovery.swap_s * wide.swap)).sum()) + rs.total_s + load_s
            tau = choose_interval(stall_s, drain_s, mtbf, spec.checkpoint.interval_s).interval_s
            cost = rs.total_s + load_s + stall_s
            never = (per_s > 0 and cost * per_s > 0.95) or tax >= 0.95
            ettr = 0.0 if never else (1.0 - tax) * expected_ettr(tau, stall_s, recovery, mtbf, drain_s)
            if never and tax >= 0.95:
                why = f"contained failures take {min(tax, 1.0) * 100:.0f}% of the time"
            elif never:
                why = f"one every {1 / per_s:,.0f} s, {cost:,.0f} s to recover"
            else:
                why = f"one every {mtbf:,.0f} s" if math.isfinite(mtbf) else "no failures"
                why += f", tax {tax * 100:.1f}%" if tax > 0 else ""
            out.append(
                Option(
                    mode,
                    init,
                    rs.total_s,
                    wide.total_per_hour,
                    inside.total_per_hour if inside is not None else 0.0,
                    tax,
                    tau,
                    ettr,
                    never,
                    why,
                )
            )
    return out
