"""`supercluster limits` with its defaults (H100, 90 days, 1e24-1e32 FLOP, 4 points per decade): run time (issue
18 item 3 bound: <= 60 s on 2 cores) and the thresholds it finds.

python benchmarks/bench_limits.py     # prints and writes benchmarks/results/limits.json
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import date
from pathlib import Path

from supercluster import api


def main() -> None:
    t0 = time.perf_counter()
    d = api.limits().to_dict()
    wall = time.perf_counter() - t0
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "case": "supercluster limits defaults: h100-sxm-80gb, 90 days, 1e24-1e32 FLOP, 4 points per decade",
        "wall_s": wall,
        "compute_points": len(d["rows"]),
        "gpu_counts_planned": d["trials"],
        "system": d["system"],
        "software": d["software"],
        "utilisation_knee_flop": d["utilisation_knee_flop"],
        "latency_wall_flop": d["latency_wall_flop"],
        "fabric_wall_flop": d["fabric_wall_flop"],
        "plateau_mfu": d["plateau_mfu"],
        "paper_knee_flop": d["paper"]["utilisation_knee_flop"],
        "paper_wall_flop": d["paper"]["latency_wall_flop"],
    }
    path = Path(__file__).parent / "results" / "limits.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
