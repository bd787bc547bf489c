"""Speed of the flow-level fabric check: one collective phase as max-min fair flows on Colossus's tree.

    python benchmarks/bench_flows.py          # prints and writes benchmarks/results/flows.json

Target (issue 14, item 5): >= 16,384 GPUs in <= 10 s on 2 cores. Each case is the colossus-grok layout's
data-parallel ring step and EP all-to-all (flows.layout_cases), nodes scattered (the harder case for the
solver: most flows cross the spines and the core), routed by ECMP and by adaptive routing.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import date
from pathlib import Path

from supercluster import catalog
from supercluster.fabric import flows


def main() -> None:
    system = catalog.system("colossus-100k")
    cases = []
    for gpus in (16384, 98304):
        for collective, size, stride in flows.layout_cases(gpus):
            for routing in ("ecmp", "adaptive"):
                r = flows.simulate(system, gpus, collective, size, stride, routing, "scattered")  # type: ignore[arg-type]
                row = {
                    k: getattr(r, k)
                    for k in ("gpus", "collective", "group_nodes", "node_stride", "routing", "order", "flows", "links")
                }
                row |= {
                    "rounds": r.levels,
                    "busbw_fraction": round(r.busbw_fraction, 4),
                    "mean_rate_fraction": round(r.mean_rate_fraction, 4),
                    "max_flows_per_link": r.max_flows_per_link,
                    "wall_s": round(r.wall_s, 3),
                }
                cases.append(row)
                print(
                    f"{gpus:>7,} {collective:14s} {routing:8s} {r.flows:>9,} flows {r.links:>9,} links "
                    f"{r.levels:>3} rounds  busbw {r.busbw_fraction:6.1%}  mean {r.mean_rate_fraction:6.1%}  "
                    f"{r.wall_s:6.2f} s"
                )
    results = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}".strip(),
        "system": system.id,
        "cases": cases,
        "max_wall_s_16384": max(c["wall_s"] for c in cases if c["gpus"] == 16384),
        "max_wall_s_98304": max(c["wall_s"] for c in cases if c["gpus"] == 98304),
    }
    path = Path(__file__).parent / "results" / "flows.json"
    path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
