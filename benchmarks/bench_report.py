"""The README's first command as a new user runs it: fresh virtual environment, install, default report.

    python benchmarks/bench_report.py     # writes benchmarks/results/report.json

Target (issue 8): under a minute on 2 cores for the report; the install time depends on the package
index (here a local mirror) and is recorded separately.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)]
        t0 = time.perf_counter()
        subprocess.run(pip, check=True, capture_output=True)
        install = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(venv / "bin" / "supercluster"), "report", "--no-color", "-o", str(Path(tmp) / "report.html")],
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        report = time.perf_counter() - t0
        size = (Path(tmp) / "report.html").stat().st_size
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "install_s": install,
        "report_s": report,
        "total_s": install + report,
        "report_bytes": size,
        "summary_lines": len(out.stdout.splitlines()),
    }
    (ROOT / "benchmarks" / "results" / "report.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
