"""Failure rates of a job: per-component rates times the components the job spans."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from supercluster import catalog
from supercluster.specs import ReliabilitySpec, SystemSpec


@dataclass(frozen=True)
class JobComponents:
    gpus: int
    nodes: int
    nics: int

    def count(self, per: str) -> int:
        return {"gpu": self.gpus, "node": self.nodes, "nic": self.nics}[per]


def job_components(system: SystemSpec, gpus: int) -> JobComponents:
    nodes = -(-gpus // system.gpus_per_node)
    nics_per_node = system.gpus_per_node
    if system.node:
        nics_per_node = int(catalog.node(system.node).get("nics", system.gpus_per_node))
    return JobComponents(gpus, nodes, nodes * nics_per_node)


@dataclass(frozen=True)
class FailureRates:
    """Interruption rates of one job, per hour, by component."""

    names: tuple[str, ...]
    categories: tuple[str, ...]
    per_hour: np.ndarray
    detect_s: np.ndarray
    swap: np.ndarray

    @property
    def total_per_hour(self) -> float:
        return float(self.per_hour.sum())

    @property
    def mtbf_s(self) -> float:
        total = self.total_per_hour
        return 3600.0 / total if total > 0 else float("inf")

    def by_category(self, hours: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for cat, r in zip(self.categories, self.per_hour, strict=True):
            out[cat] = out.get(cat, 0.0) + float(r * hours)
        return out


def job_rates(spec: ReliabilitySpec, components: JobComponents) -> FailureRates:
    names = tuple(spec.components)
    comps = [spec.components[n] for n in names]
    return FailureRates(
        names=names,
        categories=tuple(c.category for c in comps),
        per_hour=np.array([c.rate_per_hour * components.count(c.per) * spec.rate_scale for c in comps]),
        detect_s=np.array([c.detect_s for c in comps]),
        swap=np.array([c.swap for c in comps]),
    )
