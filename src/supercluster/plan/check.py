"""Where do the layouts real teams chose rank in our search? (A check of the planner and the model.)

For every row of a published-runs CSV that states its layout (tp and pp at least; the
rest filled as `validate` fills it), search the whole space at the row's precision and
report the published layout's rank among the feasible layouts and the predicted gain of
the planner's best over it. Activation-memory rows are analyses, not runs, and are skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.plan.fill import resolve
from supercluster.plan.search import search
from supercluster.plan.space import SpaceOptions
from supercluster.specs import PlanSpec
from supercluster.validate.harness import read_rows
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload


@dataclass
class CheckRow:
    id: str
    published_layout: str
    published_step_s: float | None
    best_layout: str | None
    best_step_s: float | None
    rank: int | None
    feasible: int
    top_percent: float | None
    best_gain_pct: float | None
    status: str = "ok"
    reason: str = ""


@dataclass
class CheckReport:
    rows: list[CheckRow]

    def summary(self) -> dict[str, Any]:
        ranked = [r for r in self.rows if r.top_percent is not None]
        in_top10 = [r for r in ranked if r.top_percent is not None and r.top_percent <= 10.0]
        slower = [r for r in ranked if (r.best_gain_pct or 0) < -1e-9]
        return {
            "rows": len(self.rows),
            "ranked": len(ranked),
            "in_top_10_percent": len(in_top10),
            "share_in_top_10_percent": len(in_top10) / len(ranked) if ranked else None,
            "best_slower_than_published": len(slower),
            "median_gain_pct": sorted(r.best_gain_pct or 0 for r in ranked)[len(ranked) // 2] if ranked else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(r) for r in self.rows], "summary": self.summary()}


def check(csv_path: str | Path | None = None) -> CheckReport:
    _, rows = read_rows(csv_path)
    out: list[CheckRow] = []
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        if (
            row.get("metric") == "activation_gib_per_gpu"
            or not (row.get("tp") or "").strip()
            or not (row.get("pp") or "").strip()
        ):
            continue
        rid = row.get("id", "?")
        try:
            model = row_model(row)
            system = row_system(row)
            workload = row_workload(row, model)
            plan = row_plan(row)
            key = (
                model.model_dump_json(),
                system.id,
                system.accelerator.id,
                system.gpus,
                workload.global_batch,
                workload.seq,
                plan.model_dump_json(),
            )
            if key in seen:
                continue
            seen.add(key)
            sw = catalog.software(system.software)
            published = resolve(plan, workload, system, sw, system.gpus)
            res = search(
                workload,
                system,
                sw,
                system.gpus,
                PlanSpec(precision=published.plan.precision),
                SpaceOptions(allow_fp8=False),
                top_k=1,
            )
            best = res.top[0] if res.top else None
            fits = published.memory.fits
            rank = res.rank_of(published.step_time_s) if fits else None
            feasible = len(res.feasible_order)
            out.append(
                CheckRow(
                    id=rid,
                    published_layout=published.plan.label(),
                    published_step_s=published.step_time_s,
                    best_layout=best.plan.label() if best else None,
                    best_step_s=best.step_time_s if best else None,
                    rank=rank,
                    feasible=feasible,
                    top_percent=rank / feasible * 100 if rank and feasible else None,
                    best_gain_pct=(published.step_time_s / best.step_time_s - 1) * 100 if best and fits else None,
                    status="ok" if fits else "published layout does not fit (per this model)",
                )
            )
        except SuperclusterError as err:
            out.append(CheckRow(rid, "", None, None, None, None, 0, None, None, "failed", str(err)))
    return CheckReport(out)
