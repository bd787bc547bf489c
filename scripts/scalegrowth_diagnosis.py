"""Speed error that grows with GPU count on Megatron-LM production runs (issue 14 item 3): which shape it has.

The holdout merge of 2026-12-01 added three series that the step model reads faster the more GPUs they use
(speed error, + = model too fast):

- Jiang et al. 2024, MegaScale (arXiv:2402.15627) Table 2, Megatron-LM baseline, 175B on 256-12,288 A100:
  +5.4 at 256 GPUs to +15.2 at 12,288;
- MegaScale-MoE (ByteDance 2025, arXiv:2505.11432) Table 3, Megatron-LM baseline, 352B MoE on 240-1,440 GPUs:
  +7.6 to +16.9;
- NVIDIA 2024, Nemotron-4 340B (arXiv:2406.11704) Table 2, the production batch ramp on 1,536-6,144 H100:
  +14.2, +14.1, +16.0.

Three mechanisms could make a step model's error grow with the GPU count, and each has its own shape in the
residual (measured minus predicted step, seconds):

1. stragglers (perf.straggler): every GPU-bound second waits for the slowest of N ranks, so the residual is a
   fraction of the GPU-bound time (compute, recompute, bubble), sigma E[M_N], that grows as sqrt(2 ln N);
2. data-parallel communication slower than priced (ECMP collisions, perf.contention, fabric.flows): the residual is
   a multiple of the exposed data-parallel seconds (dp_comm_s);
3. a per-step cost the model does not price (data loading at the start of each step, host work, unsynchronised
   garbage collection; MegaScale sections 3.4 and 6.3): the residual is seconds per step, whatever the batch.

For every row of the series, and of control rows run at the same scale on the same stacks (NVIDIA's DGX Cloud
Nemotron-4 340B and Llama 3.1 405B tables on 32-2,304 H100, MLPerf GPT-3 175B on 768-11,616 H100, Llama 3 405B on
8,192-16,384 H100), the script prints the residual seconds beside the model's terms and, per series, the
least-squares residual = c + f x GPU-bound seconds: f is what stragglers would add (the term prices
sigma E[M_N] = 2.6-3.3% at these counts), c is what is paid per step whatever the batch. It also predicts
MegaScale's Table 3 baseline (the same Megatron-LM, 175B, 256 GPUs, batch 256: "The baseline is the original
Megatron-LM and has 47.7% MFU"), the same GPU count as Table 2's 256-GPU row with a third of its micro-batches: if
the error were a GPU-count effect it would read like the 256-GPU row (+5.4); if a per-step cost, like the
1,024-GPU rows (same micro-batches per step, +13.8). Run:

    python scripts/scalegrowth_diagnosis.py [OUT.json] [--json] [--no-color]

Bounded: about 60 rows, one prediction each; a few seconds on one core.

Findings (benchmarks/results/scalegrowth_diagnosis.json, main at e18df23; no step-model change came out of them):

- The residual is seconds per step, not a share of the step. MegaScale Table 2: +2.03, +1.57, +1.69, +1.44 s at
  256-1,024 GPUs and +3.14, +1.19, +1.73, +1.13 s at 3,072-12,288 while the predicted step falls from 38.0 s to
  7.4 s; the fit is 1.11 s per step + 4.3% of the GPU-bound time. Nemotron-4 340B: +1.28, +1.27, +1.10 s.
  MegaScale-MoE: +2.23, +0.53, +0.72, +0.88, +0.99 s. The error grows with the GPU count because strong scaling
  shortens the step under a cost that stays. MegaScale's own Table 3 settles it: the same Megatron-LM on the same
  256 GPUs at batch 256 (64 micro-batches per replica instead of 192) reads +10.9% (14.81 s measured, 13.35 s
  model, +1.46 s), like the 768-1,024 GPU rows with as many micro-batches, not like the 256-GPU row (+5.4%).
- Stragglers have the wrong shape: the term's sigma E[M_N] rises from 3.0% to 4.1% of the GPU-bound time between
  256 and 12,288 GPUs, one point against a measured ten; and with the fitted constants refitted it raises
  leave-one-source-out error (scripts/straggler_refit.py).
- ECMP collisions cannot be it: MegaScale section 3.6, "The number of GPU servers connected by the same sets of ToR
  switches can reach 64", with "eight 200G NICs on the server ... connected to eight different switches in a
  multi-rail way"; section 6.1:
  "the networking optimizations are turned on for both Megatron-LM and MegaScale"; the 256-GPU Table 3 run (32
  servers, no uplink to collide on) already carries the residual. The control rows at the same scale show none
  (MLPerf GPT-3 on Eos, 768-11,616 GPUs: -0.01 to -0.19 s; DGX Cloud Nemotron-4 340B BF16 on NeMo, 128-2,048
  GPUs, the same model as the Nemotron-4 production rows: -0.03 to +0.07 s).
- What MegaScale's ablation says the Megatron-LM baseline leaves exposed, against what the model charges it at
  that layout (256 GPUs, batch 256; seconds per step saved by each Table 3 optimisation, from the MFU steps):
  tensor-parallel overlap 0.53 s (the model charges 1.01 s exposed), data-parallel overlap 0.31 s (0.72 s
  exposed: "the first all-gather operation and the last reduce-scatter operation cannot be hidden"), pipeline
  overlap 0.55 s against 0.22 s priced: Megatron-LM's send and receive "are often implemented together and can be
  blocked by the slower one", a wait the bandwidth term does not price; it is paid per micro-batch, so it would
  add about 1.0 s at 192 micro-batches and 0.2 s at 32 (the opposite of the growth). Data pipeline and code fixes
  ("misc") 0.20 s.
- Fields the sources leave open move the Nemotron-4 rows more than the growth itself: section 2.3 says
  "12-way pipeline parallelism with interleaving" without the depth, and validation fills the deepest, 8 chunks of
  one layer per stage (96 layers / 12 stages, +14.2, +14.1, +16.0); with 4 chunks the three rows read +12.0,
  +11.9, +13.1, with 2 chunks +7.3, +7.2, +7.0 (the bubble (p - 1) / (v m) doubles each time). MegaScale's
  unstated micro-batch (1 or 2) moves its rows by at most 3.2 points and leaves the growth.
- Left unexplained: about 1 s per step that production runs of Megatron-LM/NeMo pay and NVIDIA's benchmark runs
  of the same model and stack do not. The sources name candidates without sizing them: data loading "at the
  beginning of each training step" (MegaScale section 3.4), unsynchronised garbage collection making ranks reach
  the gradient reduce-scatter at different times (section 6.3). A per-step constant fitted on these three
  production sources alone would be a per-source factor in effect, so none is added.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from typing import Any

import numpy as np
from rich.table import Table
from scale_decomposition import decompose
from script_args import emit, parse, run

from supercluster.validate.harness import read_rows

# (label, row-id pattern): the three series that grow, then the controls at the same scale and stacks
SERIES = (
    ("MegaScale T2 Megatron-LM", r"^megascale24-t2-megatron-175b-"),
    ("MegaScale-MoE T3 Megatron", r"^msmoe25-t3-megatron-352b-"),
    ("Nemotron-4 340B T2 prod.", r"^nemotron4-340b-t2-"),
    ("DGXC Nemotron-4 340B BF16", r"^dgxc2409-h100-nemotron4-340b-bf16-"),
    ("DGXC Nemotron-4 340B FP8", r"^dgxc2409-h100-nemotron4-340b-fp8-"),
    ("DGXC Llama 3.1 405B BF16", r"^dgxc24(09|12)-h100-llama31-405b-bf16-"),
    ("MLPerf GPT-3 175B Eos", r"^mlperf(31|40)-eos-gpt3-175b-"),
    ("Llama 3 405B Table 4", r"^llama3-t4-405b-"),
)
GROWING = 3  # the first three labels are the series under diagnosis, the rest are controls
# MegaScale (arXiv:2402.15627) Table 2, Megatron-LM, 256 GPUs, batch 768: "40.0" s and "53.0%" MFU; Table 3
# ("training the 175B model with 256 GPUs and batch size 256"): "baseline 47.7%". MFU is proportional to tokens
# per second, so the Table 3 step is 40.0 s x (256 / 768) x (53.0 / 47.7).
MIN_SPREAD = 0.25  # a series must span +-12% in GPU-bound time around its mean for a slope to be fitted
T2_STEP_S, T2_BATCH, T2_MFU = 40.0, 768, 0.530
T3_BATCH, T3_MFU = 256, 0.477
T2_ROW = "megascale24-t2-megatron-175b-256"
# Table 3 rows (3)-(7), MFU before and after each: "(3) with TP overlap 55.5%" after "(2) with SWA 53.3%", "(4) with
# PP overlap 58.0%", "(5) with DP overlap 59.5%", "(6) with efficient operators 61.2%", "(7) with misc
# optimizations 62.3%" (misc: "data pipeline optimizations and the problematic code elimination", section 6.1)
T3_STAGES = ((0.533, 0.555), (0.555, 0.580), (0.580, 0.595), (0.595, 0.612), (0.612, 0.623))


def table3_step_s() -> float:
    """MegaScale Table 3's baseline step (s), from Table 2's 256-GPU row and the two MFUs."""
    return T2_STEP_S * (T3_BATCH / T2_BATCH) * (T2_MFU / T3_MFU)


def speed_error_pct(measured_s: float, predicted_s: float) -> float:
    """Speed error, + = model too fast: measured / predicted step - 1, in percent."""
    return 100.0 * (measured_s / predicted_s - 1.0)


def residual_fit(gpu_bound_s: list[float], residual_s: list[float]) -> tuple[float, float]:
    """Least-squares residual = c + f x GPU-bound seconds over a series; returns (f, c). Where the series has fewer
    than three distinct GPU-bound times (to 1% of their mean) or they span less than :data:`MIN_SPREAD` of their
    mean, the slope is not identified: f is 0 and c the mean residual."""
    x, y = np.asarray(gpu_bound_s, dtype=float), np.asarray(residual_s, dtype=float)
    distinct = np.unique(np.round(x / x.mean(), 2)).size if x.size else 0
    if distinct < 3 or np.ptp(x) < MIN_SPREAD * x.mean():
        return 0.0, float(y.mean())
    f, c = np.polyfit(x, y, 1)
    return float(f), float(c)


def row_record(row: dict[str, str]) -> dict[str, Any] | None:
    """One row's predicted terms, measured step and residual (None when the row is not predicted)."""
    d = decompose(row)
    if d["speed_error_pct"] is None:
        return None
    measured = d["step_time_s"] * (1.0 + d["speed_error_pct"] / 100.0)
    gpu_bound = d["compute_s"] + d["recompute_s"] + d["bubble_s"]
    return {
        "id": d["id"],
        "gpus": d["gpus"],
        "layout": d["layout"],
        "microbatches": d["microbatches"],
        "predicted_step_s": d["step_time_s"],
        "measured_step_s": measured,
        "residual_s": measured - d["step_time_s"],
        "speed_error_pct": d["speed_error_pct"],
        "gpu_bound_s": gpu_bound,
        "straggler_fraction": d["straggler_s"] / gpu_bound if gpu_bound > 0 else 0.0,
        "dp_comm_s": d["dp_comm_s"],
        "pp_comm_s": d["pp_comm_s"],
        "bubble_s": d["bubble_s"],
        "optimizer_s": d["optimizer_s"],
    }


def ablation_saved_s(step0_s: float, mfu0: float, mfu_before: float, mfu_after: float) -> float:
    """Seconds per step one optimisation of an ablation saved: the step is step0 x mfu0 / MFU at every stage (the
    same tokens on the same GPUs, MFU from one FLOP formula), so the saving is step0 mfu0 (1/before - 1/after)."""
    return step0_s * mfu0 * (1.0 / mfu_before - 1.0 / mfu_after)


def table3_check(rows_by_id: dict[str, dict[str, str]]) -> dict[str, Any]:
    """MegaScale Table 3's baseline (256 GPUs, batch 256) predicted with Table 2's 256-GPU row at batch 256, and the
    seconds each of MegaScale's overlaps saved over that baseline beside what the model charges the baseline for the
    communication it overlaps (exposed TP, PP and DP seconds)."""
    row = dict(rows_by_id[T2_ROW])
    row["global_batch"] = str(T3_BATCH)
    row["id"] = "megascale24-t3-megatron-baseline-256 (derived)"
    d = decompose(row)
    measured = table3_step_s()
    saved = {
        name: ablation_saved_s(measured, T3_MFU, a, b)
        for name, (a, b) in zip(
            ("tp_overlap", "pp_overlap", "dp_overlap", "efficient_ops", "misc"), T3_STAGES, strict=True
        )
    }
    return {
        "measured_step_s": measured,
        "predicted_step_s": d["step_time_s"],
        "microbatches": d["microbatches"],
        "residual_s": measured - d["step_time_s"],
        "speed_error_pct": speed_error_pct(measured, d["step_time_s"]),
        "megascale_saved_s": saved,
        "model_exposed_s": {"tp_comm_s": d["tp_comm_s"], "pp_comm_s": d["pp_comm_s"], "dp_comm_s": d["dp_comm_s"]},
    }


# fields the sources leave unstated, each with the values the source's text still allows: Nemotron-4 340B section 2.3
# says "12-way pipeline parallelism with interleaving" (96 layers on 12 stages: 2, 4 or 8 chunks per stage) and
# nothing of the depth; MegaScale states the interleaving ("six ... interleaving stages for the 175B") and not the
# micro-batch
UNSTATED = (
    (r"^nemotron4-340b-t2-", "vpp", ("2", "4", "8")),
    (r"^megascale24-t2-megatron-175b-", "micro_batch", ("1", "2")),
)


def unstated_sensitivity(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Speed error of each row with every value its source leaves open for an unstated field (the measured step held,
    the prediction remade with the field set)."""
    out: dict[str, dict[str, float]] = {}
    for pattern, field, values in UNSTATED:
        rx = re.compile(pattern)
        for r in rows:
            if not rx.search(r["id"]):
                continue
            base = decompose(r)
            if base["speed_error_pct"] is None:
                continue
            measured = base["step_time_s"] * (1.0 + base["speed_error_pct"] / 100.0)
            out[r["id"]] = {
                f"{field}={v}": speed_error_pct(measured, decompose({**r, field: v})["step_time_s"]) for v in values
            }
    return out


def diagnose() -> dict[str, Any]:
    _, rows = read_rows("all")
    by_id = {r["id"]: r for r in rows}
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for label, pattern in SERIES:
        rx = re.compile(pattern)
        for r in sorted((r for r in rows if rx.search(r["id"])), key=lambda r: (int(r["gpus"]), r["id"])):
            rec = row_record(r)
            if rec is not None:
                series[label].append(rec)
    fits = {}
    for label, _ in SERIES:
        recs = series[label]
        f, c = residual_fit([x["gpu_bound_s"] for x in recs], [x["residual_s"] for x in recs])
        fits[label] = {
            "growing": [lab for lab, _ in SERIES].index(label) < GROWING,
            "rows": len(recs),
            "gpus": [recs[0]["gpus"], recs[-1]["gpus"]] if recs else [],
            "speed_error_pct": [round(x["speed_error_pct"], 1) for x in recs],
            "residual_s": [round(x["residual_s"], 2) for x in recs],
            "fit_fraction_of_gpu_bound": f,
            "fit_seconds_per_step": c,
            "straggler_term_fraction": [round(x["straggler_fraction"], 4) for x in recs],
            "residual_over_dp_comm": [round(x["residual_s"] / x["dp_comm_s"], 2) if x["dp_comm_s"] > 0.01 else None
                                      for x in recs],
        }  # fmt: skip
    return {
        "series": fits,
        "rows": dict(series),
        "megascale_table3_baseline": table3_check(by_id),
        "unstated_fields": unstated_sensitivity(rows),
    }


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    doc = diagnose()
    rows = Table(title="Residual (measured - predicted step, s) by row")
    for col in ("row", "GPUs", "m", "pred s", "resid s", "speed %", "strag %", "dp s"):
        rows.add_column(col, justify="left" if col == "row" else "right")
    for recs in doc["rows"].values():
        for x in recs:
            rows.add_row(
                x["id"][-24:],
                f"{x['gpus']:,}",
                str(x["microbatches"]),
                f"{x['predicted_step_s']:.2f}",
                f"{x['residual_s']:+.2f}",
                f"{x['speed_error_pct']:+.1f}",
                f"{100 * x['straggler_fraction']:.1f}",
                f"{x['dp_comm_s']:.2f}",
            )
    fits = Table(title="Residual = c + f x GPU-bound s, per series")
    for col in ("series", "GPUs", "f %", "c s", "strag %"):
        fits.add_column(col, justify="left" if col == "series" else "right")
    for label, s in doc["series"].items():
        if not s["rows"]:
            continue
        strag = s["straggler_term_fraction"]
        fits.add_row(
            ("* " if s["growing"] else "  ") + label,
            f"{s['gpus'][0]}-{s['gpus'][1]}",
            f"{100 * s['fit_fraction_of_gpu_bound']:+.1f}",
            f"{s['fit_seconds_per_step']:+.2f}",
            f"{100 * min(strag):.1f}-{100 * max(strag):.1f}",
        )
    t3 = doc["megascale_table3_baseline"]
    legend = (
        "* = series whose error grows with GPUs; strag % = the straggler term's sigma E[M_N] (not in the step).\n"
        f"MegaScale Table 3 baseline, 256 GPUs, batch 256 ({t3['microbatches']} micro-batches): measured "
        f"{t3['measured_step_s']:.2f} s (47.7% MFU), model {t3['predicted_step_s']:.2f} s, residual "
        f"{t3['residual_s']:+.2f} s, speed error {t3['speed_error_pct']:+.1f}%.\n"
        "MegaScale's overlaps saved (s/step) vs the model's exposed baseline: TP "
        f"{t3['megascale_saved_s']['tp_overlap']:.2f} vs {t3['model_exposed_s']['tp_comm_s']:.2f}, PP "
        f"{t3['megascale_saved_s']['pp_overlap']:.2f} vs {t3['model_exposed_s']['pp_comm_s']:.2f}, DP "
        f"{t3['megascale_saved_s']['dp_overlap']:.2f} vs {t3['model_exposed_s']['dp_comm_s']:.2f}; misc (data "
        f"pipeline, code) {t3['megascale_saved_s']['misc']:.2f}."
    )
    open_fields = Table(title="Speed error % with each value an unstated field may take")
    open_fields.add_column("row", justify="left")
    open_fields.add_column("field values -> speed error %", justify="left")
    for rid, errs in doc["unstated_fields"].items():
        open_fields.add_row(rid[-24:], "  ".join(f"{k} {v:+.1f}" for k, v in errs.items()))
    emit(args, doc, [rows, fits, open_fields, legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
