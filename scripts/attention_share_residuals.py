"""Does the speed error follow the attention share of a layer, and does that depend on the kernel class? (issue 14)

The DGX Cloud Llama 3.1 8B table (TP 1, CP 2, 8,192 tokens; NeMo 24.09 and 24.12 with cuDNN fused attention,
NVTE_FUSED_ATTN=1) reads 13-18% too slow in BF16 and FP8 alike. Its BF16 and FP8 gaps per layer and micro-batch are
nearly the same time (about 2.1 and 1.8 ms), so the gap is not in the GEMMs, whose time FP8 cuts by 40%, but in what
both precisions run in BF16: the fused attention, 30% (BF16) and 41% (FP8) of the modelled layer. If the H100's fitted
attention fractions (0.28 forward, 0.21 backward at the reference span) are right for one kernel class and wrong for
the other, the error of the rows of that class falls linearly with the modelled attention share.

This script tabulates that on the bundled set: every dense throughput row on a Hopper card (compute capability 9.0)
with a fused-attention kernel, its live speed error (predict_row, + = model too fast) and its modelled attention share

    a = (attention forward + backward) / (GEMMs + attention + elementwise, forward + backward)

of one layer and micro-batch (perf.layer.layer_parts, the pieces the step time is built from), grouped by the
stack's attention class (``SoftwareProfile.attention_class``: cudnn, the Transformer Engine stacks; fa2, PyTorch
SDPA / flash-attn stacks; pre-fa2, a stack priced against an older kernel by ``attention_fa2_relative``). Per class
it fits err = c + b a by ordinary least squares (scripts/residual_features.least_squares).

Reading the slope. If the class's attention ran k times faster than priced, a row's time would shrink by the
factor 1 - a (1 - 1/k), so its speed error would rise by about 100 a (1 - 1/k) points (first order in a (1 - 1/k)).
A slope of b points per unit share is flattened by 1 - 1/k = -b / 100, that is k = 1 / (1 + b / 100)
(:func:`implied_speedup`); the intercept is what the GEMM and elementwise pricing leave at zero attention share.
A joint refit of the card's GEMM and attention fractions is the accuracy protocol's job (scripts/refit_protocol.py);
this script only says whether the data asks for it and which class.

Run (bounded: one estimate per matching row, about 320 rows, seconds):

    PYTHONPATH=src:scripts python scripts/attention_share_residuals.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from residual_features import least_squares
from rich.console import Console
from rich.table import Table
from script_args import guarded

from supercluster.errors import SuperclusterError
from supercluster.perf.attention_class import HOPPER_SM_ARCH
from supercluster.perf.context import collective_model
from supercluster.perf.layer import LayerParts, layer_parts
from supercluster.plan import resolve
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import row_specs

T = TypeVar("T")


@dataclass(frozen=True)
class ShareRow:
    """One row's modelled attention share of a layer, its stack's attention class and its speed error (%)."""

    id: str
    source: str
    attention_class: str
    attention_share: float
    speed_error_pct: float


def attention_share(p: LayerParts) -> float:
    """(attention forward + backward) over the layer's compute (GEMMs, attention, elementwise; forward + backward)
    of one layer and micro-batch; communication and recompute left out (the same for both sides of the ratio)."""
    attention = p.fwd_attn_s + p.bwd_attn_s
    total = p.fwd_gemm_s + p.bwd_gemm_s + attention + p.fwd_elem_s + p.bwd_elem_s
    return attention / total if total > 0 else 0.0


def implied_speedup(slope_pct_per_share: float) -> float | None:
    """The attention speed-up k that flattens a slope of b points of speed error per unit attention share:
    1 - 1/k = -b/100, k = 1 / (1 + b/100) (module docstring). None when b <= -100 (no finite k)."""
    denominator = 1.0 + slope_pct_per_share / 100.0
    return 1.0 / denominator if denominator > 0 else None


def kernel_class(sw) -> str:
    """cudnn / fa2 as the profile records it; pre-fa2 for a stack priced against an older kernel."""
    return "pre-fa2" if sw.attention_fa2_relative is not None else sw.attention_class


def share_row(row: dict[str, str]) -> ShareRow | None:
    """The row's ShareRow, or None when it is not a dense throughput row on a Hopper card with a fused kernel."""
    result = predict_row(row)
    if result.status != "ok" or result.speed_error_pct is None or "moe" in result.group:
        return None
    specs = row_specs(row)
    system, sw = specs.system, specs.software
    acc = system.accelerator
    if acc.sm_arch != HOPPER_SM_ARCH or sw.attention_kernel != "flash":
        return None
    est = resolve(specs.plan, specs.workload, system, sw, system.gpus)
    parts = layer_parts(specs.model, est.plan, specs.workload.seq, acc, sw, collective_model(system), False)
    return ShareRow(row["id"], result.source, kernel_class(sw), attention_share(parts), result.speed_error_pct)


def class_fits(rows: list[ShareRow]) -> dict[str, dict[str, float | int | None]]:
    """Per attention class (3 rows or more): err = intercept + slope x share, its residual RMS, the correlation and
    the implied attention speed-up."""
    out: dict[str, dict[str, float | int | None]] = {}
    for cls in sorted({r.attention_class for r in rows}):
        mine = [r for r in rows if r.attention_class == cls]
        if len(mine) < 3:
            continue
        shares = [r.attention_share for r in mine]
        errors = [r.speed_error_pct for r in mine]
        (intercept, slope), rms = least_squares([shares], errors)
        corr = float(np.corrcoef(shares, errors)[0, 1]) if np.std(shares) > 0 and np.std(errors) > 0 else None
        out[cls] = {
            "n": len(mine),
            "intercept_pct": intercept,
            "slope_pct_per_share": slope,
            "residual_rms_pct": rms,
            "correlation": corr,
            "implied_attention_speedup": implied_speedup(slope),
            "mean_share": float(np.mean(shares)),
        }
    return out


def priced_rows(one: Callable[[dict[str, str]], T | None]) -> list[T]:
    """``one(row)`` for every bundled row but the activation-memory ones, None left out; a row the model refuses
    (SuperclusterError) is named on stderr and skipped (shared with scripts/longctx_attention_speed.py)."""
    out: list[T] = []
    _, bundled = read_rows("all")
    for row in bundled:
        if row.get("metric") == "activation_gib_per_gpu":
            continue
        try:
            got = one(row)
        except SuperclusterError as err:
            print(f"skipped {row.get('id')}: {err}", file=sys.stderr)
            continue
        if got is not None:
            out.append(got)
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    rows = priced_rows(share_row)
    fitted = class_fits(rows)
    console = Console(width=80)
    table = Table(title="Speed error vs modelled attention share, Hopper dense rows")
    for col in ("class", "rows", "mean a", "err at a=0", "slope", "corr", "k"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for cls, f in fitted.items():
        corr = "-" if f["correlation"] is None else f"{f['correlation']:+.2f}"
        k = "-" if f["implied_attention_speedup"] is None else f"{f['implied_attention_speedup']:.2f}"
        table.add_row(
            cls, str(f["n"]), f"{f['mean_share']:.2f}", f"{f['intercept_pct']:+.1f}",
            f"{f['slope_pct_per_share']:+.1f}", corr, k,
        )  # fmt: skip
    console.print(table)
    console.print("err: % (+ = model too fast); slope: points per unit share;")
    console.print("k: the attention speed-up that flattens the slope")
    if path is not None:
        out = {"rows": [asdict(r) for r in rows], "fits": fitted}
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    guarded(
        main,
        "attention_share_residuals.py [OUT.json]",
        flags=(),
        valued=(),
        paths=(0, 1),
    )
