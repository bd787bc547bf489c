"""Rebuild the residuals behind the error bars and fit their one constant by leave-one-source-out coverage.

    python scripts/build_residuals.py

Runs every bundled validation set (`validate all`), writes each predicted throughput row's speed error with its
kind to src/supercluster/validate/data/residuals.csv, then finds the spread scale at which the 80% interval,
built for each row from the residuals of OTHER source documents only, covers 80% of rows; writes it with the
coverage and the date to interval_calibration.json. Re-run after any change to the step model (a test fails
when residuals.csv no longer matches the model).
"""

from __future__ import annotations

import csv
import json
import platform
from datetime import date
from pathlib import Path

from supercluster.validate import interval
from supercluster.validate.harness import read_rows, run, source_document

DATA = Path(__file__).resolve().parent.parent / "src" / "supercluster" / "validate" / "data"


def residual_rows() -> list[dict[str, str]]:
    _, raw = read_rows("all")
    gpu_of = {r["id"]: (r.get("gpu") or "").strip() for r in raw}
    out = []
    for r in run("all").rows:
        if r.speed_error_pct is None or r.gpus is None or r.metric == "activation_gib_per_gpu":
            continue
        out.append(
            {
                "id": r.id,
                "document": source_document(r.source),
                "software": r.software,
                "accelerator": gpu_of.get(r.id, ""),
                "gpus": str(r.gpus),
                "moe": "true" if " moe " in f" {r.group} " else "false",
                "precision": r.precision,
                "speed_error_pct": f"{r.speed_error_pct:.4f}",
            }
        )
    return out


def loso_hits(rows: tuple[interval.Residual, ...], scale: float) -> list[bool]:
    """For each row: does the interval built from the other source documents' residuals cover it?"""
    hits = []
    for r in rows:
        kind = interval.Kind(r.software, r.accelerator, r.gpus, r.moe)
        lo, hi = interval.log_bounds(interval.pool(kind, exclude_document=r.document, pool_from=rows), scale)
        hits.append(lo <= r.log_error <= hi)
    return hits


def loso_coverage(rows: tuple[interval.Residual, ...], scale: float) -> float:
    hits = loso_hits(rows, scale)
    return sum(hits) / len(hits)


def nested_coverage(rows: tuple[interval.Residual, ...]) -> float:
    """The scale itself judged by leave-one-source-out: for each document, the scale is chosen on the other
    documents' rows (grid 1.00-1.80) and the document's own rows are scored with it."""
    grid = [1.0 + 0.04 * i for i in range(21)]
    hits = {s: loso_hits(rows, s) for s in grid}
    covered = 0
    for doc in {r.document for r in rows}:
        others = [i for i, r in enumerate(rows) if r.document != doc]
        mine = [i for i, r in enumerate(rows) if r.document == doc]
        best = min(grid, key=lambda s: abs(sum(hits[s][i] for i in others) / len(others) - interval.LEVEL))
        covered += sum(hits[best][i] for i in mine)
    return covered / len(rows)


def main() -> None:
    rows = residual_rows()
    with (DATA / "residuals.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(interval.RESIDUAL_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    interval.residuals.cache_clear()
    res = interval.residuals()
    lo, hi = 0.5, 3.0
    for _ in range(30):  # coverage rises with the scale: bisect for the level
        mid = (lo + hi) / 2
        if loso_coverage(res, mid) < interval.LEVEL:
            lo = mid
        else:
            hi = mid
    scale = round(hi, 4)
    record = {
        "scale": scale,
        "level": interval.LEVEL,
        "loso_coverage": round(loso_coverage(res, scale), 4),
        "coverage_at_scale_1": round(loso_coverage(res, 1.0), 4),
        "nested_loso_coverage": round(nested_coverage(res), 4),
        "rows": len(res),
        "min_pool": interval.MIN_POOL,
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
    (DATA / "interval_calibration.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
