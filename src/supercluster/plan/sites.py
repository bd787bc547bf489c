"""Where a job's replicas stand when the system has several sites: which site counts and synchronisation schemes
the planner prices, and the candidate layouts for each.

The layout space itself (:mod:`supercluster.plan.space`) does not depend on the sites; every (sites, sync) choice
keeps the layouts whose replicas split evenly over the sites (dp a multiple of sites) and whose expert groups stay
inside one site, so the whole search is still one vectorised evaluation. A system of one site prices exactly the
layouts it always did.
"""

from __future__ import annotations

import numpy as np

from supercluster.perf.batch import Candidates
from supercluster.perf.wan import DEFAULT_INNER_STEPS, SYNC_NAMES
from supercluster.rules import valid_sites
from supercluster.specs import PlanSpec, SystemSpec

DILOCO = ("diloco", "streaming-diloco")


def choices(system: SystemSpec, gpus: int, plan: PlanSpec, search: bool) -> list[tuple[int, str, int]]:
    """(sites, sync, inner steps H) to price: the given ones, else every valid site count and scheme when
    searching (at most the system's sites x 3) and, when filling blanks, the fewest sites that hold the job with
    the synchronous all-reduce (DiLoCo changes the optimiser: the user's call, as FP8 is)."""
    if system.site_count == 1:
        return [(1, "allreduce", 0)]
    counts = [plan.sites] if plan.sites else valid_sites(system, gpus)
    if plan.sync in DILOCO:
        counts = [k for k in counts if k > 1]
    if not search:
        counts = counts[:1]
    syncs = [plan.sync] if plan.sync else (list(SYNC_NAMES) if search else ["allreduce"])
    out = []
    for k in counts:
        for sync in syncs:
            if k == 1 and sync != "allreduce":
                continue
            inner = 0 if sync == "allreduce" else plan.diloco_inner_steps or DEFAULT_INNER_STEPS[sync]
            out.append((k, sync, inner))
    return out


def spread(c: Candidates, options: list[tuple[int, str, int]]) -> Candidates:
    """The candidates priced at each (sites, sync, H) they can take: dp a multiple of the sites, and an expert
    group inside one site (ep divides tp * cp * dp / (etp * sites)). One site alone returns ``c`` itself."""
    if options == [(1, "allreduce", 0)]:
        return c
    etp = c.etp if c.etp is not None else c.tp
    blocks = []
    for k, sync, inner in options:
        ok = c.dp % k == 0
        ok &= ((c.tp * c.cp * c.dp // etp) // k) % c.ep == 0
        part = c.take(np.flatnonzero(ok))
        part.sites = np.full(len(part), k, dtype=np.int64)
        part.sync = np.full(len(part), SYNC_NAMES.index(sync), dtype=np.int8)  # type: ignore[arg-type]
        part.hin = np.full(len(part), inner, dtype=np.int64)
        blocks.append(part)
    names = blocks[0].__dict__
    return Candidates(**{f: np.concatenate([getattr(b, f) for b in blocks]) for f in names})


def filled(system: SystemSpec, plan: PlanSpec, sites: int, sync: str, inner: int | None) -> dict[str, str]:
    """Why the fill chose the site count and synchronisation it did (multi-site systems only)."""
    if system.site_count == 1:
        return {}
    out: dict[str, str] = {}
    if plan.sites is None:
        out["sites"] = f"{sites} (the fewest of {system.id}'s {system.site_count} sites that hold the job)"
    if plan.sync is None and sites > 1:
        out["sync"] = f"{sync} (synchronous training; DiLoCo changes the optimiser: choose it explicitly)"
    if sync in DILOCO and plan.diloco_inner_steps is None and inner:
        out["diloco_inner_steps"] = f"{inner} (the paper's H for {sync})"
    return out


def no_layout_message(options: list[tuple[int, str, int]]) -> str:
    """Why no layout survives the site split: dp or the expert groups do not divide over the sites."""
    counts = sorted({k for k, _, _ in options})
    return (
        f"no layout splits over sites {counts}: each site needs dp / sites whole replicas (dp a multiple of the "
        "sites) and whole expert groups (ep dividing tp * cp * dp / (etp * sites)); try another sites, dp or ep"
    )
