"""Accuracy of the step model against measured runs, recorded with the date and the machine.

    python benchmarks/bench_validate.py          # prints and writes benchmarks/results/validate.json

Every bundled set (published, project, fsdp, reports, moe, vendor) and all of them together. Per source table
and per group: rows, MAPE and the worst error; for `all` also per GPU-count band, stack and precision with the
mean signed speed error, and leave-one-source-out MAPE beside in-sample; per row: error and the filled layout.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import date
from pathlib import Path

from supercluster.validate import harness


def record(csv: str | None) -> dict:
    t0 = time.perf_counter()
    rep = harness.run(csv)
    wall = time.perf_counter() - t0
    summary = rep.summary()
    return {
        "csv": Path(rep.csv_path).name,
        "wall_s": wall,
        "rows": summary["n"],
        "mape_pct": summary["mape_pct"],
        "loso_mape_pct": summary.get("loso_mape_pct"),
        "per_source": summary["per_source"],
        "per_group": summary["per_group"],
        "per_gpu_band": summary.get("per_gpu_band"),
        "per_stack": summary.get("per_stack"),
        "per_precision": summary.get("per_precision"),
        "per_row": {r.id: {"error_pct": r.error_pct, "layout": r.layout} for r in rep.rows},
    }


def main() -> None:
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        **{name: record(name) for name in (*harness.DATASETS, "all")},
    }
    path = Path(__file__).parent / "results" / "validate.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    for name in ("published", "project", "all"):
        print(f"{name}: {out[name]['rows']} rows in {out[name]['wall_s']:.2f} s")
        for source, s in out[name]["per_source"].items():
            mape = s["mape_pct"]
            print(f"  {source[:70]:70s} {s['n']:3d} rows  MAPE {mape:6.2f}%" if mape is not None else f"  {source}")
    print("wrote", path)


if __name__ == "__main__":
    main()
