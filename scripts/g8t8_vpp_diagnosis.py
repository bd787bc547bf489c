"""MoE Parallel Folding's Mixtral-8x22B-G8T8 MCore baseline: interleaved or not? (issue 15, the pf25 G8T8 rows)

Liu et al. 2025 (arXiv:2504.14960) give no virtual-pipeline size, micro-batch, recompute, CUDA-graph or dispatcher
flag for any run. What the paper says of the setup, read in full (a markdown conversion of the arXiv PDF; the HTML
pages corpus holds only the opening):

- Tables: Table 3's columns are "Model | Methods | GPUs | CP | TP | EP | PP | ETP | MFU" ("In these experiments,
  the global batch size was fixed at 256, and the sequence length was fixed at 4096"); Table 4's are "Model |
  Methods | GPUs | MFU" (section 6.4: "we fixed the parallel configuration and increased the number of GPUs ...
  All parallel configurations are the same as those identified in the performance experiments"; section 4.3:
  "The global batch size is set to 1024 in the scaling experiments"); Table 5 adds SeqLen and GBS. No VPP column.
- Router: "we use token drop training with a capacity factor equal to 1 for benchmarking" (4.2); "we adopt the
  sub-sequence dropping approach as the default strategy" (3.3). Dispatcher: the all-to-all-V plus, with ETP > 1,
  "an AllGather-V communication is performed within the ETP groups" (3.3, Figure 2).
- Why fine-grained MoE runs slowly: "(1) Fine-grained MoE models generate higher communication volume ... the
  smaller hidden sizes decrease GEMM efficiency. (2) Fine-grained MoE models typically incorporate a larger number
  of local and active experts, leading to significant memory overhead for storing activations. The memory
  requirements for managing numerous experts force the use of larger model parallelism sizes" (4.2); "ETP in the
  MoE layer introduces substantially higher communication overhead compared to EP, with this effect being
  particularly pronounced in fine-grained MoE models" and "When ETPxEP exceeds 8, necessitating inter-node
  communication, communication overhead dominates, accounting for over 70% of the total latency" (4.4).

What the code of the time allows: Megatron-Core 0.11 (core_v0.11.0, 2025-03-14) asserts
"num_layers_per_pipeline_rank % vp_size == 0" (transformer_block.py get_num_layers_to_build) and
"number of layers per pipeline stage must be divisible number of layers per virtual pipeline stage"
(training/arguments.py): Mixtral's 56 layers on 8 stages run vpp 1 or 7, never the 6 validation used to fill (the
plan space and the fill now offer only the splits a stack can run, perf.vpp_split; vpp 7 prices within 0.5 point
of 6 on every pf25 row). The authors' own benchmark
harness (yanring/Megatron-MoE-ModelZoo 78fd4d6, 2025-04-03, runtime_configs/benchmarking/runtime.conf) lists
"[Qwen2-57B-A14B]= 2 4 4 1 7 1 256 28" (TP PP EP CP VPP MBS GBS LAYERS: the paper's Qwen2 layout with vpp 7) and
"[Mixtral-8x22B]= 2 8 8 1 1 1 256 56" (vpp 1, changed to 7 on 2025-07-30, 7f59386 "Update Mixtral 8x22B"); it
has no G8T8 entry.

What prices it (perf.combine_memory): Megatron-Core 0.9-0.12 keeps each token's k returned expert outputs for the
router gradient. On the coupled G8T8 layout (tp 2 = expert TP 2, ep 8, expert-DP 1 at 128 GPUs, so the expert
optimizer state is not sharded) that is 2 x 8 x 4,096 x 6,144 / 2 B = 201 MB per layer and micro-batch; with it
the 128-GPU layout interleaved needs 80.5 GiB (vpp 7) or 81.6 GiB (vpp 6) and fits only non-interleaved
(74.1 GiB): the fill takes vpp 1 and the 128-GPU rows read +7.5 (Table 3) and +7.2 (Table 4) instead of +24.9 and
+11.7. The measured fixed cost agrees: at 128 GPUs (expert-DP 1, so no expert-gradient synchronisation) the GBS
256 / 1,024 pair gives step = a x micro-batches + b with b = 1.32 s measured, 0.27 s priced interleaved, 1.20 s
non-interleaved (the 1F1B bubble, (pp - 1) micro-batch times). At 256-1,024 GPUs the expert optimizer state is
sharded over expert-DP 2-8 and the model fits vpp 7 (74, 71, 70 GiB), so the fill alone would interleave there
(+18.9, +31.1, +51.7). Section 6.4 fixes the configuration across Table 4, so every Table 4 row now carries the
knobs the paper leaves blank (vpp, ETP, ZeRO stage, micro-batch, recompute) from the fill's resolution of the
Table 3 row of the same model and method (moe_runs.csv notes): the G8T8 MCore rows run vpp 1 and read +9.7,
+12.5, +15.4; the Llama3-8x70B folded rows take Table 3's ETP 2 and ZeRO 1 (-7.3 -> +1.0 at 1,024 GPUs; at 128 GPUs
ETP 2 cannot run, ep 8 must divide dp 1 x tp 8 / etp, so that row keeps the fill's ETP 1: -20.8 -> +2.9); every
other Table 4 row resolves as before. This script prints the G8T8 rows at the filled vpp, vpp 1 and vpp 7.
Run (bounded: the pf25 rows, three layouts each, ~2 s):

    python scripts/g8t8_vpp_diagnosis.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys

from rich.table import Table
from script_args import emit, parse, run

from supercluster.plan import resolve
from supercluster.units import GIB
from supercluster.validate import fill_rule
from supercluster.validate.harness import measured_estimate, predict_row, read_rows

PREFIX = "pf25-"
VPPS = (1, 7)


def diagnose(row: dict[str, str]) -> dict | None:
    """The row as validated and at vpp 1 and 7 (recompute and the other blank knobs as the fill leaves them)."""
    res = predict_row(row)
    if res.speed_error_pct is None:
        return None
    specs, est = measured_estimate(row)
    out = {
        "id": row["id"],
        "gpus": est.gpus,
        "filled_vpp": est.plan.vpp,
        "speed_error_pct": res.speed_error_pct,
        "memory_gib": est.memory.total_bytes / GIB,
        "capacity_gib": est.memory.capacity_bytes / GIB,
        "at_vpp": {},
    }
    for v in VPPS:
        plan = specs.plan.model_copy(update={"vpp": v, "recompute": est.plan.recompute})
        alt = resolve(plan, specs.workload, specs.system, specs.software, specs.system.gpus, fill_rule.measured)
        err = (1.0 + res.speed_error_pct / 100.0) * est.step_time_s / alt.step_time_s * 100.0 - 100.0
        out["at_vpp"][str(v)] = {
            "speed_error_pct": err,
            "memory_gib": alt.memory.total_bytes / GIB,
            "bubble_s": alt.bubble_s,
        }
    return out


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("moe")
    done = [d for d in (diagnose(r) for r in rows if r["id"].startswith(PREFIX) and "g8t8" in r["id"]) if d]
    table = Table(title="pf25 G8T8 rows: speed error % (+ = model fast), memory GiB")
    for col in ("row", "vpp", "err", "GiB", "v1 err", "v1 GiB", "v7 err", "v7 GiB"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for d in done:
        v1, v7 = d["at_vpp"]["1"], d["at_vpp"]["7"]
        table.add_row(
            d["id"][len(PREFIX) :].replace("mixtral-8x22b-", "").replace("mixtral-", ""),
            str(d["filled_vpp"]),
            f"{d['speed_error_pct']:+.1f}",
            f"{d['memory_gib']:.1f}",
            f"{v1['speed_error_pct']:+.1f}",
            f"{v1['memory_gib']:.1f}",
            f"{v7['speed_error_pct']:+.1f}",
            f"{v7['memory_gib']:.1f}",
        )
    emit(args, {"rows": done}, [table, f"capacity {done[0]['capacity_gib']:.0f} GiB; the fill keeps a 5% margin"])


if __name__ == "__main__":
    run(main, sys.argv[1:])
