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

from typing import Any

from term_protocol import judge, summarise

from supercluster.perf import interference

# Lee et al. 2025 (arXiv:2507.03114): 18.9% on average, 40% at most; the lower values bracket the mitigation the
# paper reports for FP8 and specialised datapaths
SLOWDOWN_RANGE = (0.05, 0.10, 0.189, 0.40)


def sweep(result: dict[str, Any], _before: dict[str, Any], set_term: Any) -> None:
    """Both leave-one-source-out MAPEs with the term in, across the paper's range of the slowdown."""
    cited, out = interference.COMPUTE_SLOWDOWN, {}
    try:
        for s in SLOWDOWN_RANGE:
            interference.COMPUTE_SLOWDOWN = s
            f = summarise(set_term, True)
            out[str(s)] = {"all_rows_loso_mape_pct": f["all_rows"]["loso_mape_pct"], "published": f["published"]}
    finally:
        interference.COMPUTE_SLOWDOWN = cited
    result["slowdown_sweep"] = out


def main() -> None:
    judge(interference, "IN_STEP_TIME", "interference", {"compute_slowdown": interference.COMPUTE_SLOWDOWN}, sweep)


if __name__ == "__main__":
    main()
