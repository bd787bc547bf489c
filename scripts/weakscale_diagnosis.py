"""Per-GPU throughput that falls with GPU count while the step model stays flat (issue 14 item 3): where the gap is.

Three measured scaling series lose per-GPU speed as GPUs grow while the step model barely moves:

- MosaicML llm-foundry ``scripts/train/benchmarking/README.md``, table 'H100 80GB BF16 (Large Scale)': the same
  per-GPU batch on 128, 256 and 512 H100 (weak scaling, FSDP without model parallelism);
- Parmar et al. 2024, Nemotron-4 15B (arXiv:2402.16819) Table 2: TP 8 and data parallelism 96, 192, 288 at four
  sequences per replica (weak scaling);
- Liu et al. 2025, MoE Parallel Folding (arXiv:2504.14960) Table 4: a fixed layout on 128 to 1,024 H100 at a fixed
  global batch (strong scaling: the micro-batches per replica fall 8x).

For every row of those sources the script prints the measured and predicted step, the speed error (+ = model too
fast) and the step model's terms (:func:`scale_decomposition.decompose`). Rows that share a source, a model and a
layout apart from the data-parallel size form a series; for each series it reports the measured and predicted step
growth from its smallest to its largest GPU count and, where the micro-batches per step vary, the least-squares
line ``step = a x micro-batches + b`` through the measured and through the predicted steps (``b`` is the per-step
cost that does not shrink with the batch: the pipeline bubble, the data-parallel synchronisation, the optimizer).

It also runs the flow-level fabric check (:func:`supercluster.fabric.flows.simulate`) for the data-parallel ring of
each row on that row's own system, with ECMP hashing and with adaptive routing, jobs packed on consecutive nodes and
scattered: the test of whether flow collisions in the fabric's upper tiers (Gangidi et al., SIGCOMM 2024; Meta's
engineering blog of 2024-08-05, "ECMP rendered poor performance for the training workload due to the low flow
entropy") could produce a gradual 3-11% loss between 128 and 512 GPUs. Run:

    python scripts/weakscale_diagnosis.py [OUT.json]   # default benchmarks/results/weakscale_diagnosis.json

Bounded: about 70 rows and one flow simulation per row (at most 2,304 GPUs); a few seconds on one core.

Findings (benchmarks/results/weakscale_diagnosis.json, main at aca8553; no step-model change came out of them):

- Step per micro-batch, largest over smallest GPU count, measured vs model: llm-foundry 128 -> 512 GPUs 1B 1.108 vs
  1.016, 3B 1.081 vs 1.016, 7B 1.083 vs 1.014, 13B 1.026 vs 1.003, 30B 1.040 vs 1.003, 70B 1.051 vs 1.002;
  Nemotron-4 15B 768 -> 2,304 GPUs 1.123 vs 1.002 (768 -> 1,536 only 1.018: 0.57 s -> 0.58 s, then 0.64 s);
  Mixtral-8x22B-G8T8 MCore 128 -> 1,024 GPUs 1.478 vs 1.094, while its folded layout (1.176 vs 1.173) and the
  plain Mixtral and Qwen2 series track the model within 0.07.
- G8T8 MCore: measured 0.181 s per micro-batch + 1.75 s per step, model 0.173 + 0.29 (folded: 0.125 + 0.51 vs
  0.104 + 0.34). The per-micro-batch slope is right, so (b) per-peer all-to-all sizes are not the cause: the
  layout and the micro-batch (1 x 4,096 tokens) are fixed across the series (paper section 4.3: "The global batch
  size is set to 1024 in the scaling experiments"; section 6.4: "All parallel configurations are the same as those
  identified in the performance experiments"), so every all-to-all message is the same size at 128 and 1,024 GPUs.
  What is missing is about 1.5 s per step. The per-step terms the model prices (expert-DP reduce-scatter and
  all-gather, 0.047 s exposed at 1,024 GPUs with expert-DP 8; optimizer 0.002-0.016 s; bubble 0.25 s) are an order
  short, and the folded layout, with twice the expert gradient bytes per GPU (expert TP 1), scales as modelled,
  so the expert-DP synchronisation as the model prices it is not it either. The shape is a lead: take out the
  per-micro-batch offset the model already has at 128 GPUs (0.020 s) and the rest is 0, 0.81, 1.12, 1.23 s at
  expert-DP 1, 2, 4, 8, close to 1.47 s x (edp - 1) / edp (0, 0.74, 1.10, 1.29), the form of a bandwidth-bound
  ring over the expert-DP group; but 1.47 s for 4.2 GB of FP32 expert gradients per GPU would mean 3 GB/s, and
  the folded series, with 8.5 GB per GPU, shows no such term. VPP is not stated by the paper (filled 6); forcing
  vpp 1 on all pf25 rows moves the plain Mixtral and Qwen2 series to -4..-22% (too slow), so interleaving was used.
- (a) ECMP collisions on the rows' fabric (dgx-h100-superpod, NDR400 rail-optimised fat tree): the data-parallel
  ring keeps its full rate with ECMP up to 256 GPUs even with scattered nodes (one leaf per rail), and falls to
  0.33 (512), 0.20 (768-1,024) and 0.17 (2,304) of line rate with scattered nodes; packed nodes and adaptive
  routing keep 1.00 everywhere. A ring runs at its slowest link, so the mechanism is a step (nothing at 128-256,
  a 3-6x slower ring beyond); that would expose about 0.5 s of Nemotron's 0.17 s reduce-scatter per step against a
  measured growth of 0.07 s, and it gives llm-foundry no loss from 128 to 256 GPUs where the measured step already
  grows 2-4%. (Whether the sources' fabrics hashed or routed adaptively is not stated; either way the shape does
  not fit.) It does not explain these rows.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scale_decomposition import decompose
from script_args import guarded

from supercluster.fabric.flows import simulate
from supercluster.validate.harness import read_rows
from supercluster.validate.rows import row_system

SOURCES = (
    "H100 80GB BF16 (Large Scale",  # llm-foundry's >= 128 GPU table
    "Nemotron-4 15B Technical Report (arXiv:2402.16819) Table 2",
    "MoE Parallel Folding (arXiv:2504.14960) Table 4",
)
DP_LABEL = re.compile(r" dp\d+")


def flow_fractions(row: dict[str, str]) -> dict[str, float]:
    """Bus-bandwidth fraction of the data-parallel ring over all of a row's nodes, by routing and placement."""
    system = row_system(row)
    nodes = max(2, system.gpus // system.gpus_per_node)
    out = {}
    for order in ("packed", "scattered"):
        for routing in ("ecmp", "adaptive"):
            r = simulate(system, system.gpus, "dp_ring", nodes, 1, routing, order)  # type: ignore[arg-type]
            out[f"{order}/{routing}"] = r.busbw_fraction
    return out


def line(m: list[float], step: list[float]) -> tuple[float, float]:
    """Least-squares (slope s per micro-batch, intercept s per step) of step time on micro-batches."""
    a, b = np.polyfit(np.asarray(m, dtype=float), np.asarray(step, dtype=float), 1)
    return float(a), float(b)


def series_summary(done: list[dict]) -> list[dict]:
    """Group rows (sorted by GPU count) into series: same source, model and layout apart from the data-parallel
    size. For each, the step per micro-batch at the largest GPU count over the smallest, measured and predicted,
    and, where the micro-batches per step take >= 3 values, the line ``step = a x micro-batches + b``."""
    series: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for d in done:
        series[(d["source"], d["model"], DP_LABEL.sub("", d["layout"]))].append(d)
    summary = []
    for (source, model, layout), ds in series.items():
        if len({d["gpus"] for d in ds}) < 2:
            continue
        lo, hi = ds[0], ds[-1]
        s = {
            "source": source,
            "model": model,
            "layout": layout,
            "gpus": [d["gpus"] for d in ds],
            "speed_error_pct": [round(d["speed_error_pct"], 2) for d in ds],
            "measured_growth": hi["measured_step_s"] / lo["measured_step_s"] * lo["microbatches"] / hi["microbatches"],
            "predicted_growth": hi["step_time_s"] / lo["step_time_s"] * lo["microbatches"] / hi["microbatches"],
        }
        ms = [d["microbatches"] for d in ds]
        if len(set(ms)) >= 3:
            s["measured_fit_s"] = line(ms, [d["measured_step_s"] for d in ds])
            s["predicted_fit_s"] = line(ms, [d["step_time_s"] for d in ds])
        summary.append(s)
    return summary


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results/weakscale_diagnosis.json")
    _, rows = read_rows("all")
    picked = [r for r in rows if any(s in (r.get("source") or "") for s in SOURCES)]
    done = []
    for r in sorted(picked, key=lambda r: (r["source"], r.get("model") or "", int(r["gpus"]), r["id"])):
        d = decompose(r)
        if d["speed_error_pct"] is None:
            continue
        d["source"] = r["source"]
        d["model"] = r.get("model") or ""
        d["measured_step_s"] = d["step_time_s"] * (1.0 + d["speed_error_pct"] / 100.0)
        d["flows"] = flow_fractions(r)
        done.append(d)
    summary = series_summary(done)
    table = Table(title="Step per micro-batch, largest / smallest GPU count (1.00 = flat)")
    for col in ("series", "GPUs", "meas", "model", "error % by GPUs"):
        table.add_column(col, justify="left" if col in ("series", "error % by GPUs") else "right")
    for s in summary:
        table.add_row(
            f"{s['model'][:18]} {s['layout'].split(' ')[0]}",
            f"{s['gpus'][0]}-{s['gpus'][-1]}",
            f"{s['measured_growth']:.3f}",
            f"{s['predicted_growth']:.3f}",
            " ".join(f"{e:+.0f}" for e in s["speed_error_pct"]),
        )
    console = Console(width=80)
    console.print(table)
    for s in summary:
        if "measured_fit_s" in s:
            (am, bm), (ap, bp) = s["measured_fit_s"], s["predicted_fit_s"]
            console.print(
                f"{s['model']} {s['layout'][:24]}: measured {am:.3f} s/micro-batch + {bm:.2f} s, "
                f"model {ap:.3f} + {bp:.2f}"
            )
    flows = Table(title="DP ring over all nodes, flow-level bus-bandwidth fraction")
    for col in ("row", "GPUs", "pack ECMP", "scat ECMP", "scat AR"):
        flows.add_column(col, justify="left" if col == "row" else "right")
    for d in done:
        f = d["flows"]
        flows.add_row(
            d["id"][:34],
            str(d["gpus"]),
            f"{f['packed/ecmp']:.2f}",
            f"{f['scattered/ecmp']:.2f}",
            f"{f['scattered/adaptive']:.2f}",
        )
    console.print(flows)
    path.write_text(json.dumps({"series": summary, "rows": done}, indent=1) + "\n", encoding="utf-8")
    print("wrote", path)


if __name__ == "__main__":
    guarded(
        main,
        "weakscale_diagnosis.py [OUT.json]",
        flags=(),
        valued=(),
        paths=(0, 1),
    )
