"""Does the fixed-cost term (supercluster.perf.fixed_cost) land in the step time? The accuracy protocol decides.

    python scripts/fixed_cost_protocol.py     # validate all + published, without and with the term (~2 min)

Validates every bundled set with the term out of the step time and in it, and records for each the MAPE of all
rows and their leave-one-source-out MAPE, the mean signed speed error, the BF16/FP8 dense and MoE groups, every
GPU-count band's MAPE and signed error, the published set in sample and leave-one-source-out, and the source tables
whose error moved by more than 2 points. The term lands only if neither leave-one-source-out MAPE (all rows, the
published set) rises. Writes benchmarks/results/fixed_cost_protocol.json; the verdict is
perf.fixed_cost.IN_STEP_TIME.
"""

from __future__ import annotations

from term_protocol import judge

from supercluster.perf import fixed_cost


def main() -> None:
    constants = {"kernel_gap_s": fixed_cost.KERNEL_GAP_S, "eager_host_s": fixed_cost.EAGER_HOST_S}
    judge(fixed_cost, "IN_STEP_TIME", "fixed_cost", constants)


if __name__ == "__main__":
    main()
