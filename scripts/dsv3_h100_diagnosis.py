"""DeepSeek-V3 on H100 reads 13-18% too fast on the NeMo 25.04 and Megatron-Bridge 25.09 stacks: which term? (issue 15)

Rows: dgxcv2505-h100-dsv3-bf16-1024 (NVIDIA/dgxc-benchmarking v25.05 deepseek_v3/pretraining/README.md, "Training
step time (seconds per step)| ... | 52.04", TP 2, PP 16, EP 64), dgxcv250504-h100-dsv3-bf16-512 (v25.05.04, 48.948 s,
PP 8), both NeMo 25.04.01 with NCCL all-to-all, drop-and-pad and MTP; mb2509-h100-deepseek-v3-1024-fp8 (Megatron-Bridge
25.09, DeepEP with the combined 1F1B). The DeepSeek-V3 rows of other stacks fit or read too slow: AutoModel H100 +5/-5
(TP 1, DeepEP, full recompute), the DeepSeek-V3 report's H800 row +3.5, the Megatron-Bridge B200/GB200/GB300 rows
-24..+8.

For every DeepSeek-V3 row the script resolves the layout as ``validate`` does, prints the step's terms, one MoE layer's
split (dense GEMMs, expert GEMMs, attention core, elementwise, forward all-to-all: scripts/gptoss_breakdown.py), the
decoder layers per pipeline rank and the rank the model says paces the pipeline (first, middle or last; the last
carries the output head, the MTP block and the head again: perf.mtp_stage), with the layer's cost before the
all-to-all overlap and the fixed per-kernel costs (perf.layer.layer_cost), so a sketch of what perf.batch prices:
every layer at the MoE layer's cost and no all-to-all hidden, so ranks holding the dense layers, and rows that run
the combined 1F1B (mb2509, whose first rank the sketch names), read off; for the DGX Cloud rows (no overlap) it
matches perf.batch within 3% (PP 16: middle 161 / last 166 ms against perf.batch's 157 / 164).

What the two DGX Cloud rows say together (:func:`implied_layer_and_extra`): they run the same tokens per GPU and step
(4,096 x 8,192 / 1,024 = 4,096 x 4,096 / 512 = 32,768) on the same stack, yet the PP 16 run is 6.3% slower (52.04 s
against 48.95 s) where the model has it 2.5% slower. In the model both are paced by the last rank (PP 16: 2 layers +
MTP block + 2 head passes, 164 ms per micro-batch, against 157 ms for the 4-layer middle ranks; PP 8: 321 against
314 ms). Solving the two measured steps (less the model's bubble and straggler terms) for a per-layer cost L and the
last rank's extra work E (last = (n_last + 1) L + E) gives L = 42 ms and E = 63 ms per micro-batch, against the
model's 39 ms and 45 ms (two head passes of 22.7 ms): the layers ~7% dearer, and ~18 ms per micro-batch more on the
last rank than its head passes and MTP block. That points at the last rank (the 129,280-entry vocabulary's head and
loss twice, the MTP module), not at a layer term that would also move the AutoModel and Bridge rows.

Candidates checked (validate all on main 0888007 plus the landed TP-overlap fix; + = model too fast; in-sample / LOSO
column of all rows before: 7.499% / 7.894%):

- Landed: NeMo's DeepSeek-V3 script turns the userbuffers TP overlap off ("MegatronCommOverlapCallback,
  tp_comm_overlap=False"); software.yaml nemo-2024-dsv3-first-last. H100 rows +18.3 -> +17.4 and +14.1 -> +13.1, GB200
  rows -2.3 points each; all rows 7.504% -> 7.499%, LOSO column unchanged (7.894%).
- MTP projection M_k (2h -> h, arXiv:2412.19437 eq. 21; Megatron-Core eh_proj, column-parallel): unpriced in the
  step time (it is in ModelSpec.mtp_params). Priced as a GEMM on the last rank: H100 rows -0.7..-1.4 points, but the
  Bridge rows that balance the MTP block read slower (B300 -2.3 -> -5.9): all rows 7.499% -> 7.501%, LOSO column
  7.894% -> 7.898%. Not landed (worse LOSO).
- MLA attention (d_qk 192, d_v 128) on Hopper: cuDNN runs it fused (no FlashAttention for unequal heads). NVIDIA's
  cudnn-frontend benchmark (benchmark/sdpa_benchmark_training/results/h200_919_only_cudnn, cuDNN 9.19.1, H200,
  causal 4,096) measures DeepSeek-V3's shape at 599 TFLOP/s forward against 591 for Llama 3.1's d = 128: the forward
  is not slower per FLOP, as the model assumes. Backward: 404 (deterministic) against 474 (non-deterministic); on
  GB200 (results/dsv3/gb200, causal 8,192, both non-deterministic) 1,193 against 1,332, a 0.896 ratio. Charging the
  MLA backward that ratio on every card: all rows 7.499% -> 7.511%, LOSO column 7.894% -> 7.903% (the Blackwell
  Bridge rows, already too slow, get slower); Hopper only at 474/404 (an upper bound mixing deterministic and
  non-deterministic): H100 rows -1.5..-2.8 points, 7.488% / 7.886%, but without a non-deterministic Hopper figure.
  Not landed.
- MLA down-projections under TP 2 with sequence parallelism: at the 25.04 container's Megatron-Core (7094270,
  core_r0.12.0) they are TEColumnParallelLinear followed by gather_from_tensor_model_parallel_region and
  scatter_to_sequence_parallel_region; the extra all-gathers (~0.35 ms per layer and micro-batch over NVLink) about
  cancel the model's replicated down-projection FLOPs (~0.3 ms too much at TP 2): no net term.
- FP32 router (the script's "moe_router_dtype = 'fp32'"): the NGC containers set TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1,
  so the router GEMM runs in TF32, ~0.06 ms per layer and micro-batch: negligible.
- Recompute: v25.05 launch.sh passes RM='mla_up_proj' on H100 (selective, as entered; priced by perf.layer's MLA
  branch); Megatron-Core's "mlp" module skips MoE layers ("if not isinstance(self.mlp, MoELayer)"), so the Bridge
  recipe's mla_up_proj+mlp recomputes only the three dense layers, on the first rank.
- The loss: NeMo's GPTConfig sets "cross_entropy_loss_fusion: bool = True" (nemo/collections/llm/gpt/model/base.py
  at 7a8f1cc) and the DeepSeek-V3 script "cross_entropy_fusion_impl = 'te'", so Megatron-Core 7094270 calls
  te_parallel_cross_entropy (language_module.py, compute_language_model_loss), where the profile charges Megatron's
  unfused 38 + 14 B per logit (nemo-2024). A fused loss moves fewer bytes: the head passes are, if anything,
  overpriced (~4 ms each at 129,280 / 2 logits per token), so the last rank's unexplained work is nearer 26 ms than
  18 ms. Not changed here (it would move every NeMo 2.0 row and these rows the wrong way).
- The all-to-all over InfiniBand: the DGX Cloud rows expose 21-32% of their step in it, but other NCCL all-to-all
  rows on the same platform and stack read too slow (Llama 4 Maverick H100 -14/-17, exposed 25-30%): no uniform
  bandwidth change fits both.
- Megatron-Bridge 25.09 (mb2509) runs the combined 1F1B with DeepEP; perf.ep_overlap's Hopper rule (not in the step
  time) takes it +9.2 -> +3.4: that row's gap is the overlap's, documented there.

Run (bounded: the 21 DeepSeek-V3 rows, one resolve each, a few seconds):

    PYTHONPATH=src:scripts python scripts/dsv3_h100_diagnosis.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from gptoss_breakdown import split as layer_split
from rich.table import Table
from script_args import emit, parse, run

from supercluster.perf.context import context
from supercluster.perf.layer import head_cost, layer_cost
from supercluster.plan.fill import resolve
from supercluster.validate import harness
from supercluster.validate.harness import read_rows, row_specs


@dataclass(frozen=True)
class RowDiagnosis:
    """One DeepSeek-V3 row: the model's step terms (s), one MoE layer's split (ms per micro-batch, forward and
    backward), and the pipeline ranks' work per micro-batch (ms) before overlap and fixed costs."""

    row_id: str
    gpu: str
    layout: str
    speed_error_pct: float  # + = the model too fast
    model_step_s: float
    measured_step_s: float
    compute_s: float
    recompute_s: float
    tp_comm_s: float
    ep_comm_s: float
    bubble_s: float
    straggler_s: float
    stage_layers: tuple[int, ...]
    micro_batches: int  # per pipeline and step: global batch / (dp x micro-batch) at the resolved layout
    moe_layer_ms: float  # one MoE layer, all terms (perf.layer.layer_cost.total_s)
    head_ms: float  # output head and loss, forward and backward
    first_rank_ms: float
    middle_rank_ms: float
    last_rank_ms: float  # n_last layers + head + MTP depth x (layer + head)
    paced_by: str
    dense_gemm_ms: float
    expert_gemm_ms: float
    attention_ms: float
    elementwise_ms: float
    ep_fwd_ms: float


def implied_layer_and_extra(
    step_a_s: float, m_a: int, n_last_a: int, step_b_s: float, m_b: int, n_last_b: int
) -> tuple[float, float]:
    """Per-layer seconds L and last-rank extra seconds E (per micro-batch) that make two runs paced by their last
    rank take the given steps: step = m ((n_last + 1) L + E) for each (the MTP block counted as one more layer; the
    bubble and other terms already subtracted from ``step``). Two equations, two unknowns."""
    per_a, per_b = step_a_s / m_a, step_b_s / m_b
    layers = (per_b - per_a) / ((n_last_b + 1) - (n_last_a + 1))
    extra = per_a - (n_last_a + 1) * layers
    return layers, extra


def diagnose(row: dict) -> RowDiagnosis | None:
    """The row's step terms, layer split and rank work at its resolved layout (None for a row the harness cannot
    price)."""
    res = harness.predict_row(row)
    s = layer_split(row)
    if res.predicted is None or res.speed_error_pct is None or s is None:
        return None
    specs = row_specs(row, None)
    model, system, workload, sw = specs.model, specs.system, specs.workload, specs.software
    est = resolve(specs.plan, workload, system, sw, system.gpus, harness.fill_rule.measured)
    plan, seq, acc = est.plan, workload.seq, system.accelerator
    ctx = context(model, seq, system, sw)
    layer = layer_cost(model, plan, seq, acc, sw, ctx.comm, True).total_s
    head_f, head_b, _ = head_cost(model, plan, seq, acc, ctx.comm, sw)
    head = head_f + head_b
    stages = tuple(est.stage_layers)
    last = stages[-1] * layer + head + model.mtp_depth * (layer + head)
    middle = max(stages[1:-1]) * layer if len(stages) > 2 else 0.0
    first = stages[0] * layer
    paced = max((("first", first), ("middle", middle), ("last", last)), key=lambda kv: kv[1])[0]
    measured = float(row["value"]) if row["metric"] == "step_time_s" else s.measured_step_s
    return RowDiagnosis(
        row_id=row["id"],
        gpu=row["gpu"].strip(),
        layout=plan.label(),
        speed_error_pct=res.speed_error_pct,
        model_step_s=est.step_time_s,
        measured_step_s=measured,
        compute_s=est.compute_s,
        recompute_s=est.recompute_s,
        tp_comm_s=est.tp_comm_s,
        ep_comm_s=est.ep_comm_s,
        bubble_s=est.bubble_s,
        straggler_s=est.straggler_s,
        stage_layers=stages,
        micro_batches=workload.global_batch // (plan.dp * plan.micro_batch),
        moe_layer_ms=layer * 1e3,
        head_ms=head * 1e3,
        first_rank_ms=first * 1e3,
        middle_rank_ms=middle * 1e3,
        last_rank_ms=last * 1e3,
        paced_by=paced,
        dense_gemm_ms=s.dense_gemm_ms,
        expert_gemm_ms=s.expert_gemm_ms,
        attention_ms=s.attention_ms,
        elementwise_ms=s.elementwise_ms,
        ep_fwd_ms=s.ep_fwd_ms,
    )


def dsv3_rows(rows: list[dict]) -> list[dict]:
    """The bundled DeepSeek-V3 rows."""
    return [r for r in rows if (r.get("model") or "").strip() == "deepseek-v3"]


def render(results: list[RowDiagnosis]) -> Table:
    table = Table(title="DeepSeek-V3: pipeline ranks (ms per micro-batch)")
    table.add_column("row", no_wrap=True, max_width=16)
    for col in ("err%", "ep s", "layer", "head", "mid", "last", "pace"):
        table.add_column(col, justify="right", no_wrap=True)
    for d in results:
        short = d.row_id.replace("deepseek-v3-", "").replace("dsv3-", "").replace("automodel-", "am-")
        table.add_row(
            short[:16],
            f"{d.speed_error_pct:+.0f}",
            f"{d.ep_comm_s:.1f}",
            f"{d.moe_layer_ms:.0f}",
            f"{d.head_ms:.0f}",
            f"{d.middle_rank_ms:.0f}",
            f"{d.last_rank_ms:.0f}",
            d.paced_by,
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    results = [d for d in (diagnose(r) for r in dsv3_rows(rows)) if d is not None]
    by_id = {d.row_id: d for d in results}
    implied = None
    a, b = by_id.get("dgxcv2505-h100-dsv3-bf16-1024"), by_id.get("dgxcv250504-h100-dsv3-bf16-512")
    if a is not None and b is not None:
        m_a, m_b = a.micro_batches, b.micro_batches
        rest_a = a.bubble_s + a.straggler_s
        rest_b = b.bubble_s + b.straggler_s
        layer_s, extra_s = implied_layer_and_extra(
            a.measured_step_s - rest_a, m_a, a.stage_layers[-1], b.measured_step_s - rest_b, m_b, b.stage_layers[-1]
        )
        implied = {"layer_ms": layer_s * 1e3, "last_rank_extra_ms": extra_s * 1e3}
    doc = {"rows": [asdict(d) for d in results], "dgxc_h100_implied": implied}
    legend = (
        "ep s: exposed all-to-all per step; layer: one MoE layer before overlap; head: output head + loss;"
        " mid/last: busiest middle and last rank; pace: the rank the sketch says paces"
    )
    parts = [render(results), legend]
    if implied is not None:
        parts.append(
            f"DGX Cloud H100 pair, implied: layer {implied['layer_ms']:.1f} ms, last-rank extra "
            f"{implied['last_rank_extra_ms']:.1f} ms per micro-batch"
        )
    emit(args, doc, parts)


if __name__ == "__main__":
    run(main, sys.argv[1:])
