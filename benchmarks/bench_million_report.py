"""`supercluster report million-gpu` end to end, as a user runs it (issue 18: the report of a million-GPU run, with
the power-swing figure and the battery sizing; target: under about a minute on 2 cores).

    python benchmarks/bench_million_report.py     # prints and writes benchmarks/results/report_million.json
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "million.html"
        cmd = [sys.executable, "-m", "supercluster.cli", "report", "million-gpu", "--no-color", "-o", str(html)]
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        text = html.read_text(encoding="utf-8")
    out = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "case": "supercluster report million-gpu (1,048,576 GPUs)",
        "wall_s": wall,
        "report_bytes": len(text.encode("utf-8")),
        "has_power_swing_figure": "plot-swing-steps" in text and "plot-swing-event" in text,
        "has_battery_sizing": "battery" in text.lower(),
        "has_simulation": "Surviving failures" in text,
    }
    path = Path(__file__).parent / "results" / "report_million.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
