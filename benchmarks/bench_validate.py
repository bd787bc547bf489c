"""Accuracy of the step model against measured runs, recorded with the date and the machine.

    python benchmarks/bench_validate.py          # prints and writes benchmarks/results/validate.json

Both sets: the bundled copy of ../shared/validation/published_runs.csv and the project's own cited MoE,
FP8 and Blackwell runs (src/supercluster/validate/data/project_runs.csv). Per source table and per group:
rows, MAPE and the worst error; per row: predicted, measured and the layout the fill chose.
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
        "per_source": summary["per_source"],
        "per_group": summary["per_group"],
        "per_row": {r.id: {"error_pct": r.error_pct, "layout": r.layout} for r in rep.rows},
    }


def main() -> None:
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "published": record(None),
        "project": record("project"),
    }
    path = Path(__file__).parent / "results" / "validate.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    for name in ("published", "project"):
        print(f"{name}: {out[name]['rows']} rows in {out[name]['wall_s']:.2f} s")
        for source, s in out[name]["per_source"].items():
            mape = s["mape_pct"]
            print(f"  {source[:70]:70s} {s['n']:3d} rows  MAPE {mape:6.2f}%" if mape is not None else f"  {source}")
    print("wrote", path)


if __name__ == "__main__":
    main()
