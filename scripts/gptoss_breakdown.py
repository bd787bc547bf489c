"""GPT-OSS on Megatron-Bridge: where the step model puts a layer's time, against what each measured step implies (issue
15).

For every bundled GPT-OSS row the script resolves the row's layout as ``validate`` does (harness.row_specs, fill rule
``measured``), prices one MoE layer for one micro-batch with perf.layer.layer_parts at that layout, and splits it into
the dense GEMMs (QKV 2880 -> (64 + 2 x 8) x 64 = 5120, output 4096 -> 2880, router), the expert GEMMs (the local
experts' FC1 and FC2 as the stack's kernel runs them, perf.shape_memo.expert_gemms), the attention core, the
memory-bound elementwise work and the forward all-to-all. It then states the gap the measured step leaves: (measured
step - model step) / (micro-batches x layers), in milliseconds per layer and micro-batch, and as a share of the model's
layer time: what a missing per-layer mechanism would have to cost.

Attention is checked separately against NVIDIA's GPT-OSS attention benchmark (tests/test_gptoss_attention.py:
cudnn-frontend sdpa_benchmark_training, GPT-OSS shape, head dim 64, 128-token window, GB200, cuDNN 9.26; the GB300 file
of the same date reads 174 / 192 TFLOP/s forward / backward against the GB200's 162 / 184). The model's window-layer
rate relative to its own causal head-dim-128 reference (sequence 4096) lies within about 27% of cuDNN's ratio in each
direction (forward 27% too fast, backward 19% too slow), and over a forward plus a backward (2.5x the FLOPs) the model
is about 8% slower than cuDNN on the window layers: attention at head dim 64 and the 128-token window is not where the
+14..+53% on Blackwell comes from.

Verdict on the bundled set (2026-12-01, main at 46e7cca): on the B200 (26.04.01, ep8 mb4) one layer and micro-batch is
19.8 ms in the model (GEMMs 12.1: experts 9.5 of them; attention 3.7; elementwise 4.1), and the measured step leaves
7.6 ms per layer and micro-batch (+38%) unexplained; the GB200, B300 and GB300 rows of the same container leave 6.6,
7.6 and 3.5 ms. (The 25.11 B200 row, which left 26 ms at the table's EP 8, ran at the release config's EP 64:
scripts/gptoss_recipe_flags.py; at EP 64 it reads +9%.) Every other MoE model of the same tables and cards reads
within -26..+25% (most within +-13%), and the H100 rows of the same recipes leave +0.4..+2.0 ms (+4..+10%): the
missing term is specific to GPT-OSS on Blackwell.
What it would have to cost is stated per row (``gap_share_of_layer``). Not priced and small: the recipes' selective
recompute of "layernorm" and "moe_act" (about 0.2 ms per layer and micro-batch on the B200 row by bytes). Checked
and ruled out (scripts/gptoss_attention_backend.py, tests/test_gptoss_attention_backend.py): Transformer Engine's
backend for the learnable sinks with the 128-token window; in both containers (25.11: TE 2.9, cuDNN 9.13.1.26;
26.04.01: TE 2.14, cuDNN 9.20.0) every layer trains on cuDNN's fused attention, sub-backend 1, on H100 and on
B200/GB200/B300/GB300 alike (FlashAttention is filtered out for any sink; cuDNN takes sinks from 9.13.1 on every
architecture; the only Blackwell-specific switch, determinism, is off in the GPT-OSS recipes), as the step model
prices it.

Update (2026-12-01, branch gptoss7): one cited term found and priced, the rest sized and left.

* Priced: Megatron-Core clamps GPT-OSS's gated activation as eager ops before its compiled quick-GEGLU
  (megatron/core/fusions/fused_bias_geglu.py weighted_bias_quick_geglu_impl, identical at 0d8e071 ... 3097d81:
  chunk, two clamps, torch.cat), 8 B forward and 15 B backward per element of the routed FC1 output, re-run by the
  moe_act recompute (perf.mcore_unfused, item 3). On the 26.04.01 rows it adds about 1.3 ms per layer and
  micro-batch on Blackwell (mb 4) and 0.8 ms on H100 (mb 1): B200 +29 -> +23.5, GB200 +32 -> +24, B300 +34 -> +27,
  GB300 +17 -> +10, H100 +8.6 -> +7.0 (validate); the 25.11 rows +8..+9 on Blackwell and +2 on H100. What is left
  per layer and micro-batch: B200 6.4 ms, B300 6.4, GB200 5.3, GB300 2.2, H100 0.3.
* Sized and not the remainder: (1) the learnable sinks' backward: cuDNN's dSink is a reduction over b x h x s_q
  statistics (gptoss_attention_backend.py, item 5), kilobytes; TransformerEngine issue #3249 (2026-09) places the
  sink gradient in a separate kernel whose generic variant serves only value head dims outside {64, 128, 256}:
  GPT-OSS's 64 takes the specialised one. (3) tile quantisation of hidden 2880 / FC1 5760 on 256-wide 2-SM tiles:
  12 x 256 = 3072 (6.7% waste) and 23 x 256 = 5888 (2.2%) against 2.2% and 0% on Hopper's 128-wide tiles, about
  0.2 ms per layer and micro-batch on the B200, within perf.gemm's smooth partial-tile term. (4) CUDA-graph scopes:
  the 26.04.01 configs graph [attn, moe_router, moe_preprocess] on GB300 and B300 only
  (gpt_oss_workload_base_configs.py at 406d3be); B300 (graphs) reads the worst error and B200 (none) the same as
  GB200 (none), so graphs do not separate the rows.
* Evidence for the next person: the later archive tables (Megatron-Bridge docs/performance-summary-archive.md,
  mirror 067f987) run GPT-OSS 120B in MXFP8 at 26.06: GB300 EP 16 33166, GB200 EP 64 28947, B300 EP 8 18534
  tokens/s/GPU, against the 26.04.01 BF16 19200 / 16640 / 15232: MXFP8 gains 1.74x on the GB200 at the same EP 64 but
  1.22x on the B300 at EP 8. Priced as if they were 26.04.01 rows (not added: no recipe read, TE 2.15's fused
  grouped MLP with ScaledClampedQGeGLU not checked) the model reads them -19..-25% on GB200/GB300 and +19..+22% on
  B300: the B300/B200 EP-8 layout is too fast in the model at either precision. The 26.06.01 footnote "Performance
  regression in GPT-OSS 120B pre-training is a known issue" (20288 / 18304) points at NVIDIA/cudnn-frontend issue
  #256, grouped_gemm_dglu_wrapper_sm100 (the MXFP8 grouped GEMM + dGeGLU kernel) 10x slower in frontend 1.24, and
  the Megatron-Bridge v0.5.1 release notes say the same ("GPT-OSS GB200/GB300 MXFP8 regression due to regressed
  CuTeDSL fused kernels (cudnn-frontend/#256)"): an expert-GEMM kernel, not attention, and not in the BF16 rows'
  stack. Also seen and not priced (small, not Blackwell-specific): weighted_bias_quick_geglu_impl builds its offset
  with ``torch.tensor(linear_offset, ..., device=input.device)`` on every call, a pageable host-to-device copy next
  to the ``tokens_per_expert.tolist()`` sync TEGroupedMLP.forward already pays.

Run (bounded: the 11 GPT-OSS rows, one resolve each, a few seconds):

    PYTHONPATH=src python scripts/gptoss_breakdown.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from rich.table import Table
from row_layer import priced_layer
from script_args import emit, parse, run

from supercluster.perf import shape_memo
from supercluster.validate.harness import read_rows


@dataclass(frozen=True)
class LayerSplit:
    """One GPT-OSS row: the model's time for one MoE layer and micro-batch by part (ms, forward + backward) and the
    gap the measured step leaves per layer and micro-batch."""

    row_id: str
    gpu: str
    layout: str
    speed_error_pct: float  # + = the model too fast
    dense_gemm_ms: float
    expert_gemm_ms: float
    attention_ms: float
    elementwise_ms: float
    ep_fwd_ms: float  # the forward all-to-all before overlap (exposed share: step terms)
    layer_ms: float  # GEMMs + attention + elementwise, forward and backward
    model_step_s: float
    measured_step_s: float
    gap_per_layer_ms: float  # (measured - model step) / (micro-batches x layers)
    gap_share_of_layer: float


def split(row: dict) -> LayerSplit | None:
    """The row's layer split at its resolved layout (None for a row the harness cannot price)."""
    priced = priced_layer(row)
    if priced is None:
        return None
    specs, est, parts = priced.specs, priced.est, priced.parts
    model, sw, plan, seq, acc = specs.model, specs.software, est.plan, specs.workload.seq, specs.system.accelerator
    gemm_ms = (parts.fwd_gemm_s + parts.bwd_gemm_s) * 1e3
    # the local experts' two GEMMs as layer_parts prices them (balanced gate: every expert its exact share)
    tok = plan.micro_batch * seq / plan.cp
    et, t = plan.expert_tp, plan.tp
    local = model.moe_experts / plan.ep
    rows_per_expert = tok * (et / t) * model.moe_topk * plan.ep / model.moe_experts
    up = 2 if model.gated else 1
    fe = model.expert_ffn
    exact = model.moe_router == "fake-balanced" or model.moe_capacity_factor is not None
    expert_s = 0.0
    for n, k in ((up * fe / et, model.hidden), (model.hidden, fe / et)):
        f, d, w = shape_memo.expert_gemms(
            None, sw.expert_gemm, local, rows_per_expert, n, k, acc, plan.precision, exact
        )
        expert_s += f + d + w
    layer_ms = (
        parts.fwd_gemm_s + parts.bwd_gemm_s + parts.fwd_attn_s + parts.bwd_attn_s + parts.fwd_elem_s + parts.bwd_elem_s
    ) * 1e3
    measured_step = est.tokens_per_step / est.gpus / float(row["value"])
    gap_ms = (measured_step - est.step_time_s) / (est.microbatches * model.layers) * 1e3
    return LayerSplit(
        row_id=row["id"],
        gpu=row["gpu"].strip(),
        layout=plan.label(),
        speed_error_pct=priced.speed_error_pct,
        dense_gemm_ms=gemm_ms - expert_s * 1e3,
        expert_gemm_ms=expert_s * 1e3,
        attention_ms=(parts.fwd_attn_s + parts.bwd_attn_s) * 1e3,
        elementwise_ms=(parts.fwd_elem_s + parts.bwd_elem_s) * 1e3,
        ep_fwd_ms=parts.ep_fwd_s * 1e3,
        layer_ms=layer_ms,
        model_step_s=est.step_time_s,
        measured_step_s=measured_step,
        gap_per_layer_ms=gap_ms,
        gap_share_of_layer=gap_ms / layer_ms,
    )


def gptoss_rows(rows: list[dict]) -> list[dict]:
    """The bundled throughput rows of the GPT-OSS models."""
    return [
        r
        for r in rows
        if (r.get("model") or "").strip().startswith("gpt-oss") and r.get("metric") == "tokens_per_s_per_gpu"
    ]


def render(results: list[LayerSplit]) -> Table:
    table = Table(title="GPT-OSS: one MoE layer and micro-batch (ms)")
    table.add_column("row", no_wrap=True, max_width=13)
    for col in ("err%", "dG", "xG", "att", "elt", "a2a", "lay", "gap", "gap%"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in results:
        short = s.row_id.replace("-gpt-oss-", " ").replace("-64-bf16", "").replace("automodel-", "am ")
        table.add_row(
            short.removeprefix("mb")[:13],
            f"{s.speed_error_pct:+.0f}",
            f"{s.dense_gemm_ms:.1f}",
            f"{s.expert_gemm_ms:.1f}",
            f"{s.attention_ms:.1f}",
            f"{s.elementwise_ms:.1f}",
            f"{s.ep_fwd_ms:.1f}",
            f"{s.layer_ms:.1f}",
            f"{s.gap_per_layer_ms:+.1f}",
            f"{100 * s.gap_share_of_layer:+.0f}",
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    results = [s for s in (split(r) for r in gptoss_rows(rows)) if s is not None]
    doc = {"rows": [asdict(s) for s in results]}
    legend = (
        "dG/xG: dense and expert GEMMs; att: attention core; elt: elementwise; a2a: forward all-to-all before "
        "overlap; lay: dG + xG + att + elt; gap: (measured - model step) per layer and micro-batch; gap%: of lay"
    )
    emit(args, doc, [render(results), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
