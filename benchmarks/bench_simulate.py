"""Whole-run Monte Carlo speed: 90 days on 100,000 GPUs, 1,000 trials (issue 6 target: <= 10 s on 2 cores).

python benchmarks/bench_simulate.py     # prints and writes benchmarks/results/simulate.json
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import date
from pathlib import Path

from supercluster import api, catalog
from supercluster.catalog.loader import reliability
from supercluster.lifecycle.montecarlo import simulate
from supercluster.lifecycle.run import setup


def main() -> None:
    # Step time of the default scenario's job; failures of all 100,000 GPUs of the machine.
    scn = catalog.load("colossus-grok")
    step = api.estimate(scn).step
    rs = setup(scn, step, reliability(), gpus=100_000, days=90)
    t0 = time.perf_counter()
    res = simulate(rs.inputs, trials=1000, seed=0)
    wall = time.perf_counter() - t0
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "case": "grok-1 on colossus-100k, 100,000 GPUs, 90-day window, 1,000 trials",
        "wall_s": wall,
        "interruptions_per_trial": float(res.interruptions.mean()),
        "events_simulated": int(res.interruptions.sum() + res.planned.sum()),
        "ettr_mean": float(res.ettr.mean()),
    }
    path = Path(__file__).parent / "results" / "simulate.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
