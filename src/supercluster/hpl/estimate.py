"""HPL Rmax from hardware specs, calibrated per architecture on *other* systems' published runs.

    Rmax = N_gpu x P_fp64_matrix x eta_arch

eta_arch is the HPL efficiency of that GPU architecture on the TOP500, measured relative to the
FP64 matrix peak: sum(Rmax) / sum(N x P) over the bundled systems with the same architecture,
*excluding the system being estimated* (leave-one-out), so an estimate never reads its own published
Rmax. An architecture with no other system on the list (Intel Xe-HPC: only Aurora) takes the median
efficiency of the other architectures, and says so. The same architecture reaches similar efficiency
across sizes on the list (CDNA2: 33-38% from 12k to 38k GPUs); no further size penalty is applied, and
the estimate says when it extrapolates past the largest calibration system.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from supercluster import catalog
from supercluster.errors import SuperclusterError


@cache
def _data() -> dict[str, Any]:
    text = resources.files("supercluster.catalog.data").joinpath("top500.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def architecture(accelerator: str) -> str:
    arch = _data()["architectures"].get(accelerator)
    if arch is None:
        raise SuperclusterError(f"no HPL architecture for accelerator '{accelerator}'")
    return str(arch)


def fp64_matrix_tflops(accelerator: str) -> float:
    peaks = _data().get("peaks", {})
    if accelerator in peaks:
        return float(peaks[accelerator]["fp64_matrix_tflops"])
    acc = catalog.accelerator(accelerator)
    return float(acc.peak_tflops.get("fp64_matrix", acc.peak_tflops.get("fp64_vector", 0.0)))


def systems() -> dict[str, dict[str, Any]]:
    return dict(_data()["systems"])


@dataclass
class HplEstimate:
    accelerator: str
    gpus: int
    rpeak_pf: float
    rmax_pf: float
    efficiency: float
    calibrated_on: list[str]
    notes: list[str] = field(default_factory=list)
    rmax_interval_pf: tuple[float, float] | None = None
    interval_basis: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def efficiency(arch: str, exclude: str | None = None) -> tuple[float, list[str], list[str]]:
    """(eta, systems used, notes) for an architecture, never using ``exclude``."""
    by_arch: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for sid, s in systems().items():
        if sid == exclude or not s.get("accelerator") or not s.get("gpus"):
            continue
        by_arch.setdefault(architecture(s["accelerator"]), []).append((sid, s))

    def eta_of(entries: list[tuple[str, dict[str, Any]]]) -> float:
        rmax = sum(s["rmax"] for _, s in entries)
        peak = sum(s["gpus"] * fp64_matrix_tflops(s["accelerator"]) / 1e3 for _, s in entries)
        return rmax / peak

    if arch in by_arch:
        entries = by_arch[arch]
        return eta_of(entries), [sid for sid, _ in entries], []
    medians = {a: eta_of(e) for a, e in by_arch.items()}
    eta = statistics.median(medians.values())
    return (
        eta,
        sorted(medians),
        [
            f"no other {arch} system has a published HPL run: median efficiency of "
            f"{', '.join(sorted(medians))} ({eta * 100:.1f}% of FP64 matrix peak)"
        ],
    )


def estimate(accelerator: str, gpus: int, exclude: str | None = None) -> HplEstimate:
    if gpus < 1:
        raise SuperclusterError(f"gpus must be >= 1, got {gpus}")
    peak = fp64_matrix_tflops(accelerator)
    if peak <= 0:
        raise SuperclusterError(f"accelerator {accelerator} has no FP64 rate in the catalog")
    arch = architecture(accelerator)
    eta, used, notes = efficiency(arch, exclude)
    largest = max(
        (systems()[s]["gpus"] for s in used if s in systems() and architecture(systems()[s]["accelerator"]) == arch),
        default=0,
    )
    if largest and gpus > 1.5 * largest:
        notes.append(
            f"extrapolates from {largest:,} to {gpus:,} GPUs with no scaling penalty: HPL at this size "
            "on this fabric has never been published"
        )
    rpeak = gpus * peak / 1e3
    est = HplEstimate(accelerator, gpus, rpeak, rpeak * eta, eta, used, notes)
    peer = arch in {architecture(systems()[s]["accelerator"]) for s in used if s in systems()}
    lo, hi, basis = rmax_interval(peer, exclude)
    est.rmax_interval_pf = (est.rmax_pf * lo, est.rmax_pf * hi)
    est.interval_basis = basis
    return est


@cache
def loo_residuals() -> tuple[tuple[str, bool, float], ...]:
    """(system, calibrated on a peer of its architecture?, log(published / estimate)) for every bundled system,
    each estimated without its own Rmax."""
    out = []
    for sid, s in systems().items():
        if not s.get("gpus") or not s.get("accelerator"):
            continue
        arch = architecture(s["accelerator"])
        eta, used, _ = efficiency(arch, exclude=sid)
        peer = any(u in systems() and architecture(systems()[u]["accelerator"]) == arch for u in used)
        rpeak = s["gpus"] * fp64_matrix_tflops(s["accelerator"]) / 1e3
        out.append((sid, peer, math.log(s["rmax"] / (rpeak * eta))))
    return tuple(out)


def rmax_interval(peer: bool, exclude: str | None = None, level: float = 0.8) -> tuple[float, float, str]:
    """(low, high) factors on an Rmax estimate and how they were formed, from the leave-one-out residuals of the
    systems estimated the same way (calibrated on a peer of their architecture, or on the median of the other
    architectures when none exists), never using ``exclude``.

    With n residuals of mean m and standard deviation s in log space, the interval is the classical prediction
    interval for one new observation, m +- t_{(1+level)/2, n-1} s sqrt(1 + 1/n) (e.g. Hahn and Meeker,
    Statistical Intervals, 1991, section 4.5): the list holds only a handful of systems per kind, too few for
    empirical percentiles. With fewer than three residuals, the spread is the largest of them in size, on both
    sides (a factor that wide was seen; nothing narrower can be claimed)."""
    from scipy.stats import t as student_t

    logs = [r for sid, p, r in loo_residuals() if p == peer and sid != exclude]
    kind = "calibrated on a peer architecture" if peer else "with no peer architecture (median efficiency)"
    if not logs:
        return 1.0, 1.0, "no validated system of this kind: no interval"
    if len(logs) < 3:
        width = max(abs(r) for r in logs)
        return math.exp(-width), math.exp(width), f"largest leave-one-out error of {len(logs)} systems {kind}"
    n = len(logs)
    mean = statistics.fmean(logs)
    half = float(student_t.ppf((1 + level) / 2, n - 1)) * statistics.stdev(logs) * math.sqrt(1 + 1 / n)
    return (
        math.exp(mean - half),
        math.exp(mean + half),
        f"{level * 100:.0f}% prediction interval from {n} systems {kind}, leave-one-out",
    )


def ranking(rmax_pf: float, list_name: str, name: str) -> dict[str, Any]:
    """Where ``rmax_pf`` would rank on a bundled list (and by how much it leads or trails #1)."""
    lists = _data()["lists"]
    if list_name not in lists:
        raise SuperclusterError(f"unknown TOP500 list '{list_name}'; valid: {', '.join(lists)}")
    entries = sorted(((float(v), k) for k, v in lists[list_name].items()), reverse=True)
    rank = 1 + sum(1 for v, _ in entries if v > rmax_pf)
    table = [{"system": systems()[k]["name"], "id": k, "rmax_pf": v} for v, k in entries]
    table.insert(rank - 1, {"system": name, "id": "estimate", "rmax_pf": rmax_pf})
    leader = entries[0]
    return {
        "list": list_name,
        "rank": rank if rank <= len(entries) else None,
        "below": len(entries) if rank > len(entries) else None,
        "leader": systems()[leader[1]]["name"],
        "leader_rmax_pf": leader[0],
        "ratio_to_leader": rmax_pf / leader[0],
        "table": table,
    }


def validation() -> list[dict[str, Any]]:
    """Each large system estimated from its specs, leave-one-out, against its published Rmax, with its interval
    (itself left out of the residuals too) and whether the published Rmax falls inside it."""
    out = []
    for sid in ("eagle", "frontier", "aurora", "el-capitan"):
        s = systems()[sid]
        est = estimate(s["accelerator"], s["gpus"], exclude=sid)
        lo, hi = est.rmax_interval_pf or (est.rmax_pf, est.rmax_pf)
        out.append(
            {
                "system": s["name"],
                "id": sid,
                "estimate_pf": est.rmax_pf,
                "interval_pf": [lo, hi],
                "published_pf": s["rmax"],
                "error_pct": (est.rmax_pf / s["rmax"] - 1) * 100,
                "inside_interval": lo <= s["rmax"] <= hi,
                "calibrated_on": est.calibrated_on,
                "notes": est.notes,
            }
        )
    return out
