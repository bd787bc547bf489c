"""Older dense tables above 12% (issue 14, "no source table above 12%"): what the step model's terms can and cannot
close on the DGX Cloud Llama 3.1 8B table and on MT-NLG 530B.

Three parts, each run on the bundled rows as ``validate`` resolves them (harness.row_specs, fill rule ``measured``):

1. DGX Cloud Llama 3.1 8B and 70B (NVIDIA/dgxc-benchmarking llama3.1/README_8b.md and README_70b.md, NeMo 24.09
   and 24.12). For every row: the model's step split into the layers' GEMMs, attention core and elementwise
   work on the slowest stage (perf.layer.layer_parts x the stage's layers x micro-batches), the output head and
   loss (perf.layer.head_cost x micro-batches), the exposed TP + CP exchange, the data-parallel reduction, the
   optimizer and the fixed costs (the StepEstimate's own terms); the gap the measured step leaves
   (measured - model, negative where the model is too slow); and the uniform speed-up ``k`` of the attention core
   alone that would close it (:func:`attention_speedup`).
2. MT-NLG 530B (Smith et al. 2022, arXiv:2201.11990, three runs at a fixed global batch of 1,920 on 2,240, 2,800
   and 3,360 GPUs). Strong scaling at a fixed layout (TP 8, PP 35): only the micro-batches per pipeline change
   (240, 192, 160 at micro-batch 1), so the least-squares line ``step = a x micro-batches + c``
   (weakscale_diagnosis.line) through the measured and through the predicted steps separates the per-micro-batch
   cost ``a`` from the per-step cost ``c`` (pipeline fill and drain, data-parallel reduction, optimizer).
3. Every dense throughput row on a Hopper card whose stack runs the cuDNN-class fused attention (the class the
   H100's attention fractions are fitted on), binned by the keys per attention call (:func:`keys_per_call`): the
   median speed error, attention share of the modelled step and attention speed-up ``k`` per bin.

Findings (main at c70b174, 2026-12-01; no step-model change came out of them):

- 8B table (20 rows, 17.2% MAPE, signed -14.7: the model too slow). On the 8-GPU BF16 24.09 row the model's
  15.00 s step is 8.86 s GEMMs, 4.23 s attention (28%), 0.83 s elementwise, 0.97 s output head and loss (a
  128,256-entry vocabulary, 4,096 tokens per micro-batch at CP 2, 32 micro-batches) and 0.10 s for everything else:
  CP exchange 0.06 s, data-parallel reduction 0.0003 s, optimizer 0.015 s, fixed costs 0.024 s, no bubble, no
  recompute. The measured 12.91 s leaves -2.09 s. So neither the CP ring (perf.cp_ring_span), the distributed
  optimizer nor the per-micro-batch fixed costs (perf.fixed_cost) can close it. The recipe's
  cross_entropy_loss_fusion (Megatron-Core fusions/fused_cross_entropy.py: the fp32 cast fused into the max,
  subtract + exp + sum in one pass; read at Megatron-LM main, the 24.09 container's copy not checked) would save
  about 12-16 of the profile's 38 + 14 bytes per logit: 525 M logits x 12-16 B / (0.85 x 3.35 TB/s) = 2-3 ms per
  micro-batch, 0.07-0.09 s per step (0.5-0.6%); and the 70B recipe sets it too. The
  recipe yamls of the two tables at the benchmark commit (NVIDIA/dgxc-benchmarking 35a9aec, llama3.1_8b.yaml and
  llama3.1_70b.yaml) differ only in the parallel layout, sequence parallelism, TP overlap (off at TP 1),
  overlap_p2p_comm (PP only) and the embedding wgrad deferral: the same fusions (apply_rope_fusion,
  bias_activation_fusion, persist_layer_norm, gradient_accumulation_fusion), the same distributed_fused_adam with
  overlap_grad_sync and overlap_param_sync, no cp_comm_type (the p2p ring default). So no stack mechanism separates
  the 8B rows from the 70B rows; the attention share does (28% of the 8B's modelled step, 17% of the 70B's). The
  attention speed-up k that closes each row: 8B BF16 1.8-2.1, 8B FP8 1.7-2.0; 70B BF16 1.2-1.4, 70B FP8 0.9-1.3:
  the same direction as scripts/attention_share_residuals.py on all Hopper cuDNN-class rows (slope -52 points per
  unit attention share, k = 2.09), but not one k for both tables.
- A uniform factor on the H100's fitted attention fractions (0.28 / 0.21, shared and not refitted here; the GEMM
  fraction held at 0.694; catalog edited for the run only) is not one mechanism for the whole set: x1.5 takes the
  8B table 17.2% -> 4.5%, FP8 dense 8.57% -> 6.81%, all rows 7.74% -> 7.63% (LOSO column 7.91% -> 7.89%), but the
  long-context and largest runs too fast (Liu et al. 2025 Table 5 7.8% -> 29.6%, Llama 3 Table 4 5.0% -> 13.5%, the
  >= 16,384 band's signed mean +0.8 -> +14.9, BF16 MoE 11.6% -> 13.8%) and 33 -> 38 tables above 12%; x2.0 is worse
  (all rows 8.37%). The 8B rows ask for faster attention at 2,048-key chunks, the long-context rows for slower
  attention at long spans than perf.attention_span's curve gives: a joint refit of the H100 attention fractions
  with the span overheads (scripts/refit_protocol.py), not a stack term, is where the 8B table's error sits.
- The same rows by keys per attention call and precision (part 3, 244 rows). BF16: < 1.5K keys (sequence 2,048)
  median +3.9%, k 0.61 (10 rows); 2K (sequence 4,096, or 8,192 at CP 2) -2.9%, k 1.25 (93); 4K (sequence 8,192
  without CP: MaxText Llama 3 70B, Llama 3 405B at 8K) -5.1%, k 1.56 (7). FP8: +4.0% (28), -4.5% (86), -13.5% (19,
  Llama 3 70B/8B FP8 in the Megatron-Bridge, DGX Cloud 25.02 and MaxText tables, k 2.44). The error falls with the
  keys per call in both precisions, more steeply than perf.attention_span's FA3-fitted curve gives between 2K and
  4K keys (forward x1.05, backward x1.13), and most in FP8, whose GEMMs leave attention a larger share (the FP8
  GEMM fraction, 0.63, is also shared and one-source). The one long-span row (Llama 3 405B at 128K, all-gather CP,
  64K keys per call) reads +6.6% and wants slower attention (k 0.89). The 8B table sits in the 2K bin with a
  larger attention share (0.28) than the bin's median (0.14), hence its larger error.
- A joint move of the H100's fractions (catalog edited for the run only): attention x1.5 with the BF16 GEMM
  fraction 0.694 -> 0.67 takes all rows 7.74% -> 7.34%, BF16 dense 5.54% -> 5.04%, FP8 dense 8.57% -> 6.81%, the
  8B table 17.2% -> 5.9%; but BF16 MoE 11.56% -> 12.65%, FP8 MoE 12.85% -> 15.14%, tables above 12% 33 -> 35, and
  the >= 16,384 band's signed mean +0.8 -> +13.6, all of it the Llama 3 128K row (+6.6 -> +32.1; the 8K and 16K
  rows do not move). x2.0 with 0.65: all rows 7.65%, the 8B table 3.1%, the band +21.9. So the whole-set evidence
  asks for faster cuDNN attention at 4K-8K keys and a slower long-span regime (or a long-context cost the model
  lacks) at once: the refit is the lead's (shared constants), with the long-context rows as its constraint.
- MT-NLG (3 rows, 13.6% MAPE, +15.7: the model too fast). Measured: a = 0.197 s per micro-batch, c = 12.7 s per
  step; model: a = 0.191 s, c = 7.0 s (its bubble 6.26 s = 34 x 0.184 s, data-parallel reduction 0.62-0.65 s,
  optimizer 0.05 s, fixed 0.02-0.03 s). The per-micro-batch cost agrees within 3.3%; the per-step cost is 1.8x the
  model's, 5.7 s per step missing, about one more pipeline fill and drain. The micro-batch is not given by the
  source (the fill rule takes 1, the fastest that fits): at micro-batch 2 the model reads +10.4 / +9.1 / +9.9%
  (its per-sample compute 9% cheaper at micro-batch 2), at 4 it reads -4.8 / -8.9 / -10.7%, so no single
  micro-batch fits all three. The secondary quote (cli99/llm-analysis) gives the layout and the iteration times
  only, and the primary text (arXiv:2201.11990) was not reachable here: the micro-batch, and whatever runs once
  per step in DeepSpeed's pipeline engine at PP 35, stay open; the rows are left as they are.

Run (bounded: the 44 DGX Cloud 8B/70B rows, the 3 MT-NLG rows and the 244 Hopper cuDNN-class dense rows, one
resolve each, about 10 s):

    PYTHONPATH=src:scripts python scripts/older_tables_diagnosis.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
from rich.table import Table
from row_layer import priced_layer
from script_args import emit, parse, run
from weakscale_diagnosis import line

from supercluster.errors import SuperclusterError
from supercluster.perf.attention_class import HOPPER_SM_ARCH
from supercluster.perf.attention_span import kernel_span_keys
from supercluster.perf.layer import head_cost
from supercluster.validate.harness import read_rows, row_specs

# bins of the keys per fused-attention call (perf.cp_ring_span's chunk c = seq / (2 cp); seq / 2 without CP)
SPAN_BINS = ((0, 1536, "< 1.5K"), (1536, 3072, "2K"), (3072, 6144, "4K"), (6144, 12288, "8K"), (12288, None, ">= 12K"))
DGXC_TABLES = ("llama3.1/README_8b.md performance table", "llama3.1/README_70b.md performance table")
MTNLG_SOURCE = "MT-NLG"


@dataclass(frozen=True)
class TermSplit:
    """One row: the model's step by term (seconds per step), the measured step and the gap it leaves."""

    row_id: str
    layout: str
    cp: int  # the context-parallel degree of the layout
    precision: str
    speed_error_pct: float  # + = the model too fast
    model_step_s: float
    measured_step_s: float
    gap_s: float  # measured - model: negative = the model too slow
    gemm_s: float  # the slowest stage's layers, forward + backward
    attention_s: float
    elementwise_s: float
    head_s: float  # output head and loss, on the last stage
    tp_cp_comm_s: float  # exposed TP and CP exchange
    dp_comm_s: float
    optimizer_s: float
    fixed_s: float
    bubble_s: float
    recompute_s: float
    pp_comm_s: float
    microbatches: int
    attention_speedup: float | None  # k closing the gap by the attention core alone


def measured_step(model_step_s: float, speed_error_pct: float) -> float:
    """The measured step implied by a row's speed error: speed error = predicted speed / measured speed - 1 =
    measured step / model step - 1 (harness.RowResult), so measured step = model step x (1 + error / 100)."""
    return model_step_s * (1.0 + speed_error_pct / 100.0)


def attention_speedup(attention_s: float, gap_s: float) -> float | None:
    """The factor k on the attention core's speed that closes ``gap_s`` (measured - model step) with every other
    term held: model - A + A / k = measured, so A / k = A + gap and k = A / (A + gap). None when the attention time
    is not larger than the time to remove (A + gap <= 0: attention alone cannot close it)."""
    rest = attention_s + gap_s
    if attention_s <= 0 or rest <= 0:
        return None
    return attention_s / rest


def split(row: dict) -> TermSplit | None:
    """The row's step by term at its resolved layout (None for a row the harness cannot price)."""
    priced = priced_layer(row)
    if priced is None:
        return None
    res, specs, est, parts = priced.result, priced.specs, priced.est, priced.parts
    model, plan, seq, acc = specs.model, est.plan, specs.workload.seq, specs.system.accelerator
    per_layer = max(est.stage_layers) * est.microbatches
    head_fwd, head_bwd, _ = head_cost(model, plan, seq, acc, priced.comm, specs.software)
    meas = measured_step(est.step_time_s, priced.speed_error_pct)
    gap = meas - est.step_time_s
    attention = (parts.fwd_attn_s + parts.bwd_attn_s) * per_layer
    return TermSplit(
        row_id=row["id"],
        layout=plan.label(),
        cp=plan.cp,
        precision=res.precision,
        speed_error_pct=priced.speed_error_pct,
        model_step_s=est.step_time_s,
        measured_step_s=meas,
        gap_s=gap,
        gemm_s=(parts.fwd_gemm_s + parts.bwd_gemm_s) * per_layer,
        attention_s=attention,
        elementwise_s=(parts.fwd_elem_s + parts.bwd_elem_s) * per_layer,
        head_s=(head_fwd + head_bwd) * est.microbatches,
        tp_cp_comm_s=est.tp_comm_s,
        dp_comm_s=est.dp_comm_s,
        optimizer_s=est.optimizer_s,
        fixed_s=est.fixed_s if est.fixed_in_step else 0.0,
        bubble_s=est.bubble_s,
        recompute_s=est.recompute_s,
        pp_comm_s=est.pp_comm_s,
        microbatches=est.microbatches,
        attention_speedup=attention_speedup(attention, gap),
    )


def per_step_split(microbatches: list[float], measured_s: list[float], model_s: list[float]) -> dict[str, float]:
    """The lines ``step = a x micro-batches + c`` through the measured and the model's steps of one strong-scaling
    series (weakscale_diagnosis.line): per-micro-batch cost a and per-step cost c of each, and their differences."""
    a_meas, c_meas = line(microbatches, measured_s)
    a_model, c_model = line(microbatches, model_s)
    return {
        "measured_per_microbatch_s": a_meas,
        "measured_per_step_s": c_meas,
        "model_per_microbatch_s": a_model,
        "model_per_step_s": c_model,
        "per_microbatch_ratio": a_meas / a_model,
        "per_step_missing_s": c_meas - c_model,
    }


def keys_per_call(seq: int, cp: int, cp_comm_type: str = "p2p") -> float:
    """Mean keys per query of one fused-attention call: without context parallelism the causal mean seq / 2; with
    the load-balanced p2p ring each call sees a chunk of c = seq / (2 cp) keys (perf.cp_ring_span); a stack that
    all-gathers K and V first (``all_gather``, Llama 3's) walks each query to its causal frontier in the gathered
    keys, seq / 2 on average over the rank's two chunks (perf.cp_allgather_span; the step model prices its forward
    there and its backward, one tile per key block, at most c queries a tile, by that module), the same number as
    perf.attention_span.SpanSpeed.span_keys."""
    return kernel_span_keys(float(seq), cp if cp_comm_type == "p2p" else 1)


def span_bin(keys: float) -> str:
    for low, high, name in SPAN_BINS:
        if keys >= low and (high is None or keys < high):
            return name
    return SPAN_BINS[-1][2]


def hopper_cudnn_dense(row: dict) -> bool:
    """A dense throughput row on a Hopper card whose stack runs the fused attention kernel of the cuDNN class (the
    class the H100's attention fractions are fitted on; scripts/attention_share_residuals.py's 'cudnn' rows)."""
    if row.get("metric") == "activation_gib_per_gpu" or (row.get("moe_experts") or "").strip() not in ("", "0"):
        return False
    try:
        specs = row_specs(row, None)
    except SuperclusterError:
        return False
    sw = specs.software
    return (
        specs.system.accelerator.sm_arch == HOPPER_SM_ARCH
        and sw.attention_kernel == "flash"
        and sw.attention_class == "cudnn"
        and sw.attention_fa2_relative is None
        and not specs.model.is_moe
    )


def by_span(rows: list[dict]) -> list[dict[str, object]]:
    """Per key-span bin and precision: the rows, their median speed error and median attention share, and the
    median speed-up k of the attention core that would close each row (:func:`attention_speedup`; rows it cannot
    close counted)."""
    binned: dict[tuple[str, str], list[tuple[TermSplit, float]]] = {}
    for row in rows:
        s = split(row)
        if s is None:
            continue
        specs = row_specs(row, None)
        keys = keys_per_call(specs.workload.seq, s.cp, specs.software.cp_comm_type)
        binned.setdefault((span_bin(keys), s.precision), []).append((s, s.attention_s))
    order = {name: i for i, (_, _, name) in enumerate(SPAN_BINS)}
    out = []
    for (name, precision), items in sorted(binned.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        ks = [s.attention_speedup for s, _ in items if s.attention_speedup is not None]
        share = [a / s.model_step_s for s, a in items]
        out.append(
            {
                "keys_per_call": name,
                "precision": precision,
                "rows": len(items),
                "median_speed_error_pct": float(np.median([s.speed_error_pct for s, _ in items])),
                "median_attention_share": float(np.median(share)),
                "median_attention_speedup": float(np.median(ks)) if ks else None,
                "not_closable": len(items) - len(ks),
            }
        )
    return out


def dgxc_rows(rows: list[dict]) -> list[dict]:
    """The DGX Cloud Llama 3.1 8B and 70B table rows (every container release)."""
    return [r for r in rows if any(t in r.get("source", "") for t in DGXC_TABLES)]


def mtnlg_rows(rows: list[dict]) -> list[dict]:
    """The MT-NLG 530B rows (Smith et al. 2022 section 2.4)."""
    return [r for r in rows if MTNLG_SOURCE in r.get("source", "")]


def short_id(row_id: str) -> str:
    """A row id shortened for the table: 'dgxc2409-h100-llama31-8b-bf16-8' -> '2409 8b bf16 8',
    'mtnlg22-s24-530b-2240' -> 'mtnlg 2240'."""
    if row_id.startswith("mtnlg"):
        return "mtnlg " + row_id.rsplit("-", 1)[-1]
    return row_id.replace("dgxc", "").replace("-h100-llama31", "").replace("-", " ")


def rest_s(s: TermSplit) -> float:
    """Every term of the step outside the layers' compute and the head: exposed TP/CP, pipeline and data-parallel
    communication, optimizer, fixed costs, the pipeline bubble and the recompute."""
    return s.tp_cp_comm_s + s.pp_comm_s + s.dp_comm_s + s.optimizer_s + s.fixed_s + s.bubble_s + s.recompute_s


def render_terms(results: list[TermSplit], title: str) -> Table:
    table = Table(title=title)
    table.add_column("row", no_wrap=True, max_width=18)
    for col in ("err%", "gap", "gemm", "attn", "elt", "head", "rest", "k"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in results:
        table.add_row(
            short_id(s.row_id)[:18],
            f"{s.speed_error_pct:+.1f}",
            f"{s.gap_s:+.1f}",
            f"{s.gemm_s:.1f}",
            f"{s.attention_s:.2f}",
            f"{s.elementwise_s:.2f}",
            f"{s.head_s:.2f}",
            f"{rest_s(s):.2f}",
            "-" if s.attention_speedup is None else f"{s.attention_speedup:.2f}",
        )
    return table


def render_line(fit: dict[str, float]) -> Table:
    table = Table(title="MT-NLG 530B: step = a x micro-batches + c")
    table.add_column("", no_wrap=True)
    table.add_column("a (s/mb)", justify="right")
    table.add_column("c (s/step)", justify="right")
    table.add_row("measured", f"{fit['measured_per_microbatch_s']:.4f}", f"{fit['measured_per_step_s']:.2f}")
    table.add_row("model", f"{fit['model_per_microbatch_s']:.4f}", f"{fit['model_per_step_s']:.2f}")
    return table


def render_span(bins: list[dict[str, object]]) -> Table:
    table = Table(title="Hopper cuDNN-class dense rows by keys per attention call")
    for col in ("keys/call", "prec", "rows", "err% med", "att share", "k med", "k none"):
        table.add_column(col, justify="left" if col in ("keys/call", "prec") else "right", no_wrap=True)
    for b in bins:
        k = b["median_attention_speedup"]
        table.add_row(
            str(b["keys_per_call"]),
            str(b["precision"]),
            str(b["rows"]),
            f"{b['median_speed_error_pct']:+.1f}",
            f"{b['median_attention_share']:.2f}",
            "-" if k is None else f"{k:.2f}",
            str(b["not_closable"]),
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    dgxc = [s for s in (split(r) for r in dgxc_rows(rows)) if s is not None]
    mtnlg = [s for s in (split(r) for r in mtnlg_rows(rows)) if s is not None]
    fit = (
        per_step_split(
            [s.microbatches for s in mtnlg], [s.measured_step_s for s in mtnlg], [s.model_step_s for s in mtnlg]
        )
        if len({s.microbatches for s in mtnlg}) >= 2
        else {}
    )
    spans = by_span([r for r in rows if hopper_cudnn_dense(r)])
    doc = {
        "dgxc_llama31": [asdict(s) for s in dgxc],
        "mtnlg": [asdict(s) for s in mtnlg],
        "mtnlg_line": fit,
        "hopper_cudnn_by_span": spans,
    }
    legend = (
        "gap: measured - model step (- = model too slow); gemm/attn/elt: the slowest stage's layers; head: output "
        "head + loss; rest: TP/CP, PP and DP comm, optimizer, fixed, bubble, recompute; k: attention speed-up closing "
        "the gap"
    )
    tables = [
        render_terms(dgxc, "DGX Cloud Llama 3.1 8B / 70B: step by term (s)"),
        render_terms(mtnlg, "MT-NLG 530B: step by term (s)"),
        *([render_line(fit)] if fit else []),
        render_span(spans),
    ]
    emit(args, doc, [*tables, legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
