"""What attention speed the long-context Hopper rows imply, by kernel class and key span per call (issues 14, 15).

The long-context rows disagree in sign: the Megatron-MoE-ModelZoo Qwen3-235B H100 table (Transformer Engine, cuDNN
fused attention) reads ever more too slow from 16K to 128K, while torchtitan's Dec 2024 tables (PyTorch SDPA, the
FlashAttention-2 backend) read too fast at 128K-256K. Both run the same load-balanced ring (perf.cp_ring_span: TE's
AttnFuncWithCPAndKVP2P; PyTorch's _templated_ring_attention, whose off-diagonal calls pass is_causal False), and
both hide the ring's key/value passes behind attention, so the masking split and the exchange are priced alike; what
differs is the kernel and the span per call.

What each stack ran, from its source at the rows' commits:

- Megatron-MoE-ModelZoo (yanring/Megatron-MoE-ModelZoo e8650517): the long-context launch lines
  (best_practice/qwen3/run_235b.sh, "# Long context", and the readme's command) pass no ``--cp-comm-type``, nor does
  model_configs/benchmarking/Qwen3-235B-A22B.yaml (only ``--context-parallel-size: ${CP}``), so Megatron-LM's
  default runs: megatron/training/arguments.py ``'--cp-comm-type', nargs='+', type=str, default=["p2p"]`` ("p2p,
  a2a, allgather or a2a+p2p"): TE's load-balanced ring, already priced by perf.cp_ring_span. The TransformerEngine
  PR #2125 the notes require ("Fix memory overhead of linear layer when all gather from sequence parallel",
  merged 2025) releases the tensors gathered from the sequence-parallel region promptly; it changes memory, not
  the attention or its exchange.
- torchtitan 9dec370 (Dec 2024): torchtitan/utils.py get_train_context enters ``sdpa_kernel([SDPBackend.
  FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])`` under CP ("currently we only support these two SDP
  backends"), so the kernel is FlashAttention-2; config_manager.py ``--experimental.context_parallel_rotate_method``
  default "allgather" ("all-gather all kv shards on ranks after the first sub-SDPA computation"). PyTorch's
  torch/distributed/tensor/experimental/_attention.py runs the same round-robin split as TE
  (``_is_causal_behavior``: i == 0 IS_CAUSAL, else NOT_IS_CAUSAL when load balancing; "i <= rank ... only the first
  local chunk of the k, v", "i > rank ... only the second half of the q"), with the all-gather issued before the
  first call and the dK/dV passes (``_AllToAllRotater``, FP32) issued one step ahead: the off-diagonal calls are
  unmasked as p2p prices them, and the exchange (0.3-2.5 ms a layer at these shapes, against tens of ms of
  attention a step) hides as the ring's does.
- Meta's Llama 3 (arXiv:2407.21783 3.3.2): all-gather CP, each rank's two chunks attending to the gathered K and V
  (perf.cp_allgather_span prices those calls), its all-gather exposed (perf.cp_allgather).

So the masking split and the exchange are priced by each stack's mechanism; what is left is attention speed.

For every dense or MoE throughput row on a Hopper card with a fused attention kernel and a sequence of at least
16,384 tokens, this script finds the factor k on the card's attention fractions (forward and backward alike) that
makes the row's predicted speed equal its measurement (predict_row with an efficiency override; bisection on log
k, the model itself, not a first-order estimate) and reports:

- the kernel span per (forward) call, n = seq / (2 cp) keys for the ring (perf.attention_span.kernel_span_keys),
  seq / 2 for all-gather CP (perf.cp_allgather_span; perf.attention_span.SpanSpeed.span_keys), and cp;
- a, the modelled attention share of one layer's compute (scripts/attention_share_residuals.attention_share);
- the row's speed error (+ = model too fast) and k (k > 1: the row asks for faster attention);
- the implied attention throughput as a fraction of the BF16 peak, forward and backward combined by FLOPs
  (perf.attention_kernel.table_fwd_bwd_fraction of the table, times the step model's kernel and span factors at the
  row's span, times k).

Per table (source and router, 3 rows or more) it also fits the two factors that make the whole table exact,

    1 + err / 100 = x (1 - a) + a / k

(ordinary least squares in x and 1/k): the non-attention time factor x (x > 1: the rest of the step is slower than
priced) and one attention speed-up k for the table. A table whose rows all sit at one span per call but whose
implied k moves with a says that something besides attention is mispriced; the two-factor fit separates the two
to first order (a is the layer's compute share, not the step's: communication and bubbles count as non-attention).

It changes nothing in the model; a refit of the H100 attention fractions is the accuracy protocol's job
(scripts/refit_protocol.py). Bounded: about 40 rows, at most 40 predictions each (seconds to a minute).

    PYTHONPATH=src:scripts python scripts/longctx_attention_speed.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from attention_share_residuals import attention_share, kernel_class, priced_rows
from rich.table import Table
from script_args import emit, parse, run

from supercluster.perf.attention_class import HOPPER_SM_ARCH
from supercluster.perf.attention_kernel import table_fwd_bwd_fraction
from supercluster.perf.context import collective_model
from supercluster.perf.layer import flash_speed, layer_parts
from supercluster.validate.harness import measured_estimate, predict_row
from supercluster.validate.rows import row_specs

MIN_SEQ = 16384  # tokens: the long-context rows
K_LO, K_HI = 0.25, 4.0  # bisection bracket of the attention factor
BISECTIONS = 40  # halvings of log(K_HI / K_LO): k to better than 1e-10 relative


@dataclass(frozen=True)
class SpanRow:
    """One long-context row: its span per kernel call, attention share, speed error and the attention factor k
    (and implied fraction of peak) that makes it exact."""

    id: str
    source: str
    router: str
    attention_class: str
    seq: int
    cp: int
    span_keys: float
    attention_share: float
    speed_error_pct: float
    k: float | None
    modelled_fraction: float
    implied_fraction: float | None


def scaled_error(row: dict[str, str], card: str, base, k: float) -> float | None:
    """The row's speed error (%) with the card's attention fractions times ``k``."""
    eff = base.model_copy(
        update={
            "attention_fwd_fraction": min(1.0, base.attention_fwd_fraction * k),
            "attention_bwd_fraction": min(1.0, base.attention_bwd_fraction * k),
        }
    )
    result = predict_row(row, {card: eff})
    return result.speed_error_pct if result.status == "ok" else None


def solve_k(row: dict[str, str], card: str, base) -> float | None:
    """k with speed error 0 (bisection on log k within [K_LO, K_HI]; the error rises with k); None outside it."""
    lo, hi = math.log(K_LO), math.log(K_HI)
    e_lo, e_hi = scaled_error(row, card, base, K_LO), scaled_error(row, card, base, K_HI)
    if e_lo is None or e_hi is None or e_lo > 0 or e_hi < 0:
        return None
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        e = scaled_error(row, card, base, math.exp(mid))
        if e is None:
            return None
        lo, hi = (mid, hi) if e < 0 else (lo, mid)
    return math.exp(0.5 * (lo + hi))


def span_row(row: dict[str, str]) -> SpanRow | None:
    """The row's SpanRow, or None when it is not a long-context throughput row on a Hopper card with a fused
    kernel."""
    result = predict_row(row)
    if result.status != "ok" or result.speed_error_pct is None or "throughput" not in result.group:
        return None
    specs = row_specs(row)
    system, sw, model = specs.system, specs.software, specs.model
    acc = system.accelerator
    seq = specs.workload.seq
    if acc.sm_arch != HOPPER_SM_ARCH or sw.attention_kernel != "flash" or seq < MIN_SEQ:
        return None
    est = measured_estimate(row)[1]  # the layout predict_row read the row's error at
    cp = est.plan.cp
    parts = layer_parts(model, est.plan, seq, acc, sw, collective_model(system), model.is_moe)
    speed, by_span = flash_speed(model, seq, cp, acc, sw)
    eff = acc.efficiency
    # forward and backward combined by FLOPs (backward 2.5x), each at the row's speed and span factors
    modelled = table_fwd_bwd_fraction(
        eff.model_copy(
            update={
                "attention_fwd_fraction": min(1.0, eff.attention_fwd_fraction * speed * by_span.fwd),
                "attention_bwd_fraction": min(1.0, eff.attention_bwd_fraction * speed * by_span.bwd),
            }
        )
    )
    k = solve_k(row, acc.id, eff)
    return SpanRow(
        row["id"],
        result.source,
        (row.get("moe_router") or "").strip(),
        kernel_class(sw),
        seq,
        cp,
        by_span.span_keys,
        attention_share(parts),
        result.speed_error_pct,
        k,
        modelled,
        None if k is None else modelled * k,
    )


def table_fits(rows: list[SpanRow]) -> list[dict[str, float | int | str | None]]:
    """Per table (source and router, 3 rows or more): x and k of 1 + err/100 = x (1 - a) + a / k by least squares
    (module docstring), the fit's RMS residual in points and the table's modelled and implied attention fraction
    (mean modelled fraction times k)."""
    groups: dict[tuple[str, str], list[SpanRow]] = defaultdict(list)
    for r in rows:
        groups[(r.source, r.router)].append(r)
    out: list[dict[str, float | int | str | None]] = []
    for (source, router), mine in sorted(groups.items()):
        if len(mine) < 3:
            continue
        a = np.array([r.attention_share for r in mine])
        y = 1.0 + np.array([r.speed_error_pct for r in mine]) / 100.0
        (x, inv_k), *_ = np.linalg.lstsq(np.column_stack([1.0 - a, a]), y, rcond=None)
        rms = float(np.sqrt(np.mean((x * (1.0 - a) + inv_k * a - y) ** 2))) * 100.0
        modelled = float(np.mean([r.modelled_fraction for r in mine]))
        k = 1.0 / inv_k if inv_k > 0 else None  # no finite speed-up fits the table
        out.append(
            {
                "source": source,
                "router": router,
                "n": len(mine),
                "x": float(x),
                "k": k,
                "rms_pct": rms,
                "modelled_fraction": modelled,
                "implied_fraction": None if k is None else modelled * k,
            }
        )
    return out


def render_rows(rows: list[SpanRow]) -> Table:
    table = Table(title="Long-context Hopper rows: attention speed implied")
    for col in ("row", "cls", "cp", "span", "a", "err", "k", "model", "impl"):
        table.add_column(col, justify="left" if col in ("row", "cls") else "right")
    for r in rows:
        k = "-" if r.k is None else f"{r.k:.2f}"
        impl = "-" if r.implied_fraction is None else f"{r.implied_fraction:.3f}"
        table.add_row(
            r.id[-26:], r.attention_class, str(r.cp), f"{r.span_keys:,.0f}", f"{r.attention_share:.2f}",
            f"{r.speed_error_pct:+.1f}", k, f"{r.modelled_fraction:.3f}", impl,
        )  # fmt: skip
    return table


def render_fits(fits: list[dict[str, float | int | str | None]]) -> Table:
    table = Table(title="Per table: 1 + err = x (1 - a) + a / k")
    for col in ("table", "router", "n", "x", "k", "rms", "impl"):
        table.add_column(col, justify="left" if col in ("table", "router") else "right")
    for f in fits:
        k, implied = f["k"], f["implied_fraction"]
        table.add_row(
            str(f["source"])[:30], str(f["router"])[:8], str(f["n"]), f"{f['x']:.2f}",
            "-" if k is None else f"{k:.2f}", f"{f['rms_pct']:.1f}", "-" if implied is None else f"{implied:.3f}",
        )  # fmt: skip
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    rows = priced_rows(span_row)
    rows.sort(key=lambda r: (r.attention_class, r.source, r.span_keys))
    fits = table_fits(rows)
    doc = {"rows": [asdict(r) for r in rows], "tables": fits}
    legend_rows = (
        "span: keys per query per kernel call; a: attention share of the layer's compute; err: % (+ = model too "
        "fast); k: attention factor that makes the row exact; model / impl: fwd+bwd attention fraction of BF16 "
        "peak, modelled and implied"
    )
    legend_fits = "x: non-attention time factor; k: attention speed-up; rms: points"
    emit(args, doc, [render_rows(rows), legend_rows, render_fits(fits), legend_fits])


if __name__ == "__main__":
    run(main, sys.argv[1:])
