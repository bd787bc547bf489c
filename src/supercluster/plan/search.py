"""Search the layout space: evaluate every candidate in one vectorised pass, rank the ones that fit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.perf import vpp_split
from supercluster.perf.batch import PRECISION, BatchResult, evaluate
from supercluster.perf.layout import precheck
from supercluster.perf.step import StepEstimate, from_batch
from supercluster.plan import sites as site_plan
from supercluster.plan.alternatives import no_layout_message
from supercluster.plan.space import SpaceOptions, enumerate_space
from supercluster.rules import check_sites, check_vpp_split
from supercluster.specs import PlanSpec, SoftwareProfile, SystemSpec, WorkloadSpec
from supercluster.units import GIB


@dataclass(frozen=True)
class SearchStats:
    generated: int
    evaluated: int
    feasible: int
    wall_s: float

    @property
    def configs_per_s(self) -> float:
        return self.evaluated / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, float]:
        return {**self.__dict__, "configs_per_s": self.configs_per_s}


@dataclass
class SearchResult:
    workload: WorkloadSpec
    system: SystemSpec
    gpus: int
    batch: BatchResult
    feasible_order: np.ndarray  # candidate indices that fit, fastest first
    stats: SearchStats
    headroom_bytes: float
    top: list[StepEstimate] = field(default_factory=list)
    software: SoftwareProfile | None = None  # the stack the layouts were priced with

    @property
    def best(self) -> StepEstimate:
        return self.top[0]

    def rank_of(self, step_time_s: float) -> int:
        """1-based rank a layout of this step time would take among the feasible ones."""
        times = self.batch.step_time_s[self.feasible_order]
        return int(np.searchsorted(times, step_time_s * (1 - 1e-12), side="left")) + 1

    def best_where(self, mask: np.ndarray) -> StepEstimate | None:
        """The fastest feasible layout among those where ``mask`` (over all candidates) holds."""
        pool = self.feasible_order[mask[self.feasible_order]]
        if len(pool) == 0:
            return None
        return from_batch(self.batch, int(pool[0]), self.workload, self.system, self.gpus)

    def best_by_precision(self) -> dict[str, StepEstimate]:
        """The fastest feasible layout of each numeric format searched: BF16 and FP8 change numerics, so a
        layout is compared with the best of its own format before the best of any."""
        c = self.batch.cand
        out: dict[str, StepEstimate] = {}
        for code in np.unique(c.prec):
            est = self.best_where(c.prec == code)
            if est is not None:
                out[PRECISION[int(code)]] = est
        return out

    def expert_tradeoff(self) -> dict[str, Any] | None:
        """For a mixture of experts: the best layout without expert parallelism against the best with it."""
        if not self.workload.model.is_moe or not self.top:
            return None
        c = self.batch.cand
        no_ep = self.best_where(c.ep == 1)
        with_ep = self.best_where(c.ep > 1)
        best = self.top[0]
        out: dict[str, Any] = {"best_ep": best.plan.ep, "best_tp": best.plan.tp}
        for name, est in (("without_ep", no_ep), ("with_ep", with_ep)):
            if est is not None:
                out[name] = {
                    "layout": est.plan.label(),
                    "step_time_s": est.step_time_s,
                    "slower_than_best_pct": (est.step_time_s / best.step_time_s - 1) * 100,
                    "ep_comm_s": est.ep_comm_s,
                    "memory_gib": est.memory.total_bytes / 2**30,
                }
        if no_ep is None:
            out["why"] = "no layout fits without expert parallelism: replicated experts exceed HBM"
        elif with_ep is not None:
            cheaper = "expert parallelism" if with_ep.step_time_s < no_ep.step_time_s else "no expert parallelism"
            gap = abs(with_ep.step_time_s / no_ep.step_time_s - 1) * 100
            if no_ep.plan.tp > 1:
                without = f"without EP they are split by tp {no_ep.plan.tp} instead"
            elif no_ep.plan.zero >= 3:
                without = "without EP every GPU runs every expert, their weights sharded by ZeRO-3"
            else:
                without = "without EP every GPU holds and runs every expert"
            out["why"] = (
                f"{cheaper} wins by {gap:.1f}%: with EP {with_ep.plan.ep} the experts are sharded for "
                f"{with_ep.ep_comm_s:.3g} s of exposed all-to-all per step (tp {with_ep.plan.tp}: "
                f"{with_ep.tp_comm_s:.3g} s of TP traffic, {with_ep.memory.total_bytes / GIB:.1f} GiB per GPU); "
                f"{without} ({no_ep.tp_comm_s:.3g} s of TP traffic, {no_ep.memory.total_bytes / GIB:.1f} GiB per GPU)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "expert_tradeoff": self.expert_tradeoff(),
            "gpus": self.gpus,
            "model": self.workload.model.name,
            "system": self.system.id,
            "stats": self.stats.to_dict(),
            "memory_headroom_gib": self.headroom_bytes / GIB,
            "top": [e.to_dict() for e in self.top],
            "best_by_precision": {
                prec: {
                    "layout": e.plan.label(),
                    "step_time_s": e.step_time_s,
                    "tokens_per_s": e.tokens_per_s,
                    "mfu": e.mfu,
                    "mfu_peak_precision": e.mfu_peak_precision,
                    "mfu_peak_tflops_per_gpu": e.precision_peak_flops_per_gpu / 1e12,
                    "mfu_bf16_peak": e.mfu_bf16_peak,
                    "slower_than_best_pct": (e.step_time_s / self.best.step_time_s - 1) * 100,
                }
                for prec, e in (self.best_by_precision().items() if self.top else ())
            },
        }


def feasible_mask(batch: BatchResult, headroom_bytes: float) -> np.ndarray:
    return batch.memory_bytes + headroom_bytes <= batch.capacity_bytes


def search(
    workload: WorkloadSpec,
    system: SystemSpec,
    sw: SoftwareProfile,
    gpus: int,
    fixed: PlanSpec | None = None,
    options: SpaceOptions | None = None,
    top_k: int = 5,
    headroom_gib: float = 0.0,
) -> SearchResult:
    """Every valid layout for ``gpus`` GPUs agreeing with ``fixed``, ranked by step time (= time to train)."""
    fixed = fixed or PlanSpec()
    options = options or SpaceOptions()
    if headroom_gib < 0:
        raise SuperclusterError(f"memory headroom must be >= 0 GiB, got {headroom_gib}")
    precheck(workload.model, fixed, gpus, workload.global_batch, system.accelerator, workload.seq)
    check_vpp_split(workload.model, fixed, sw)
    check_sites(fixed, system, gpus)
    t0 = time.perf_counter()
    space = enumerate_space(
        workload,
        system,
        gpus,
        fixed,
        options,
        sw.attention_kernel == "flash",
        tuple(sw.schedules),
        tuple(sw.zero_stages),
        sw.ep_folded,
        sw.has_sequence_parallel,
        sw.has_interleaved_schedule,
        sw.has_selective_recompute,
        sw.selective_reruns,
        vpp_split.space_rule(sw, workload.model.layers),
    )
    if len(space.candidates) == 0:
        raise SuperclusterError(no_layout_message(workload, system, gpus, fixed, options))
    # a multi-site system: every site count and synchronisation scheme, in the same vectorised pass
    site_options = site_plan.choices(system, gpus, fixed, search=True)
    candidates = site_plan.spread(space.candidates, site_options)
    if len(candidates) == 0:
        raise SuperclusterError(site_plan.no_layout_message(site_options))
    batch = evaluate(workload, system, sw, candidates)
    headroom = headroom_gib * GIB
    ok = np.flatnonzero(feasible_mask(batch, headroom))
    order = ok[np.argsort(batch.step_time_s[ok], kind="stable")]
    wall = time.perf_counter() - t0
    stats = SearchStats(space.generated * len(site_options), len(candidates), len(order), wall)
    result = SearchResult(workload, system, gpus, batch, order, stats, headroom, software=sw)
    result.top = [from_batch(batch, int(i), workload, system, gpus) for i in order[:top_k]]
    return result
