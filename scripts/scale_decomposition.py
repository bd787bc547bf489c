"""Where the step goes at scale: the step model's terms for every bundled row on >= 4,096 GPUs (issue 14).

For each measured run at 4,096 GPUs or more the predicted step is split into the terms of
:class:`supercluster.perf.step.StepEstimate`: the compute of the slowest stage (forward, backward, recompute),
the pipeline bubble, the exposed tensor/context-parallel, expert, pipeline and data-parallel communication, the
optimizer, the fixed per-kernel costs; the straggler wait (perf.straggler, priced but not in the step while its
protocol keeps it out) and the fabric-contention share of the exposed communication (perf.contention) are shown
beside them. Each share is of the predicted step. Run:

    python scripts/scale_decomposition.py [OUT.json]     # default benchmarks/results/scale_decomposition.json

What the Llama 3 paper (Dubey et al. 2024, arXiv:2407.21783, section 3.3.2) says about each term, checked against
the rows llama3-t4-405b-8k / -16k / -128k:

- bubble: "Overall pipeline bubble ratio is (PP-1)/(V*M)", and "The slight drop in MFU to 41% on 16K GPUs with
  DP=128 compared to 43% on 8K GPUs with DP=64 is due to the lower batch size per DP group": the bubble is the term
  that grows from 8K to 16K GPUs. V follows from "the first model chunk on the first stage has only the embedding,
  and the last model chunk on the last stage has only output projection and loss calculation": 126 layers plus
  those two chunks on 16 ranks is V = 8 (plan.space.EMBEDDING_HEAD_CHUNKS).
- pipeline send/receive: "asynchronous point-to-point communication in PP is adopted" (llama3-meta-2024 overlaps it).
- context parallelism at 128K: "the exposed all-gather latency is small as the communicated K and V tensors are much
  smaller than Q tensor due to the use of GQA".
- data parallelism: "DP (i.e., FSDP) is the outermost parallelism because it can tolerate longer network latency by
  asynchronously prefetching sharded model weights and reducing gradients"; FSDP "shards optimizer states and
  gradients" and reduce-scatters "gradients in FP32" (ZeRO-2, reduced every micro-batch in the model).
- stragglers and network: the paper names no per-step straggler or congestion cost at 16K GPUs; it reports
  interruptions (section 3.3.4), which the lifecycle model prices, not the step.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from script_args import guarded

from supercluster import catalog
from supercluster.perf import contention
from supercluster.plan import resolve
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload

MIN_GPUS = 4096
TERMS = ("compute_s", "recompute_s", "bubble_s", "tp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s", "optimizer_s")


def decompose(row: dict[str, str]) -> dict:
    """The predicted step of one row, term by term, with the measured speed error."""
    model = row_model(row)
    system, wl, plan = row_system(row), row_workload(row, model), row_plan(row)
    sw = catalog.software(system.software)
    est = resolve(plan, wl, system, sw, system.gpus)
    res = predict_row(row)
    out = {
        "id": row["id"],
        "gpus": system.gpus,
        "layout": est.plan.label(),
        "speed_error_pct": res.speed_error_pct,
        "step_time_s": est.step_time_s,
        "microbatches": est.microbatches,
    }
    out.update({t: float(getattr(est, t)) for t in TERMS})
    out["fixed_s"] = float(est.fixed_s)
    out["straggler_s"] = float(est.straggler_s)
    out["straggler_in_step"] = bool(est.straggler_in_step)
    out["contention_s"] = float(contention.contention_s(wl, system, sw, est.plan, system.gpus))
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results/scale_decomposition.json")
    _, rows = read_rows("all")
    big = [r for r in rows if r["metric"] != "activation_gib_per_gpu" and int(r["gpus"] or 0) >= MIN_GPUS]
    done = [decompose(r) for r in sorted(big, key=lambda r: (int(r["gpus"]), r["id"]))]
    table = Table(title=f"Predicted step by term, rows on >= {MIN_GPUS:,} GPUs (% of step)")
    for col in ("row", "GPUs", "step s", "comp", "bub", "TP", "DP", "strag", "err"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for d in done:

        def share(seconds: float, step: float = d["step_time_s"]) -> str:
            return f"{100 * seconds / step:.0f}"

        table.add_row(
            d["id"][:26],
            f"{d['gpus']:,}",
            f"{d['step_time_s']:.2f}",
            share(d["compute_s"] + d["recompute_s"]),
            share(d["bubble_s"]),
            share(d["tp_comm_s"]),
            share(d["dp_comm_s"]),
            share(d["straggler_s"]),
            "-" if d["speed_error_pct"] is None else f"{d['speed_error_pct']:+.1f}",
        )
    Console(width=80).print(table)
    path.write_text(json.dumps({"min_gpus": MIN_GPUS, "rows": done}, indent=1) + "\n", encoding="utf-8")
    print("wrote", path)


if __name__ == "__main__":
    guarded(
        main,
        "scale_decomposition.py [OUT.json]",
        flags=(),
        valued=(),
        paths=(0, 1),
    )
