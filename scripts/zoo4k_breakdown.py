"""The Megatron-MoE-ModelZoo Qwen3-235B-A22B H100 4K table, term by term (issue 15).

Five layouts of one model on 256 H100s, 2,048 sequences of 4,096 tokens, BF16, the router force-balanced (the
commands at the table's own commit, examples/qwen3/run_235b.sh at 8017e11, pass ``--moe-router-force-load-balancing``
to all five): EP32 across nodes with and without the combined 1F1B, and EP8 inside a node with Megatron-FSDP, with
PP32 and the all-to-all dispatcher, and with TP4. For every row the script resolves the layout as ``validate`` does
(harness.row_specs, fill rule ``measured``), prints the model's step by term, and states what the row's fixed
per-layer cost (perf.fixed_cost plus the host synchronisation of perf.host_sync) would have to be for the model to
match the measured step with every other term held: (measured step - model step + model fixed) / (layers of the
slowest stage x micro-batches), in milliseconds per layer and micro-batch, beside the model's own.

Reading (main 0888007 plus the Hopper rule, 2026-12-01): the EP32 pair sits within +2% (no overlap) and +15%
(overlap: the model hides 4.1 s of all-to-all where the table gained 2.1 s); the three EP8 rows hold 16 local
experts each and their fixed cost is the host term of perf.host_sync (630 us of host per local expert, MoE layer and
micro-batch). The TP4 row needs 4.2 ms per layer and micro-batch where the model charges 7.1 (-24%), the PP32 row
needs 5.5 where the model charges 3.1 (+18%): one per-expert host constant cannot serve both, and the PP32 row sits
on the knee of the host-bound max (x0.8 of the constant reads +36%, x1.3 reads -4%). The FSDP row (micro-batch 4,
host hidden) reads -19% from its GPU-side terms: compute, full recompute, exposed all-to-all and ZeRO-3 traffic.

Run (bounded: five rows, one resolve each, a few seconds):

    PYTHONPATH=src python scripts/zoo4k_breakdown.py [--json] [--no-color]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster.validate import harness
from supercluster.validate.harness import read_rows

PREFIX = "zoo-qwen3-235b-h100-256-"
SUFFIX = "-st"


@dataclass(frozen=True)
class RowTerms:
    """One row of the table: the model's step by term (s), the measured step, and the fixed cost per layer and
    micro-batch the model charges against the one the measurement leaves room for (ms)."""

    row_id: str
    layout: str
    speed_error_pct: float  # + = the model too fast
    compute_s: float
    recompute_s: float
    ep_exposed_s: float
    dp_exposed_s: float
    fixed_s: float
    model_step_s: float
    measured_step_s: float
    layer_microbatches: int
    fixed_per_layer_ms: float
    needed_per_layer_ms: float


def needed_fixed_per_layer_s(measured_step_s: float, model_step_s: float, fixed_s: float, layer_mb: int) -> float:
    """Fixed seconds per layer and micro-batch that would make the model's step equal the measured one, every other
    term held: (measured - model + fixed) / layer_mb (negative when even no fixed cost is fast enough)."""
    return (measured_step_s - model_step_s + fixed_s) / layer_mb


def terms(row: dict) -> RowTerms | None:
    """The row's split at its resolved layout (None for a row the harness cannot price)."""
    res = harness.predict_row(row)
    if res.predicted is None or res.speed_error_pct is None:
        return None
    _, est = harness.measured_estimate(row)
    b = est.breakdown()
    measured = float(row["value"])  # the table's step time
    layer_mb = max(est.stage_layers) * est.microbatches
    return RowTerms(
        row_id=row["id"],
        layout=est.plan.label(),
        speed_error_pct=res.speed_error_pct,
        compute_s=b["compute_s"],
        recompute_s=b["recompute_s"],
        ep_exposed_s=b["ep_comm_exposed_s"],
        dp_exposed_s=b["dp_comm_exposed_s"],
        fixed_s=b["fixed_overhead_s"],
        model_step_s=est.step_time_s,
        measured_step_s=measured,
        layer_microbatches=layer_mb,
        fixed_per_layer_ms=b["fixed_overhead_s"] / layer_mb * 1e3,
        needed_per_layer_ms=needed_fixed_per_layer_s(measured, est.step_time_s, b["fixed_overhead_s"], layer_mb) * 1e3,
    )


def table_rows(rows: list[dict]) -> list[dict]:
    """The five 4K step-time rows of the table."""
    return [
        r for r in rows if r["id"].startswith(PREFIX) and r["id"].endswith(SUFFIX) and r.get("metric") == "step_time_s"
    ]


def short_name(row_id: str) -> str:
    """The row's layout words without the table's common prefix: ``ep32``, ``ep32-1f1b``, ``ep8-fsdp``, ..."""
    core = row_id.removeprefix(PREFIX).removesuffix(SUFFIX)
    for word in ("cross-", "intra-", "deepep-", "-overlap"):
        core = core.replace(word, "")
    return core.removesuffix("-deepep")


def render(results: list[RowTerms]) -> Table:
    table = Table(title="ModelZoo Qwen3-235B H100 4K: step by term (s)")
    table.add_column("row", no_wrap=True)
    for col in ("err%", "comp", "ep", "fix", "step", "meas", "fix/l", "need/l"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in results:
        table.add_row(
            short_name(s.row_id),
            f"{s.speed_error_pct:+.0f}",
            *(f"{v:.1f}" for v in (s.compute_s + s.recompute_s, s.ep_exposed_s, s.fixed_s)),
            f"{s.model_step_s:.1f}",
            f"{s.measured_step_s:.1f}",
            f"{s.fixed_per_layer_ms:.1f}",
            f"{s.needed_per_layer_ms:.1f}",
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv)
    _, rows = read_rows("moe")
    results = [s for s in (terms(r) for r in table_rows(rows)) if s is not None]
    legend = (
        "comp: compute and recompute; ep: exposed all-to-all; fix: fixed and host-bound cost; "
        "fix/l, need/l: that cost per layer and micro-batch (ms), the model's and what the measured step leaves"
    )
    emit(args, {"rows": [asdict(s) for s in results]}, [render(results), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
