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

Reading with the ModelZoo's pipeline split (64b18c6 plus the accounted profiles, 2026-12-01): the model config sets
both account_for_* flags (software.yaml, megatron-core-deepep-accounted-2025), so the last rank holds the output head
(151,936 x 4,096, about 2.8 decoder layers of GEMM at TP 2) beside 2 layers at PP 32 and 11 at PP 8, where the
balanced split gave it 1 and 10: that rank now paces both. PP32 +18.0% -> +5.3%, EP32 +1.8% -> -1.8%, EP32 with
the combined 1F1B +15.2% -> +7.9%; FSDP (PP 1) and TP4 (its last rank 11 layers + a TP-4 head, under the 12-layer
ranks) unchanged. Fastest first, measured: ep32-1f1b = ep8-fsdp < ep32 < ep8-a2a-pp32 < ep8-tp4; the model had
ep32-1f1b < ep32 < ep8-a2a-pp32 < ep8-fsdp < ep8-tp4 (Spearman rho 0.56) and now orders ep32-1f1b < ep32 <
ep8-fsdp < ep8-a2a-pp32 < ep8-tp4 (rho 0.82): the FSDP row (-19%) and the TP4 row (-24%) remain. Note that with
the last rank pacing, fix/l and need/l divide by the largest rank's layers (3 at PP 32), not the pacing rank's 2.

The FSDP row, layout checked against its command (not changed): the table reads TP 2, DP 128, GA 4, the launch
script at the table's commit TP=1 (DP 256, GA 2; the row keeps the table, see its note). Megatron-FSDP at the run's
core (Megatron-LM 1e057005, custom_fsdp/fully_sharded_data_parallel.py) reduce-scatters after every micro-batch's
backward under optim_grads_params ("grad_reduce_every_bprop"), in fp32 (no --grad-reduce-in-bf16), and re-gathers
each layer's parameters for its backward. Each GPU's 16 local experts hold 94 x 16 x 3 x 4,096 x 1,536 = 28.4 G
parameters sharded over the 32 expert-DP ranks, one per node, so at GA 4 its NIC carries 31/32 x 28.4 G x (4 x 2 x
2 B + 4 x 4 B) = 880 GB a step: 17.6 s at the readme's 50 GB/s per GPU, the measured step itself, which leaves no
room for anything but perfect overlap at line rate. At the script's GA 2 it is 8.8 s, and the model reads the row
at -6.6% (all else equal) instead of -19.5%; a source that settles TP would settle the row.

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


def ranks(values: list[float]) -> list[float]:
    """Rank of each value, 1 for the smallest (the fastest step), ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i : j + 1]:
            out[k] = (i + j) / 2.0 + 1.0
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the two rank lists (ties at mean ranks), 1 when the
    model orders the layouts as the measurement does."""
    ra, rb = ranks(a), ranks(b)
    n = len(ra)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    var_a = sum((x - ma) ** 2 for x in ra)
    var_b = sum((y - mb) ** 2 for y in rb)
    return cov / (var_a * var_b) ** 0.5


def order_line(results: list[RowTerms]) -> str:
    """The five layouts fastest first, as measured and as the model prices them, with Spearman's rho."""
    measured = " < ".join(short_name(s.row_id) for s in sorted(results, key=lambda s: s.measured_step_s))
    model = " < ".join(short_name(s.row_id) for s in sorted(results, key=lambda s: s.model_step_s))
    rho = spearman([s.measured_step_s for s in results], [s.model_step_s for s in results])
    return f"fastest first, measured: {measured}\nfastest first, model:    {model}\nSpearman rho {rho:+.2f}"


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
    rho = spearman([s.measured_step_s for s in results], [s.model_step_s for s in results])
    emit(
        args,
        {"rows": [asdict(s) for s in results], "spearman_rho": rho},
        [render(results), legend, order_line(results)],
    )


if __name__ == "__main__":
    run(main, sys.argv[1:])
