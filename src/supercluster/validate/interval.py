"""Error bars: an interval around a predicted step time from the errors on measured runs nearest in kind.

The model's error on runs it was not tuned on is the honest measure of how far to trust it (DESIGN.md, "Being
right on what was never seen"). Every predicted run of the bundled evidence leaves a residual, its speed error
e = predicted speed / measured speed - 1, stored with its kind in ``data/residuals.csv`` (rebuilt by
``scripts/build_residuals.py``; a test fails when the file drifts from the model). For a new prediction:

1. the pool is the residuals nearest in kind: scored 3 for the same dense/MoE family, 2 for the same software
   stack, 1 for the same accelerator and 1 for the same GPU-count band, whole score tiers taken from the top
   until at least ``MIN_POOL`` rows are in. The weights and the pool size are choices (family first, because
   dense and MoE errors differ most in the evidence; 30 rows, so a 10th percentile rests on three), not fitted:
   what checks them is the leave-one-source-out coverage below;
2. on log(1 + e) the pool's 10th and 90th percentiles, spread about its median by ``scale`` (one constant,
   fitted so that the 80% interval covers 80% of the bundled runs when each run's own source document is left
   out of its pool: leave-one-source-out coverage, recorded in ``data/interval_calibration.json`` with the
   nested score of the scale itself, chosen without each document and tested on it);
3. measured time = predicted time x (1 + e), so the interval of the step time is predicted x (1 + e_lo) to
   predicted x (1 + e_hi).

A job with more GPUs than any run of its kind in the evidence is outside what was validated: the interval is
flagged and widened on both sides by ``extrapolation_fraction``, a number the caller derives from the model
itself (the slowdown it predicts between the largest validated count and the job's), since that part of the
prediction was never checked against a measurement.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

MIN_POOL = 30
LEVEL = 0.80  # central interval: 10th to 90th percentile
RESIDUAL_COLUMNS = ("id", "document", "software", "accelerator", "gpus", "moe", "precision", "speed_error_pct")


@dataclass(frozen=True)
class Residual:
    id: str
    document: str
    software: str
    accelerator: str
    gpus: int
    moe: bool
    precision: str
    log_error: float  # log(1 + speed error)


@dataclass(frozen=True)
class Kind:
    """What a prediction is: the features the pool is matched on."""

    software: str
    accelerator: str
    gpus: int
    moe: bool

    @property
    def band(self) -> str:
        from supercluster.validate.harness import gpu_band

        return gpu_band(self.gpus)


@dataclass(frozen=True)
class StepInterval:
    """The step time lies within low_factor..high_factor times the prediction with probability ``level``."""

    low_factor: float
    high_factor: float
    level: float
    pool_rows: int
    pool_documents: int
    basis: str
    max_validated_gpus: int
    extrapolated: bool
    widened_by: float
    note: str

    def bounds(self, value: float) -> tuple[float, float]:
        return value * self.low_factor, value * self.high_factor

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _data(name: str) -> Path:
    return Path(str(resources.files("supercluster.validate.data").joinpath(name)))


@lru_cache(maxsize=1)
def residuals() -> tuple[Residual, ...]:
    path = _data("residuals.csv")
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            err = float(row["speed_error_pct"]) / 100.0
            if not math.isfinite(err) or err <= -1.0:
                continue
            out.append(
                Residual(
                    row["id"],
                    row["document"],
                    row["software"],
                    row["accelerator"],
                    int(row["gpus"]),
                    row["moe"] == "true",
                    row["precision"],
                    math.log1p(err),
                )
            )
    return tuple(out)


@lru_cache(maxsize=1)
def calibration() -> dict[str, Any]:
    return dict(json.loads(_data("interval_calibration.json").read_text(encoding="utf-8")))


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _groups(rows: tuple[Residual, ...]) -> dict[tuple[bool, str, str, str], list[Residual]]:
    """Residuals grouped by the features the score reads, so a pool scores groups, not rows."""
    from supercluster.validate.harness import gpu_band

    out: dict[tuple[bool, str, str, str], list[Residual]] = {}
    for r in rows:
        out.setdefault((r.moe, r.software, r.accelerator, gpu_band(r.gpus)), []).append(r)
    return out


@lru_cache(maxsize=4)
def _grouped(rows: tuple[Residual, ...]) -> dict[tuple[bool, str, str, str], list[Residual]]:
    return _groups(rows)


def pool(
    kind: Kind, exclude_document: str | None = None, pool_from: tuple[Residual, ...] | None = None
) -> list[Residual]:
    """The residuals nearest in kind: whole score tiers from the top until MIN_POOL rows are in."""
    band = kind.band
    tiers: dict[int, list[Residual]] = {}
    for (moe, software, accelerator, r_band), members in _grouped(
        pool_from if pool_from is not None else residuals()
    ).items():
        score = 3 * (moe == kind.moe) + 2 * (software == kind.software) + (accelerator == kind.accelerator)
        score += r_band == band
        kept = members if exclude_document is None else [r for r in members if r.document != exclude_document]
        tiers.setdefault(score, []).extend(kept)
    chosen: list[Residual] = []
    for score in sorted(tiers, reverse=True):
        chosen += tiers[score]
        if len(chosen) >= MIN_POOL:
            break
    return chosen


@lru_cache(maxsize=2)
def _max_validated_gpus(moe: bool) -> int:
    return max((r.gpus for r in residuals() if r.moe == moe), default=0)


def log_bounds(chosen: list[Residual], scale: float) -> tuple[float, float]:
    values = sorted(r.log_error for r in chosen)
    tail = (1.0 - LEVEL) / 2.0
    med = _quantile(values, 0.5)
    return med + scale * (_quantile(values, tail) - med), med + scale * (_quantile(values, 1.0 - tail) - med)


def step_interval(kind: Kind, extrapolation_fraction: float = 0.0) -> StepInterval:
    """The interval of the true step time over the predicted one, for a prediction of this kind."""
    chosen = pool(kind)
    lo, hi = log_bounds(chosen, float(calibration()["scale"]))
    max_gpus = _max_validated_gpus(kind.moe)
    extrapolated = kind.gpus > max_gpus
    widen = max(0.0, extrapolation_fraction) if extrapolated else 0.0
    low = math.exp(lo) / (1.0 + widen)
    high = math.exp(hi) * (1.0 + widen)
    docs = len({r.document for r in chosen})
    family = "MoE" if kind.moe else "dense"
    basis = (
        f"{len(chosen)} validated {family} runs from {docs} sources nearest in kind "
        f"({kind.software}, {kind.accelerator}, {kind.band} GPUs)"
    )
    note = ""
    if extrapolated:
        note = (
            f"{kind.gpus:,} GPUs is beyond the largest validated {family} run ({max_gpus:,} GPUs): the interval is "
            f"widened by {widen * 100:.1f}% on each side, the slowdown the model predicts between {max_gpus:,} GPUs "
            "and this count at the same work per GPU, which no measurement has checked"
        )
    return StepInterval(low, high, LEVEL, len(chosen), docs, basis, max_gpus, extrapolated, widen, note)
