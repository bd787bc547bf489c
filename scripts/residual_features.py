"""Which feature of a run its speed error follows: checkpointing, tokens per micro-batch or memory pressure (issue 14).

llm-foundry's MPT benchmark tables (scripts/train/benchmarking/README.md) read about 12 points more optimistic
without activation checkpointing than with it, for the same model and GPU count. Three readings were on the table:

- (a) the model prices full recompute wrongly. The benchmark prints both MFU and HFU for every run, and its HFU
  counts the re-run forward ("HFU" = MFU x 4/3 on every row with checkpointing, = MFU on every row without), the
  same 8/6 the step model charges; so the split cannot come from how the recompute is counted;
- (b) runs without checkpointing sit near the HBM limit, where PyTorch's caching allocator frees and retries
  (``num_alloc_retries``) and stalls. That predicts the error to grow with the predicted memory fraction
  (perf.memory) of each row;
- (c) the runs without checkpointing also run small micro-batches (llm-foundry's sweep picks the largest that fits),
  so every per-micro-batch cost weighs more on them.

This script puts the three side by side for the rows whose source or stack matches a pattern, and fits the speed
error (+ = model too fast) by ordinary least squares on each feature, alone and together: the feature whose fit
leaves the smallest residual is the one the error follows. Features of a row:

- ``tokens_per_microbatch``: micro-batch x sequence length, the tokens one GPU runs per forward/backward;
- ``recompute``: the row's recompute column ('full', 'selective' or none);
- ``memory_fraction``: the model's memory per GPU over the card's capacity (perf.memory);
- ``hfu_over_mfu``: the HFU/MFU the source itself printed, where the row's notes carry "MFU x% HFU y%".

Run (bounded: one estimate per matching row, ~100 rows for 'foundry', a few seconds):

    python scripts/residual_features.py foundry [OUT.json]
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from script_args import guarded

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.plan import resolve
from supercluster.validate import fill_rule
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload

PRINTED_UTILISATION = re.compile(r"MFU ([0-9.]+)% HFU ([0-9.]+)%")
# the feature sets fitted, by name; each is a list of RowFeatures attributes (an intercept is always added)
FITS = {
    "recompute": ("no_recompute",),
    "memory fraction": ("memory_fraction",),
    "log2 tokens/micro-batch": ("log2_tokens",),
    "log2 tokens + recompute": ("log2_tokens", "no_recompute"),
    "all three": ("log2_tokens", "no_recompute", "memory_fraction"),
}


@dataclass(frozen=True)
class RowFeatures:
    """One row's features and its speed error in percent (+ = model too fast)."""

    id: str
    recompute: str
    tokens_per_microbatch: int
    memory_fraction: float
    hfu_over_mfu: float | None
    speed_error_pct: float

    @property
    def no_recompute(self) -> float:
        return 0.0 if self.recompute in ("full", "selective") else 1.0

    @property
    def log2_tokens(self) -> float:
        return math.log2(self.tokens_per_microbatch)


def printed_hfu_over_mfu(notes: str) -> float | None:
    """HFU/MFU as the source printed them ("MFU 42.18% HFU 56.24%" -> 1.333); None where the notes carry neither.

    llm-foundry's benchmark counts a checkpointed run's hardware FLOPs as model FLOPs plus one more forward (2 of
    the 6 per parameter and token), so its HFU/MFU is 8/6 = 4/3 with activation checkpointing and 1 without."""
    found = PRINTED_UTILISATION.search(notes or "")
    if not found:
        return None
    mfu, hfu = float(found.group(1)), float(found.group(2))
    return hfu / mfu if mfu > 0 else None


def features(row: dict[str, str]) -> RowFeatures:
    """The features of one bundled row, and its live speed error (predict_row, not the stored residuals)."""
    result = predict_row(row)
    if result.speed_error_pct is None:
        raise SuperclusterError(f"row {row.get('id')}: no speed error ({result.reason or 'not a speed metric'})")
    model = row_model(row)
    system, workload, plan = row_system(row), row_workload(row, model), row_plan(row)
    est = resolve(plan, workload, system, catalog.software(system.software), system.gpus, fill_rule.measured)
    memory = est.memory
    return RowFeatures(
        id=row["id"],
        recompute=(row.get("recompute") or "").strip().lower() or "none",
        tokens_per_microbatch=est.plan.micro_batch * workload.seq,
        memory_fraction=memory.total_bytes / memory.capacity_bytes,
        hfu_over_mfu=printed_hfu_over_mfu(row.get("notes") or ""),
        speed_error_pct=float(result.speed_error_pct),
    )


def least_squares(columns: list[list[float]], y: list[float]) -> tuple[list[float], float]:
    """Ordinary least squares of y on an intercept and the given columns: (coefficients, residual RMS)."""
    x = np.column_stack([np.ones(len(y)), *[np.asarray(c, dtype=float) for c in columns]])
    target = np.asarray(y, dtype=float)
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    residual = target - x @ coef
    return [float(c) for c in coef], float(np.sqrt(np.mean(residual**2)))


def fits(rows: list[RowFeatures]) -> dict[str, dict[str, object]]:
    """Each feature set of FITS fitted to the rows' speed errors."""
    errors = [r.speed_error_pct for r in rows]
    out: dict[str, dict[str, object]] = {}
    for name, names in FITS.items():
        coef, rms = least_squares([[getattr(r, n) for r in rows] for n in names], errors)
        out[name] = {"features": list(names), "intercept": coef[0], "slopes": coef[1:], "residual_rms_pct": rms}
    return out


def matching(pattern: str) -> list[dict[str, str]]:
    """Bundled throughput rows whose source or software matches the pattern (case-insensitive)."""
    _, rows = read_rows("all")
    want = re.compile(pattern, re.IGNORECASE)
    return [
        r
        for r in rows
        if r.get("metric") != "activation_gib_per_gpu"
        and want.search((r.get("source") or "") + " " + (r.get("software") or ""))
    ]


def main() -> None:
    pattern = sys.argv[1] if len(sys.argv) > 1 else "foundry"
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    rows = []
    for row in matching(pattern):
        try:
            rows.append(features(row))
        except SuperclusterError as err:
            print(f"skipped: {err}")
    if len(rows) < 3:
        raise SystemExit(f"only {len(rows)} rows match '{pattern}'; need 3 or more to fit")
    rows.sort(key=lambda r: (r.tokens_per_microbatch, r.id))
    table = Table(title=f"Speed error by feature, rows matching '{pattern}' (+ = model too fast)")
    for col in ("row", "AC", "tokens/mb", "mem", "HFU/MFU", "err %"):
        table.add_column(col, justify="left" if col in ("row", "AC") else "right")
    for r in rows:
        ratio = "-" if r.hfu_over_mfu is None else f"{r.hfu_over_mfu:.2f}"
        table.add_row(
            r.id[:38], r.recompute[:4], f"{r.tokens_per_microbatch:,}", f"{r.memory_fraction:.2f}", ratio,
            f"{r.speed_error_pct:+.1f}",
        )  # fmt: skip
    console = Console(width=80)
    console.print(table)
    fitted = fits(rows)
    summary = Table(title=f"Least-squares fits of the error ({len(rows)} rows)")
    for col in ("features", "intercept", "slopes", "resid RMS"):
        summary.add_column(col, justify="left" if col == "features" else "right")
    for name, f in fitted.items():
        slopes = ", ".join(f"{s:+.2f}" for s in f["slopes"])  # type: ignore[union-attr]
        summary.add_row(name, f"{f['intercept']:+.1f}", slopes, f"{f['residual_rms_pct']:.2f}")
    console.print(summary)
    if path is not None:
        out = {"pattern": pattern, "rows": [asdict(r) for r in rows], "fits": fitted}
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    guarded(
        main,
        "residual_features.py [PATTERN [OUT.json]]",
        flags=(),
        valued=(),
        paths=(0, 2),
    )
