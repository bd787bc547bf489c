"""Two source trees timed against each other on the issue 14 targets, alternating in the same minutes.

    git archive <before-commit> src | tar -x -C /tmp/before
    python benchmarks/bench_before_after.py /tmp/before/src src 6   # writes benchmarks/results/before_after.json
    python benchmarks/bench_before_after.py /tmp/before/src src 6 before_after_speed3.json   # another results file

On a shared machine a single timing says more about the other work than about the code: each round runs the
"before" tree and then the "after" tree in fresh processes, each timing one estimate of the llama3-405b-16k layout
cold (the per-specs context cleared first, as the first estimate of new specs) and warm (the fastest of 10 blocks of
50 calls) and the two reference searches of bench_plan.py (the fastest of 3 cold runs); the fastest and the median
of each figure over the rounds are recorded with the load average. The same process measures either tree, so the
ratio is the code's.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

ONE = r"""
import json, os, time
from supercluster import catalog
from supercluster.perf import context, estimate
from supercluster.plan import resolve, search
from supercluster.specs import WorkloadSpec

scn = catalog.load("llama3-405b-16k")
plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan

def cold():
    context.clear()
    estimate(scn.workload, scn.system, scn.software, plan, scn.gpus)

def warm():
    estimate(scn.workload, scn.system, scn.software, plan, scn.gpus)

out = {"load": os.getloadavg()[0]}
for fn in (cold, warm):
    fn()
    blocks = []
    for _ in range(10):
        t0 = time.perf_counter()
        for _ in range(50):
            fn()
        blocks.append((time.perf_counter() - t0) / 50)
    out[fn.__name__ + "_estimate_s"] = min(blocks)
cases = {
    "llama3_405b_16k": ("dgx-h100-superpod", 16384, "llama3-405b", 8192, 2048),
    "grok1_colossus": ("colossus-100k", 98304, "grok-1", 8192, 12288),
}
for name, (system_name, gpus, model, seq, batch) in cases.items():
    system = catalog.system(system_name, gpus=gpus if system_name.startswith("dgx") else None)
    sw = catalog.software(system.software)
    wl = WorkloadSpec(model=catalog.model(model), seq_len=seq, global_batch=batch)
    search(wl, system, sw, gpus)
    walls = []
    for _ in range(3):
        context.clear()
        t0 = time.perf_counter()
        res = search(wl, system, sw, gpus)
        walls.append(time.perf_counter() - t0)
    out[name + "_configs_per_s"] = res.stats.evaluated / min(walls)
print(json.dumps(out))
"""


def run(src: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    done = subprocess.run([sys.executable, "-c", ONE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    before, after = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(rounds):
        runs["before"].append(run(before))
        runs["after"].append(run(after))
    out: dict[str, object] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "before_src": before,
        "after_src": after,
        "rounds": rounds,
    }
    for tree, rows in runs.items():
        figures: dict[str, float] = {}
        for key in rows[0]:
            values = [r[key] for r in rows]
            best = max(values) if key.endswith("per_s") else min(values)
            figures[key + ("_best" if key != "load" else "_min")] = best
            figures[key + "_median"] = statistics.median(values)
        out[tree] = figures
    path = Path(__file__).parent / "results" / (sys.argv[4] if len(sys.argv) > 4 else "before_after.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
