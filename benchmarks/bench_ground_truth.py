"""Reproducibility of `calibrate --ground-truth` on the CPU: the command run several times in a row.

    python benchmarks/bench_ground_truth.py [RUNS [NAME]]   # writes benchmarks/results/NAME.json
                                                            # (default: 3 runs, ground_truth_cpu)

Issue 17 asks that two consecutive runs agree within 10%: their reported errors (predicted/measured - 1) within
10 points of each other. Each run is a fresh process (`supercluster calibrate --device cpu --ground-truth
--json`), as a user runs it; recorded with the date, the machine (cores, CPU model) and the load average before
and after each run, since other processes share the cores.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def one_run(out_dir: str, i: int) -> dict:
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "supercluster.cli", "calibrate", "--device", "cpu", "--ground-truth", "--json"]
    proc = subprocess.run([*cmd, "-o", f"{out_dir}/cpu-{i}.yaml"], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run {i} failed: {proc.stderr.strip()[-400:]}")
    gt = json.loads(proc.stdout)["ground_truth"]
    return {
        "wall_s": wall,
        "load_avg_1_5_15_before": load_before,
        "load_avg_1_5_15_after": os.getloadavg(),
        "error_pct": gt["error_pct"],
        "measured_step_s": gt["measured_step_s"],
        "predicted_step_s": gt["predicted_step_s"],
        "block_errors_pct": gt.get("block_errors_pct", []),
        "blocks": gt.get("blocks", []),
        "threads": gt.get("threads", 0),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if not 2 <= n <= 10:
        raise SystemExit(f"RUNS must be 2-10, got {n}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(tmp, i) for i in range(n)]
    errors = [r["error_pct"] for r in runs]
    gaps = [abs(a - b) for a, b in itertools.pairwise(errors)]
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}",
        "command": "supercluster calibrate --device cpu --ground-truth --json",
        "package": str(Path(__import__("supercluster").__file__).parent),
        "errors_pct": errors,
        "consecutive_gaps_pts": gaps,
        "within_10_pts": all(g <= 10 for g in gaps),
        "runs": runs,
    }
    name = sys.argv[2] if len(sys.argv) > 2 else "ground_truth_cpu"
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"NAME must be letters, digits and underscores, got {name!r}")
    path = Path(__file__).parent / "results" / f"{name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    for i, r in enumerate(runs):
        print(
            f"run {i}: error {r['error_pct']:+.1f}% (measured {r['measured_step_s'] * 1e3:.0f} ms, predicted "
            f"{r['predicted_step_s'] * 1e3:.0f} ms, {len(r['blocks'])} blocks) in {r['wall_s']:.0f} s, "
            f"load {r['load_avg_1_5_15_before'][0]:.1f} -> {r['load_avg_1_5_15_after'][0]:.1f}"
        )
    print(f"consecutive gaps {', '.join(f'{g:.1f}' for g in gaps)} points; wrote {path}")


if __name__ == "__main__":
    main()
