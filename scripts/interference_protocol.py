"""Does the compute-communication interference term (supercluster.perf.interference) land in the step time?

    python scripts/interference_protocol.py     # validate all + published, without and with the term (~2 min)

Validates every bundled set with the term out of the step time and in it, and records for each the MAPE of all
rows and their leave-one-source-out MAPE, the mean signed speed error, the BF16/FP8 dense and MoE groups, every
GPU-count band's MAPE and signed error, the published set in sample and leave-one-source-out, and the source tables
whose error moved by more than 2 points. The term lands only if neither leave-one-source-out MAPE (all rows, the
published set) rises. Also records both leave-one-source-out MAPEs across the paper's range of the slowdown
(SLOWDOWN_RANGE), so the verdict is shown not to hinge on the one constant. Writes
benchmarks/results/interference_protocol.json; the verdict is perf.interference.IN_STEP_TIME.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import date

from term_protocol import ROOT, compare, summarise

from supercluster.perf import interference

# Lee et al. 2025 (arXiv:2507.03114): 18.9% on average, 40% at most; the lower values bracket the mitigation the
# paper reports for FP8 and specialised datapaths
SLOWDOWN_RANGE = (0.05, 0.10, 0.189, 0.40)


def _set(in_step: bool) -> None:
    interference.IN_STEP_TIME = in_step


def main() -> None:
    t0 = time.perf_counter()
    verdict = interference.IN_STEP_TIME
    before, after = summarise(_set, False), summarise(_set, True)
    sweep, cited = {}, interference.COMPUTE_SLOWDOWN
    for s in SLOWDOWN_RANGE:
        interference.COMPUTE_SLOWDOWN = s
        f = summarise(_set, True)
        sweep[str(s)] = {"all_rows_loso_mape_pct": f["all_rows"]["loso_mape_pct"], "published": f["published"]}
    interference.COMPUTE_SLOWDOWN = cited
    interference.IN_STEP_TIME = verdict
    result = {
        "date": date.today().isoformat(),
        "machine": platform.platform(),
        "compute_slowdown": interference.COMPUTE_SLOWDOWN,
        **compare(before, after),
        "slowdown_sweep": sweep,
        "run_s": round(time.perf_counter() - t0, 1),
    }
    path = ROOT / "benchmarks" / "results" / "interference_protocol.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
