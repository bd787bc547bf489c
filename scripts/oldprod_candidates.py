"""Older and production dense runs the step model reads too fast (issue 14, out-of-sample dense error): which
once-per-step mechanism with a published or code-derived size could close the seconds each row leaves, and what the
model already charges for it.

The rows (speed error, + = model too fast, main at 5372a75): MegaScale Table 2's Megatron-LM baseline (Jiang et al.
2024, arXiv:2402.15627; +5 to +16), Nemotron-4 340B's production batch ramp (arXiv:2406.11704 Table 2; +14 to +16),
MT-NLG 530B (+14 to +18), GLM-130B (+22), GPT-NeoX-20B (+22), BloombergGPT (+23), the DeepSpeed blog's 1T/2T ZeRO-3
runs (+20/+28); beside them the tuned-recipe controls on the same stacks and scale that read within a few percent
(NVIDIA's DGX Cloud Nemotron-4 340B on NeMo, MLPerf GPT-3 175B on Eos, Narayanan et al. 2021 Table 1 on Megatron-LM).

For each row the script prints the gap (measured minus predicted step, seconds), the model's own once-per-step terms
(bubble, exposed data-parallel communication, optimizer, fixed costs) and the size of each candidate the brief names,
in seconds per step at the row's layout, from the row's own hardware (HBM bandwidth x the fitted HBM fraction, the
fabric's per-GPU bus bandwidth, the system's checkpoint storage):

- ``fp16_check_s``: FP16 loss scaling's unscale-and-check over the fp32 main gradients (Megatron-LM
  optimizer.py _unscale_main_grads_and_check_for_nan: torch._amp_foreach_non_finite_check_and_unscale_ reads and
  writes each 4 B gradient, 8 B per parameter), FP16 rows only; the found-inf and gradient-norm all-reduces over the
  model-parallel group are scalars, which the model already prices (perf.batch sync_scalars, two all-reduces of 8 B
  over the job) and which cost microseconds.
- ``grad_norm``: already in the optimizer (perf.batch ADAM_BYTES_PER_PARAM counts clip_grad_norm_fp32's read of the
  gradients, 4 of its 42 B per parameter).
- ``tied_embed_s``: the tied embedding's gradient all-reduce between the first and last pipeline stage (Megatron-LM
  _allreduce_embedding_grads; DeepSpeed ReduceTiedGrads), priced by the model only where the software profile sets
  tied_embedding_grad_bytes; sized here at 4 B per element over the fabric's bus bandwidth where the row's model
  ties and the profile does not price it (2-rank all-reduce: each byte crosses once).
- ``fp32_reduce_s``: reducing gradients in fp32 where the profile reduces in 2 B (grad_reduce_in_fp32, which NeMo's
  performance recipes turn off and a production run may not): at most the exposed data-parallel seconds once more.
- ``param_gather_s``: the distributed optimizer's parameter all-gather left unoverlapped (Megatron-LM before
  overlap_param_gather, 2023), for profiles that overlap it: bf16 parameters of one model-parallel rank,
  (dp - 1) / dp of them over the fabric.
- ``checkpoint_save_s``: one synchronous save of weights and Adam states (2 + 12 B per parameter) at the system's
  aggregate storage write bandwidth (SystemSpec.storage, per scalable unit), and the save interval in steps at
  which it would amortise to the row's whole gap (``ckpt_interval_for_gap``). Megatron-LM's loop stops its
  interval timer around evaluation (training.py: "timers('interval-time').stop()" before evaluate_and_print_results)
  and, in current versions, inside save_checkpoint_and_time, so a logged iteration time carries neither (not
  checked at MegaScale's commit 285068c8).
- ``data_misc_s``: MegaScale's own measured bound on data loading and "problematic code" for the Megatron-LM
  baseline: Table 3 row (7) "with misc optimizations" raises MFU 61.2% -> 62.3% on the 175B model, 256 GPUs,
  batch 256, whose baseline step is 14.81 s at 47.7% (scripts/scalegrowth_diagnosis.py table3_step_s): 11.54 s ->
  11.34 s, 0.20 s per step, and section 6.1 says misc covers "data pipeline optimizations and the problematic code
  elimination mentioned in 6.3" (the garbage collection of section 6.3 among them).
- ``gc_s``: unsynchronised Python garbage collection: torchtitan PR #148 (pytorch/torchtitan, 2024-03-15, "on 512
  GPU FSDP, adding this (gc_schedule=1) gave a perf boost of ~1.5% per iter just by virtue of better synch"): 1.5%
  of the predicted step.
- ``straggler_s``: slow hosts, MegaScale section 6.3: "After isolating and removing these problematic hosts from the
  cluster, we observed an approximate 0.7% improvement in MFU" (0.7 points at about 55% MFU: 1.3% of the step, the
  larger reading); perf.straggler prices the same mechanism and stays out of the step
  (benchmarks/results/straggler_refit.json).

Findings (main at 5372a75, 2026-12-01; no step-model change came out of them; the numbers are
benchmarks/results/oldprod_candidates.json):

- The code-derived candidates are an order of magnitude below the gaps. Nemotron-4 340B (gaps 1.10-1.28 s): an
  unoverlapped distributed-optimizer all-gather would cost 0.14-0.15 s (3.55e9 bf16 parameters per model-parallel
  rank, 15/16-63/64 of them over 47 GB/s), fp32 gradient reduction at most +0.17-0.19 s (its exposed reduction
  once more), no tied embedding (Nemotron-4 unties), no FP16 check: 0.32-0.34 s together as upper bounds, and the
  same two terms would apply to NVIDIA's DGX Cloud Nemotron-4 340B benchmark rows (0.16-0.46 s), which read -0.6
  to +1.5% now. MegaScale's Megatron-LM (1.13-3.14 s): the model already prices its fp32 reduction (megatron-lm-2022
  reduces in 4 B, not overlapped), the gradient-norm read and the optimizer; the 175B model is entered untied (tied,
  its embedding all-reduce would add 0.017 s). GLM-130B and GPT-NeoX (FP16, gaps 15.9 s and 8.0 s): the
  unscale-and-check is 0.001 s, an fp32 reduction at most 0.43 s and 0.14 s. The ZeRO-3 rows (BloombergGPT, the 1T
  and 2T runs) have their gathers and reductions priced per layer already (10-106 s of exposed data-parallel time).
- The published operational sizes add up to 3-4% of a step: data loading + code fixes 0.20 s (MegaScale's own
  ablation, Table 3 (7), 1.4% of its 14.8 s step), garbage collection 1.5% (torchtitan), slow hosts 0.7 MFU points
  (MegaScale). On MegaScale's 256-GPU row that is 1.26 s of its 2.03 s gap, on the 12,288-GPU row 0.41 s of 1.13 s,
  on Nemotron-4 0.40-0.45 s of 1.10-1.28 s, on MT-NLG 1.25-1.67 s of 6.6-7.3 s, on GLM-130B 2.2 s of 15.9 s. They are
  the same on the tuned-recipe controls (0.23-0.52 s on MLPerf GPT-3 and DGX Cloud Nemotron-4, 0.30-3.21 s on
  Narayanan 2021), which already read -7.2 to +1.5%: a share of every step would move the controls as much as the
  targets, which is what the straggler refit found (it raised leave-one-source-out error) and why no such term is
  added. Only a term that production runs pay and tuned recipes do not could close the gaps, and none of the
  candidates is both sized and keyed that way: NeMo's and Megatron-Bridge's performance recipes do set manual
  garbage collection (Megatron-LM --manual-gc: "Manual garbage collection helps to align the timing of the
  collection across ranks which mitigates the impact of CPU-associated jitters"), but the one published size
  (1.5%) is a tenth of the Nemotron-4 gap, and which of the software profiles ran it is not recorded.
- NVIDIA's own launcher recipe for this model (NVIDIA/NeMo-Framework-Launcher
  launcher_scripts/conf/training/nemotron/nemotron_340b.yaml at 3be81fc: "num_nodes: 768", "global_batch_size:
  2304", TP 8, PP 8, "virtual_pipeline_model_parallel_size: 12") reduces in bf16 with both overlaps on
  ("grad_sync_dtype: bf16", "overlap_grad_sync: True", "overlap_param_sync: true"), runs one layer per virtual
  stage (as validation's deepest fill gives the production rows: 96 / 12 stages = vpp 8), times each step with
  "step_timing_kwargs: sync_cuda: True" and sets no gc_interval (NeMo 1 model configs carry "gc_interval: 0", the
  automatic collector). So the benchmark rows of the same model (the controls, -0.6 to +1.5%) most likely ran the
  same reduction dtype, overlaps, step timer and garbage collection as the production run: none of those
  separates the two (unverified: the production run's own config is not public).
- A checkpoint save would have to come every 2-60 steps to make the gaps (a 340B save of 4.8 TB at 120 GB/s
  aggregate is 40 s, 175B on 256 GPUs 123 s), where production runs save every several hundred to thousands of
  steps and Megatron-LM keeps evaluation (and now saves) out of its logged iteration time. BloombergGPT's 32.5 s is
  a wall-clock average (139,200 steps x 32.5 s = 52.4 days of "~53 days"), so evaluation, saves and restarts are
  in it; even so a save every 3 steps would be needed, and its stack (SageMaker MiCS, sharding over 128 of 512 GPUs
  with hierarchical communication) is priced as plain ZeRO-3 over all 512, a bigger open question than any
  per-step cost.
- What remains is what earlier sessions found (scripts/scalegrowth_diagnosis.py, older_tables_diagnosis.py,
  deepspeed_pipe_diagnosis.py): about 1 s per step on Megatron-LM/NeMo production runs, 5.7 s on MT-NLG (one more
  pipeline fill and drain), 20-28% on the DeepSpeed ZeRO-3 offload runs, with the fields the sources leave open
  (interleave depth, micro-batch) moving the rows more than any sized mechanism.

Side finding, landed as a data correction (not a mechanism): TinyLlama (-15.0%, model too slow) was profiled as an
eager FSDP1 stack, but its training code runs fused kernels (lit_gpt/model.py at jzhang38/TinyLlama 09baa9e:
flash_attn_func, xformers SwiGLU, fused rotary; config.py: FusedRMSNorm; pretrain/tinyllama.py:
FusedCrossEntropyLoss): on fsdp1-2023 it reads +8.2%. Refit protocol (--catalog-attention): all rows catalog /
in-sample / leave-one-source-out 7.649 / 7.648 / 7.867 -> 7.641 / 7.640 / 7.859; published set unchanged (3.989 /
4.014 / 4.090).

Run (bounded: about 40 rows, one resolve each, a few seconds):

    PYTHONPATH=src:scripts python scripts/oldprod_candidates.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.table import Table
from scalegrowth_diagnosis import ablation_saved_s, table3_step_s
from script_args import emit, parse, run

from supercluster.validate.harness import measured_estimate, predict_row, read_rows

# (label, row-id pattern, role): the rows under diagnosis, then the tuned-recipe controls
SERIES = (
    ("MegaScale T2 Megatron-LM", r"^megascale24-t2-megatron-175b-", "target"),
    ("Nemotron-4 340B T2 prod.", r"^nemotron4-340b-t2-", "target"),
    ("MT-NLG 530B", r"^mtnlg22-s24-530b-", "target"),
    ("GLM-130B", r"^glm130b-s23-", "target"),
    ("GPT-NeoX-20B", r"^neox20b-", "target"),
    ("BloombergGPT", r"^bloomberggpt-", "target"),
    ("DeepSpeed 1T/2T ZeRO-3", r"^dsazure22-[12]t-", "target"),
    ("DGXC Nemotron-4 340B BF16", r"^dgxc2409-h100-nemotron4-340b-bf16-", "control"),
    ("MLPerf GPT-3 175B Eos", r"^mlperf31-eos-gpt3-175b-", "control"),
    ("Narayanan 2021 T1", r"^narayanan21-t1-", "control"),
)
GB = 1e9
# Megatron-LM optimizer.py _unscale_main_grads_and_check_for_nan: read and write each fp32 main gradient
FP16_CHECK_BYTES_PER_PARAM = 8.0
# one save: bf16 weights (2 B) and fp32 master weight + two Adam moments (12 B) per parameter
CHECKPOINT_BYTES_PER_PARAM = 14.0
TIED_GRAD_BYTES = 4.0  # the embedding's fp32 main gradient
PARAM_GATHER_BYTES = 2.0  # bf16 parameters
# MegaScale Table 3 (7) "with misc optimizations": 61.2% -> 62.3% MFU on the Table 3 baseline step (47.7% MFU)
MISC_MFU_BEFORE, MISC_MFU_AFTER, T3_BASE_MFU = 0.612, 0.623, 0.477
# torchtitan PR #148: "~1.5% per iter" from scheduled garbage collection on 512 GPUs
GC_SHARE = 0.015
# MegaScale section 6.3: "approximate 0.7% improvement in MFU" from removing slow hosts, read as 0.7 points at ~55%
STRAGGLER_SHARE = 0.007 / 0.55


def data_misc_s() -> float:
    """MegaScale's data-pipeline and code-fix saving (s per step) on its Table 3 baseline."""
    return ablation_saved_s(table3_step_s(), T3_BASE_MFU, MISC_MFU_BEFORE, MISC_MFU_AFTER)


def candidates(row: dict[str, str]) -> dict[str, Any] | None:
    """One row's gap, the model's once-per-step terms and each candidate's size (s per step)."""
    res = predict_row(row)
    if res.speed_error_pct is None:
        return None
    specs, est = measured_estimate(row)
    model, sw, system, plan = specs.model, specs.software, specs.system, est.plan
    acc = system.accelerator
    hbm = acc.hbm_tb_per_s * 1e12 * acc.efficiency.hbm_fraction
    nic = system.fabric.nic_busbw_gb_per_s * GB
    local = model.total_params / (plan.tp * plan.pp)  # parameters of one model-parallel rank
    measured_s = est.step_time_s * (1.0 + res.speed_error_pct / 100.0)
    fp16 = (row.get("precision") or "").strip().lower() == "fp16"
    tied = model.tied_embeddings and plan.pp > 1 and sw.tied_embedding_grad_bytes == 0
    storage = system.storage
    write_bps = storage.write_gb_per_s * GB * max(1.0, system.gpus / storage.per_gpus)
    save_s = model.total_params * CHECKPOINT_BYTES_PER_PARAM / write_bps
    gap_s = measured_s - est.step_time_s
    sharded_by = plan.dp if plan.zero >= 1 else 1  # ZeRO shards the main gradients the check reads
    out = {
        "id": row["id"],
        "layout": plan.label(),
        "gpus": system.gpus,
        "speed_error_pct": round(res.speed_error_pct, 2),
        "step_s": round(est.step_time_s, 3),
        "gap_s": round(gap_s, 3),
        "bubble_s": round(est.bubble_s, 3),
        "dp_comm_s": round(est.dp_comm_s, 3),
        "optimizer_s": round(est.optimizer_s, 3),
        "fixed_s": round(est.fixed_s, 3),
        "fp16_check_s": round(FP16_CHECK_BYTES_PER_PARAM * local / sharded_by / hbm, 4) if fp16 else 0.0,
        "tied_embed_s": round(model.vocab / plan.tp * model.hidden * TIED_GRAD_BYTES / nic, 4) if tied else 0.0,
        # ZeRO-3 rows' gathers and reductions are priced per layer (perf.zero3_serial, perf.zero3_prefetch): these
        # two candidates are the replicated (ZeRO-0) and optimizer-sharded (ZeRO-1) paths only
        "fp32_reduce_s": round(est.dp_comm_s * (4.0 / sw.grad_reduce_bytes - 1.0), 3) if plan.zero <= 1 else 0.0,
        "param_gather_s": round(PARAM_GATHER_BYTES * local / plan.dp * (plan.dp - 1) / nic, 4)
        if plan.zero == 1 and sw.param_gather_overlap and plan.dp > 1
        else 0.0,
        "checkpoint_save_s": round(save_s, 1),
        "ckpt_interval_for_gap": round(save_s / gap_s) if gap_s > 0 else None,
        "data_misc_s": round(data_misc_s(), 3),
        "gc_s": round(GC_SHARE * est.step_time_s, 3),
        "straggler_s": round(STRAGGLER_SHARE * est.step_time_s, 3),
    }
    code = ("fp16_check_s", "tied_embed_s", "fp32_reduce_s", "param_gather_s")
    out["code_sum_s"] = round(sum(out[k] for k in code), 3)
    out["operational_sum_s"] = round(out["data_misc_s"] + out["gc_s"] + out["straggler_s"], 3)
    return out


def collect() -> dict[str, Any]:
    _, rows = read_rows("all")
    series = []
    for label, pattern, role in SERIES:
        found = [r for r in rows if re.match(pattern, r["id"]) and r["metric"] != "activation_gib_per_gpu"]
        recs = [c for c in (candidates(r) for r in found) if c is not None]
        series.append({"label": label, "role": role, "rows": recs})
    return {
        "what": "per-step candidates for the older/production dense rows the model reads too fast (s per step)",
        "data_misc_s": round(data_misc_s(), 3),
        "gc_share": GC_SHARE,
        "straggler_share": round(STRAGGLER_SHARE, 4),
        "series": series,
    }


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    doc = collect()
    table = Table(title="Gap (measured - predicted step) against each candidate, s per step")
    cols = ("row", "err %", "step", "gap", "bub", "DP", "fp16", "tied", "fp32red", "pgath", "code", "ops", "save s")
    for col in cols:
        table.add_column(col, justify="left" if col == "row" else "right")
    for s in doc["series"]:
        for r in s["rows"]:
            table.add_row(
                ("" if s["role"] == "target" else "(c) ") + r["id"][:34],
                f"{r['speed_error_pct']:+.1f}",
                f"{r['step_s']:.2f}",
                f"{r['gap_s']:+.2f}",
                f"{r['bubble_s']:.2f}",
                f"{r['dp_comm_s']:.2f}",
                f"{r['fp16_check_s']:.3f}",
                f"{r['tied_embed_s']:.3f}",
                f"{r['fp32_reduce_s']:.2f}",
                f"{r['param_gather_s']:.3f}",
                f"{r['code_sum_s']:.2f}",
                f"{r['operational_sum_s']:.2f}",
                f"{r['checkpoint_save_s']:.0f}",
            )
    legend = (
        "(c) = tuned-recipe control. code = fp16 check + tied embedding + fp32 reduction + unoverlapped param "
        "gather (upper bounds, unpriced parts only); ops = MegaScale data/code 0.20 s + GC 1.5% + slow hosts 1.3%."
    )
    emit(args, doc, [table, legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
