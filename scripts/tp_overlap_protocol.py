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

import json
import platform
import time
from datetime import date

from term_protocol import ROOT, compare, summarise

from supercluster.perf import tp_overlap


def _set(on: bool) -> None:
    tp_overlap.ENABLED = on


def main() -> None:
    t0 = time.perf_counter()
    verdict = tp_overlap.ENABLED
    before, after = summarise(_set, False), summarise(_set, True)
    tp_overlap.ENABLED = verdict
    result = {
        "date": date.today().isoformat(),
        "machine": platform.platform(),
        "tuned_sms": tp_overlap.TUNED_SMS,
        "config": {k: [op.method, op.sms, op.splits, op.margin] for k, op in tp_overlap.NEMO_UB.items()},
        **compare(before, after),
        "run_s": round(time.perf_counter() - t0, 1),
    }
    path = ROOT / "benchmarks" / "results" / "tp_overlap_protocol.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1)[-1500:])
    print("wrote", path)


if __name__ == "__main__":
    main()
