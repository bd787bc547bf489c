"""Speed of the step model: one estimate in-process, a filled estimate, and the whole validate run.

    python benchmarks/bench_estimate.py          # prints and writes benchmarks/results/estimate.json

Targets (issue 2): one estimate well under 1 ms; the validate run recorded.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

from supercluster import api, catalog
from supercluster.perf import estimate
from supercluster.plan import resolve
from supercluster.validate import run as validate_run


def per_call_s(fn, repeat: int) -> float:
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - t0) / repeat)
    return statistics.median(samples)


def main() -> None:
    scn = catalog.load("llama3-405b-16k")
    step = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus)
    fixed = step.plan
    results = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}".strip(),
        "estimate_one_layout_llama3_405b_16k_s": per_call_s(
            lambda: estimate(scn.workload, scn.system, scn.software, fixed, scn.gpus), 200
        ),
        "estimate_filled_llama3_405b_16k_s": per_call_s(
            lambda: resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus), 5
        ),
    }
    grok = catalog.load("colossus-grok")
    results["estimate_filled_colossus_grok_s"] = per_call_s(lambda: api.estimate(grok), 3)
    t0 = time.perf_counter()
    rep = validate_run()
    results["validate_bundled_csv_s"] = time.perf_counter() - t0
    results["validate_rows"] = len(rep.rows)
    path = Path(__file__).parent / "results" / "estimate.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    for k, v in results.items():
        print(f"{k:45s} {v * 1e3:.3f} ms" if isinstance(v, float) else f"{k:45s} {v}")


if __name__ == "__main__":
    main()
