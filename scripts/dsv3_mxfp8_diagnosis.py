"""DeepSeek-V3 MXFP8 on Blackwell in the Megatron-Bridge 26.x containers reads too slow: which term? (issue 15)

Rows: the Megatron-Bridge performance-summary DeepSeek-V3 rows (ids mb2511-*, mb2602-*, mb260201-*, mb2604-*,
mb260401-*, mb2606-*). For each the script prints the container, the card, the layout (pp, vpp, ep, local experts per
MoE layer, micro-batches per step), the stack profile, the speed error (+ = model too fast), the step's terms as
shares of the predicted step (compute, exposed all-to-all, bubble, fixed per-kernel and host costs), and the speed
error the row would read without perf.host_sync's per-local-expert host work (``HOST_PER_LOCAL_EXPERT_S`` set to 0 for
the row; a what-if, not a proposal).

Findings (validate all on main a1fd921: all rows 7.65%, leave-one-source-out column 7.90%):

- Two groups, two causes. (1) B200/B300 at PP 16, EP 8 (26.02, 26.02.01, 26.04: 32 local experts, 4 layers per
  rank, micro-batch 1, 256 micro-batches): fixed and host costs are 30-35% of the predicted step, almost all of it
  perf.host_sync's per-local-expert host term (32 x 630 us per MoE layer and micro-batch, of which the GPU hides
  about two thirds). Without that term they read +3.8..+9.4 instead of -8.1..-19.6. (2) GB200/GB300 (4 or 8 local
  experts, PP 2-4): the host term is already hidden (fixed 0.2-0.3%); compute is 83% of the step, and the rows read
  -6..-14 with the same config across 26.02 > 26.02.01 > 26.04 > 26.04.01 (GB300 4612 > 4691 > 4965 > 4992
  tokens/s/GPU, GB200 3955 > 4021 > 4193 > 4256, model constant): a GPU-side container gain (26.04 ships TE 2.13,
  "Added MXFP8 quantization kernels for grouped tensors used in MoE, with fused scale-factor swizzling", and TE 2.14's
  host cuts; scripts/container_pairs.py RELEASE_NOTES) that states no number.
- The recipes (NVIDIA-NeMo/Megatron-Bridge, scripts/performance/configs/deepseek/) change little that the model does
  not already read from the rows: v0.2.0 (25.11) workload_base_configs.py vs v0.3.0 (26.02)
  deepseek_workload_base_configs.py: B200 gains moe_flex_dispatcher_backend="hybridep" (priced: profile
  megatron-bridge-deepep-2025), GB300 MXFP8 moves to PP 2 x VPP 8, micro-batch 2, EP 32, recompute mla_up_proj and
  ``cuda_graph_scope=[]`` (no CUDA graph; 25.11 captured attn, moe_router, moe_preprocess), and
  deepseek_llm_pretrain.py drops 25.11's MXFP8-only "keeping this eanbled causes NaN grad norm" switch-off of
  overlap_param_gather (a gather of ~10 GB of FP8 weights per step among 4-128 ranks: <0.5% of a 15 s step, so not
  the gap). Between v0.3.0 and v0.4.0 the DeepSeek-V3 configs differ only by refactoring (the constructor arguments
  moved to cfg.model; NVFP4 and VR200 entries added). bf16_with_mxfp8_mixed is the same at v0.2.0, v0.3.0 and
  v0.4.0 (fp8_param_gather = True, reuse_grad_buf_for_mxfp8_param_ag = True).
- Not landed: a per-dispatcher cut of the per-local-expert term. Scaling it for every flex-dispatcher stack
  (ep_dispatch per-destination) to 0 or to the guide's swizzle share (190 of 630 us) fixes the PP 16 rows and the
  B200 Qwen3-30B-A3B HybridEP rows but breaks the others that need it: all rows 7.65% -> 7.81% (0) or 7.73% (190 us),
  leave-one-source-out column 7.90% -> 8.08% / 8.01%; FP8 MoE 10.2% -> 14.6% / 13.1%; the 26.02 H100 Qwen3-30B-A3B
  DeepEP table 19.1% -> 162% / 121%; the GB200/GB300 Qwen3-30B-A3B MXFP8 tables 3-10% -> 7-15%. The term's size is
  linear in local experts; that the PP 16 DeepSeek-V3 rows (32 local experts) want less of it while the B200
  Qwen3-30B-A3B 25.11 row (16 local experts, all-to-all dispatcher: -25.6% with the term, +154% without) wants all
  of it says the per-expert host work is not linear in local experts on the 26.x stacks (TE's bulk MXFP8 allocation,
  transformer_engine/pytorch/csrc/extensions/cast.cpp split_quantize ``AllocationMethod::BULK_MXFP8``, allocates all
  experts' buffers in one call), which needs a measurement (a host profile of one MoE layer at 8, 16 and 32 local
  experts on the 26.x container) before it can be priced.

Run (bounded: two estimates per DeepSeek-V3 Megatron-Bridge row, about 25 rows, seconds):

    PYTHONPATH=src:scripts python scripts/dsv3_mxfp8_diagnosis.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster.perf import host_sync
from supercluster.validate import harness
from supercluster.validate.harness import read_rows

_CONTAINER = re.compile(r"(\d\d\.\d\d(?:\.\d\d)?) NeMo container")


@dataclass(frozen=True)
class RowTerms:
    """One DeepSeek-V3 Megatron-Bridge row: layout, speed errors and the step's terms as shares of the step."""

    row_id: str
    container: str
    gpu: str
    pp: int
    vpp: int
    ep: int
    local_experts: int
    micro_batches: int
    software: str
    measured: float
    speed_error_pct: float  # + = model too fast
    speed_error_no_expert_host_pct: float  # the same with HOST_PER_LOCAL_EXPERT_S = 0 (what-if)
    compute_share: float
    ep_comm_share: float
    bubble_share: float
    fixed_share: float


def bridge_dsv3_rows(rows: list[dict]) -> list[dict]:
    """The Megatron-Bridge performance-summary DeepSeek-V3 rows (ids mb*)."""
    return [r for r in rows if r["id"].startswith("mb") and (r.get("model") or "").strip() == "deepseek-v3"]


def speed_error(row: dict, expert_host_s: float) -> float | None:
    """The row's speed error with ``host_sync.HOST_PER_LOCAL_EXPERT_S`` at ``expert_host_s`` (restored after)."""
    kept = host_sync.HOST_PER_LOCAL_EXPERT_S
    host_sync.HOST_PER_LOCAL_EXPERT_S = expert_host_s
    try:
        return harness.predict_row(row).speed_error_pct
    finally:
        host_sync.HOST_PER_LOCAL_EXPERT_S = kept


def diagnose(row: dict) -> RowTerms | None:
    """The row's terms, or None when the harness cannot price it."""
    err = speed_error(row, host_sync.HOST_PER_LOCAL_EXPERT_S)
    if err is None:
        return None
    without = speed_error(row, 0.0)
    _, est = harness.measured_estimate(row)
    step = est.step_time_s
    m = _CONTAINER.search(row.get("source") or "")
    ep = int(row["ep"] or 1)
    return RowTerms(
        row_id=row["id"],
        container=m.group(1) if m else "?",
        gpu=row["gpu"],
        pp=int(row["pp"] or 1),
        vpp=int(row["vpp"] or 1),
        ep=ep,
        local_experts=int(row["moe_experts"]) // ep,
        micro_batches=est.microbatches,
        software=row.get("software") or "",
        measured=float(row["value"]),
        speed_error_pct=err,
        speed_error_no_expert_host_pct=float(without if without is not None else float("nan")),
        compute_share=est.compute_s / step,
        ep_comm_share=est.ep_comm_s / step,
        bubble_share=est.bubble_s / step,
        fixed_share=est.fixed_s / step,
    )


def render(results: list[RowTerms]) -> Table:
    table = Table(title="DeepSeek-V3, Megatron-Bridge: terms (% of step)")
    table.add_column("cont.", no_wrap=True)
    table.add_column("gpu", no_wrap=True)
    for col in ("pp", "vpp", "xp", "err", "no-e", "cmp", "a2a", "bub", "fix"):
        table.add_column(col, justify="right", no_wrap=True)
    for d in sorted(results, key=lambda d: (d.container, d.gpu, d.row_id)):
        table.add_row(
            d.container,
            d.gpu.split("-")[0],
            str(d.pp),
            str(d.vpp),
            str(d.local_experts),
            f"{d.speed_error_pct:+.1f}",
            f"{d.speed_error_no_expert_host_pct:+.1f}",
            f"{100 * d.compute_share:.0f}",
            f"{100 * d.ep_comm_share:.0f}",
            f"{100 * d.bubble_share:.0f}",
            f"{100 * d.fixed_share:.0f}",
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    results = [d for d in (diagnose(r) for r in bridge_dsv3_rows(rows)) if d is not None]
    doc = {"rows": [asdict(d) for d in results]}
    legend = (
        "xp: local experts per MoE layer; err: speed error % (+ = model too fast); no-e: the same without "
        "perf.host_sync's per-local-expert host work (what-if); cmp/a2a/bub/fix: compute, exposed all-to-all, "
        "bubble, fixed and host costs as % of the predicted step"
    )
    emit(args, doc, [render(results), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
