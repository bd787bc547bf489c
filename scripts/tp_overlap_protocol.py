"""Does pricing TP traffic under Transformer Engine's userbuffers (supercluster.perf.tp_overlap) land? The accuracy
protocol decides.

    python scripts/tp_overlap_protocol.py     # validate all + published, flat fraction vs userbuffers (~1-2 min)

Validates every bundled set twice: with every stack's TP traffic priced by its flat tp_overlap_fraction, and with the
stacks whose recipes run userbuffers (tp_comm_overlap: userbuffers) priced collective by collective. Records the
protocol's figures for both (term_protocol.figures) and the source tables that moved by more than 2 points; it lands
only if neither leave-one-source-out MAPE (all rows, the published set) rises. Writes
benchmarks/results/tp_overlap_protocol.json; the verdict is perf.tp_overlap.ENABLED.
"""

from __future__ import annotations

from term_protocol import judge

from supercluster.perf import sm_share, tp_overlap


def main() -> None:
    constants = {
        "tuned_sms": sm_share.REFERENCE_SMS,  # the H100 SXM5 the userbuffers SM counts were tuned on
        "config": {k: [op.method, op.sms, op.splits, op.margin] for k, op in tp_overlap.NEMO_UB.items()},
    }
    judge(tp_overlap, "ENABLED", "tp_overlap", constants)


if __name__ == "__main__":
    main()
