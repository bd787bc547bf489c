"""Which per-expert host time does each synchronising MoE row ask for? (issue 15: Qwen3-30B-A3B on Blackwell too slow,
on H100 too fast)

perf.host_sync prices, per local expert, MoE layer and micro-batch, a host time the kernel counts miss
(``HOST_PER_LOCAL_EXPERT_S``, 630 us, taken from the DeepSeek-V3 GB200 guide's two expert-part fusions) and exposes it
where it outruns the GPU between the layer's host synchronisations. For every bundled row whose prediction moves
with that constant, this script finds by bisection the value at which the row's signed speed error is zero
(:func:`zero_crossing`; the row's predicted speed falls monotonically as the constant grows) and groups the rows by
card generation (the accelerator's ``sm_arch``: 90 Hopper, 100/103 Blackwell) and precision. A row whose error does
not reach zero inside [0, 1,500 us] is reported with the nearer end and ``bracketed`` False.

Verdict on the bundled set (2026-12-01, main 5372a75 plus the 26.02.01 H100 Qwen3-30B-A3B row tied to its recipe;
benchmarks/results/expert_host_scan.json):

- 89 rows move with the constant. Blackwell MXFP8 rows ask for a median 531 us (quartiles 450-657; 33 of 36
  bracketed), Hopper BF16 rows 739 us (691-803; 24 of 36), Hopper FP8 rows 784 us (687-843; 7 of 10); the catalogued
  630 us sits between. Blackwell BF16 does not follow Blackwell MXFP8: the GPT-OSS-120B B200/B300 rows read +28% to
  +36% and ask for about 1,450 us or more (their optimism lies elsewhere), the ModelZoo GB200 Qwen3-235B row -36%
  and asks for less than 0.
- Megatron-Bridge Qwen3-30B-A3B (the rows of this audit): B200 micro-batch 1 (25.11, 26.02, all-to-all dispatcher)
  433 and 409 us, so no release step between them moves it; B200 micro-batch 4 (26.02.01-26.04.01) 308-348 us;
  GB200 micro-batch 4 506-628 us; GB300/B300 micro-batch 8 510-762 us; H100 FP8 at EP 16 (26.02.01, 26.04,
  26.04.01) 837-858 us and 26.02 (EP 8, DeepEP with combined 1F1B) 784 us. Within Blackwell the order follows how
  much of the layer the recipe CUDA-graphs (B200 from v0.3.1: ``cuda_graph_scope=["attn", "moe_router",
  "moe_preprocess"]``; GB200 MXFP8, GB300, B300 and the B200 micro-batch-1 configs: router and preprocess only;
  every H100 FP8 config: none; NVIDIA-NeMo/Megatron-Bridge scripts/performance/configs/qwen*/
  *workload_base_configs.py at v0.2.0, v0.3.0 21b02e0, v0.3.1 9c9dd84, 26.04-alpha 406d3be), but the GPT-OSS
  B300 rows graph the same three scopes (gpt_oss_workload_base_configs.py, v0.3.0 and 406d3be) and ask for the most.
- Why the graphed scopes cannot carry it as the model stands: Megatron-Core keeps the host copy of the counts
  outside them (token_dispatcher.py at 0d8e071: with moe_preprocess graphed ``self.cuda_dtoh_point =
  "before_ep_alltoall"``, the sync point unchanged), so the experts after the synchronisation stay eager; and the
  graphed launches are a dozen per layer and micro-batch in perf.fixed_cost's counts. A what-if adding 30-100 eager
  router launches forward and backward moves the H100 Qwen3-30B-A3B rows by under 3 points (they fall in the segment
  the attention's GPU time hides). Pricing the graphs would need the host time of a Transformer Engine module call
  (Python, quantizer set-up, autograd), which no cited measurement gives per module.
- Transformer Engine's bulk allocation of MXFP8 expert outputs (TE PR #1934, "MXFP8 Support to Reduce CPU Overhead
  By Fuse Torch Empty Calls", 2025-07-09, in v2.6 and later: transformer_engine/pytorch/csrc/extensions/cast.cpp
  ``split_quantize`` "For MXFP8, we also use bulk allocations", while current scaling "Allocate[s] output tensors
  individually") is in every MXFP8 stack of the set, so it could put MXFP8 below FP8 current scaling, but BF16
  allocates nothing and the Hopper BF16 rows ask for as much as the FP8 ones. TE's scale swizzle fused into the
  MXFP8 cast (PR #3338) lands in August 2026, after every container here.
- What-if, not landed (scripts/refit_protocol.py --catalog-attention, per-expert constant by precision): MXFP8 480 us
  and every other precision 630 us gives all rows catalog 7.625% -> 7.527% (protocol LOSO column 7.843% -> 7.748%,
  MXFP8 MoE 9.82% -> 8.52%, published set unchanged); MXFP8 500 us and others 750 us 7.438% (LOSO 7.647%), published
  LOSO 4.090% -> 4.097%. The protocol's LOSO refits only the efficiency tables, not this constant, and the split has
  no mechanism: card generation and precision are confounded (every Blackwell row that brackets is MXFP8 or GPT-OSS
  BF16, every Hopper row BF16 or FP8-CS), and the one cited per-expert difference (bulk MXFP8 allocation) predicts
  BF16 lowest, which the Hopper BF16 rows contradict. Nothing lands. What would separate card from precision and
  graphs: the per-expert host time measured on one Blackwell and one Hopper host with the same stack, BF16 and
  8-bit experts, with and without ``--cuda-graph-scope attn moe_router moe_preprocess``.

Run (bounded: about 12 estimates per moving row, under 100 rows, some seconds):

    PYTHONPATH=src:scripts python scripts/expert_host_scan.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import host_sync
from supercluster.validate.harness import predict_row, read_rows

LO_S, HI_S = 0.0, 1500e-6  # bisection bracket of the per-expert host seconds
TOL_S = 2e-6  # bracket width at which the bisection stops
PROBE_S = (300e-6, 1000e-6)  # a row "moves" when its error differs by more than MOVES_PCT between these
MOVES_PCT = 0.5


@dataclass(frozen=True)
class RowHost:
    """One row's signed speed error at the catalogued constant and the constant that zeroes it."""

    id: str
    gpu: str
    generation: str  # "hopper" (sm_arch 90), "blackwell" (100, 103), else the sm_arch
    precision: str
    software: str
    micro_batch: str
    ep: str
    signed_pct: float  # at host_sync.HOST_PER_LOCAL_EXPERT_S
    zero_us: float  # the constant at which the row reads 0 (or the nearer bracket end)
    bracketed: bool


def generation(sm_arch: int) -> str:
    """Card generation from the accelerator's SM architecture (90 Hopper; 100 and 103 Blackwell)."""
    if sm_arch == 90:
        return "hopper"
    if sm_arch in (100, 103):
        return "blackwell"
    return f"sm{sm_arch}"


def zero_crossing(
    error_at: Callable[[float], float], lo: float = LO_S, hi: float = HI_S, tol: float = TOL_S
) -> tuple[float, bool]:
    """The x in [lo, hi] with ``error_at(x) == 0`` by bisection, for ``error_at`` decreasing in x (more host time,
    a slower prediction). Returns (x, True), or the nearer end and False when 0 lies outside the bracket."""
    if not lo < hi:
        raise SuperclusterError(f"bisection bracket [{lo}, {hi}] is empty; lo must be below hi")
    e_lo, e_hi = error_at(lo), error_at(hi)
    if e_lo <= 0.0:
        return lo, e_lo == 0.0
    if e_hi >= 0.0:
        return hi, e_hi == 0.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if error_at(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), True


def error_with(row: dict, host_per_expert_s: float) -> float | None:
    """The row's signed speed error (%) with ``host_sync.HOST_PER_LOCAL_EXPERT_S`` set to ``host_per_expert_s``
    (restored afterwards)."""
    kept = host_sync.HOST_PER_LOCAL_EXPERT_S
    host_sync.HOST_PER_LOCAL_EXPERT_S = host_per_expert_s
    try:
        return predict_row(row).speed_error_pct
    finally:
        host_sync.HOST_PER_LOCAL_EXPERT_S = kept


def scan_row(row: dict) -> RowHost | None:
    """``row`` with its zero crossing, or None when it is not predicted or does not move with the constant."""
    probes = [error_with(row, v) for v in PROBE_S]
    base = predict_row(row).speed_error_pct
    if base is None or None in probes or abs(probes[0] - probes[1]) <= MOVES_PCT:
        return None

    def error_at(v: float) -> float:
        e = error_with(row, v)
        if e is None:
            raise SuperclusterError(f"{row['id']}: no prediction at {v * 1e6:.0f} us per expert")
        return e

    zero, ok = zero_crossing(error_at)
    return RowHost(
        id=row["id"],
        gpu=row["gpu"],
        generation=generation(catalog.accelerator(row["gpu"]).sm_arch),
        precision=(row.get("precision") or "").strip(),
        software=(row.get("software") or "").strip(),
        micro_batch=(row.get("micro_batch") or "").strip(),
        ep=(row.get("ep") or "").strip(),
        signed_pct=round(base, 2),
        zero_us=round(zero * 1e6, 1),
        bracketed=ok,
    )


def groups(rows: list[RowHost]) -> list[dict]:
    """Per (generation, precision): rows, bracketed rows, and the bracketed zero crossings' median and quartiles."""
    keys = sorted({(r.generation, r.precision) for r in rows})
    out = []
    for gen, prec in keys:
        members = [r for r in rows if (r.generation, r.precision) == (gen, prec)]
        zs = sorted(r.zero_us for r in members if r.bracketed)
        q = statistics.quantiles(zs, n=4, method="inclusive") if len(zs) >= 2 else [None, None, None]
        out.append(
            dict(
                generation=gen,
                precision=prec,
                rows=len(members),
                bracketed=len(zs),
                median_us=statistics.median(zs) if zs else None,
                q1_us=q[0],
                q3_us=q[2],
            )
        )
    return out


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    scanned = [s for s in (scan_row(r) for r in rows) if s is not None]
    summary = groups(scanned)
    doc = dict(
        catalog_host_per_local_expert_us=host_sync.HOST_PER_LOCAL_EXPERT_S * 1e6,
        groups=summary,
        rows=[asdict(s) for s in scanned],
    )
    per_row = Table(title="Per-expert host time at which each synchronising MoE row reads 0 (us)")
    for col in ("row", "gpu", "prec", "mb", "ep", "signed % now", "zero at", "bracketed"):
        per_row.add_column(col)
    for s in sorted(scanned, key=lambda s: (s.generation, s.precision, s.id)):
        per_row.add_row(
            s.id, s.gpu, s.precision, s.micro_batch, s.ep, f"{s.signed_pct:+.1f}", f"{s.zero_us:.0f}", str(s.bracketed)
        )
    by_group = Table(title="By card generation and precision (bracketed rows)")
    for col in ("generation", "precision", "rows", "bracketed", "median", "q1", "q3"):
        by_group.add_column(col)
    for g in summary:
        by_group.add_row(
            *(str(g[k]) for k in ("generation", "precision", "rows", "bracketed")),
            *("-" if g[k] is None else f"{g[k]:.0f}" for k in ("median_us", "q1_us", "q3_us")),
        )
    emit(args, doc, [per_row, by_group])


if __name__ == "__main__":
    run(main, sys.argv[1:])
