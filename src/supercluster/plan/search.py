"""Search the layout space: evaluate every candidate in one vectorised pass, rank the ones that fit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.perf.batch import BatchResult, evaluate
from supercluster.perf.layout import precheck
from supercluster.perf.step import StepEstimate, from_batch
from supercluster.plan.alternatives import no_layout_message
from supercluster.plan.space import SpaceOptions, enumerate_space
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

    @property
    def best(self) -> StepEstimate:
        return self.top[0]

    def rank_of(self, step_time_s: float) -> int:
        """1-based rank a layout of this step time would take among the feasible ones."""
        times = self.batch.step_time_s[self.feasible_order]
        return int(np.searchsorted(times, step_time_s * (1 - 1e-12), side="left")) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpus": self.gpus,
            "model": self.workload.model.name,
            "system": self.system.id,
            "stats": self.stats.to_dict(),
            "memory_headroom_gib": self.headroom_bytes / GIB,
            "top": [e.to_dict() for e in self.top],
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
    precheck(workload.model, fixed, gpus, workload.global_batch)
    t0 = time.perf_counter()
    space = enumerate_space(workload, system, gpus, fixed, options, sw.attention_kernel == "flash")
    if len(space.candidates) == 0:
        raise SuperclusterError(no_layout_message(workload, system, gpus, fixed, options))
    batch = evaluate(workload, system, sw, space.candidates)
    headroom = headroom_gib * GIB
    ok = np.flatnonzero(feasible_mask(batch, headroom))
    order = ok[np.argsort(batch.step_time_s[ok], kind="stable")]
    wall = time.perf_counter() - t0
    stats = SearchStats(space.generated, len(space.candidates), len(order), wall)
    result = SearchResult(workload, system, gpus, batch, order, stats, headroom)
    result.top = [from_batch(batch, int(i), workload, system, gpus) for i in order[:top_k]]
    return result
