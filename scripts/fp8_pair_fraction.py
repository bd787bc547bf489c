"""Which FP8 GEMM fraction do the same-table BF16/FP8 pairs ask for, card by card and stack by stack? (issue 14/15)

A benchmark table that runs one model, layout and container in BF16 and in FP8 on the same card (the DGX Cloud
Benchmarking recipes do) measures the FP8 speed-up with everything else held: the recipe, the layout, the network,
the cluster. In the step model the two rows share every term except the precision of the linear layers' GEMMs, so the
FP8 row's signed speed error minus its BF16 partner's is the error of the FP8 GEMM rate against the BF16 one
(scripts/refit_fp8.py prints that difference as its "paired" table). This script turns the difference into a fraction:
for each FP8 row with a BF16 partner (same document, card, model, layout, batch and sequence; refit_fp8.LAYOUT_KEYS)
it finds by bisection the card's ``gemm_peak_fraction.fp8`` at which the FP8 row reads the same signed error as its
partner (:func:`implied_fraction`), the BF16 fraction and every other constant as the catalog's. The FP8 row's
predicted speed rises monotonically with the fraction, so the root is unique when it lies inside the bracket.

Reading it. The model's sustained FP8:BF16 GEMM rate ratio of a card is ``2 f8 / f16`` (the FP8 peak is twice the
BF16 one on Hopper and Blackwell), before the FP8 quantization overhead (``fp8_overhead_fraction``, 0.10 on both):
Hopper SXM 2 x 0.63 / 0.694 = 1.82, Blackwell 2 x 0.565 / 0.529 = 2.14 (:func:`gemm_rate_ratio`). A table whose
implied ``f8`` sits near the catalog's is priced consistently; a table whose implied ``f8`` is far below it measured
a smaller FP8 speed-up than the model gives that card.

Verdict on the bundled set (2026-12-01, main at f034d31):

- DGX Cloud GB200 tables of the NeMo 25.04 container (Llama 3.1 405B, Nemotron-4 340B weak and strong, Llama 4
  Maverick; 12 pairs): implied FP8 fraction 0.413-0.470, median 0.454 (table medians 0.468, 0.454, 0.413), an FP8:BF16
  GEMM rate ratio of 1.75 against the catalog's 2.19 of that day (BF16 0.517; Hopper's is 1.83). The same README
  (llama3.1, v25.05.01, container 25.04.01) prints an H100 pair of the same recipe script: it implies 0.649
  (catalog 0.63). Over all 92 H100 SXM pairs of the DGX Cloud tables the median is 0.633 (table medians
  0.560-0.712): Hopper is priced consistently, the GB200 FP8 speed-up of that era is Hopper's, not the
  catalog's Blackwell one.
- Megatron-Bridge GB200 MoE pairs (BF16 / MXFP8, 26.04.01): 0.475 and 0.656 (median 0.566, the catalog's value).
- The recipes were read at the versions measured (NVIDIA/dgxc-benchmarking v25.05.01 llama3.1, nemotron and llama4
  launch.sh and setup.sh; their NeMo commits 6f2c6fd, b4148d2 and 7a8f1cc, scripts/performance): BF16 and FP8 run
  the same layout, micro-batch, recompute (none), CUDA graphs (Nemotron on for both, "CONFIG_OVERRIDES+=" -fsdp 0
  --cuda_graphs true""; Llama 3.1 405B and Llama 4 off for both) and userbuffers TP overlap; FP8 takes NeMo's
  default recipe ("--fp8_recipe ... default="ds"", bf16_with_fp8_mixed: delayed scaling, amax history 1024,
  fp8_param_gather True). No row field is wrong.
- No cited Blackwell-specific FP8 cost of that stack was found to price: the delayed-scaling amax reductions are small
  (an estimate: even one all-reduce per layer, micro-batch and direction, 16 x 32 x 2 = 1,024 per step of the 405B
  rows at about 30 us each, is about 30 ms of a 6.1 s step, 0.5%), and TE's Blackwell non-TN FP8 GEMMs (no
  transpose copies) are already in TE 2.1 (transformer_engine/pytorch/csrc/extensions/quantizer.cpp: "bool
  create_transpose = columnwise_usage && !non_tn_fp8_gemm_supported();"; the CI build manifest of the NeMo commit,
  requirements/manifest.json, pins TE bee4649, March 2025, between v2.1 and v2.2), so the gap is not a quantization
  kernel the older stack ran.
- The FP8 fraction is a shared whole-set constant (scripts/refit_fp8.py). Setting the family's to the pairs' 0.454
  (what-if, not landed): all rows 8.11% -> 8.56% (leave-one-source-out column 8.25% -> 8.29%), FP8 dense 8.60% ->
  9.99%, FP8 MoE 15.37% -> 14.54%, MXFP8 dense 9.61% -> 21.09%; the DGX Cloud Nemotron and Llama 4 GB200 tables
  7.3% -> 2.5% and 8.6% -> 4.0%, but the Blackwell FP8 rows without BF16 partners (NeMo 25.02-25.07 summaries,
  Megatron-Bridge tables) lose 4-12 points each. Those rows' speed depends on the BF16-era constants as much as on
  the FP8 one, and the bundled set holds no Blackwell dense BF16 row of the later stacks to separate the two; until
  it does, the pairs say only that the Blackwell FP8:BF16 ratio of the 2025 NeMo stack is about Hopper's.

Run (bounded: about 16 estimates per paired row, 111 pairs, about 15 s on one core):

    PYTHONPATH=src:scripts python scripts/fp8_pair_fraction.py [OUT.json]
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from refit_fp8 import LAYOUT_KEYS, _prec, _with_fp8
from rich.console import Console
from rich.table import Table
from script_args import guarded

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.validate.harness import predict_row, read_rows, source_document

LO, HI = 0.25, 1.0  # bisection bracket of the FP8 fraction (a fraction of the FP8 dense peak)
TOL = 0.002  # bracket width at which the bisection stops (fractions are catalogued to three decimals)
# the precisions perf.gemm prices with gemm_peak_fraction.fp8 that have BF16 partners (MXFP8 adds its block-scale
# overhead, mxfp8_overhead_fraction, on top of the same fraction)
PAIRED = ("fp8", "mxfp8")


@dataclass(frozen=True)
class PairFraction:
    """One FP8 row, its BF16 partner's mean signed error and the FP8 fraction that equalises the two (%)."""

    id: str
    document: str
    gpu: str
    software: str
    precision: str
    bf16_signed_pct: float
    fp8_signed_pct: float
    catalog_fp8: float
    implied_fp8: float
    bracketed: bool  # False when the root lies outside [LO, HI] (implied_fp8 is then the nearer end)


def gemm_rate_ratio(fp8_fraction: float, bf16_fraction: float) -> float:
    """Sustained FP8:BF16 GEMM rate of a card whose FP8 dense peak is twice its BF16 one (module docstring)."""
    if bf16_fraction <= 0:
        raise SuperclusterError(f"bf16 fraction {bf16_fraction} must be positive")
    return 2.0 * fp8_fraction / bf16_fraction


def implied_fraction(
    error_at: Callable[[float], float], target: float, lo: float = LO, hi: float = HI, tol: float = TOL
) -> tuple[float, bool]:
    """The fraction f in [lo, hi] with ``error_at(f) == target`` by bisection, for ``error_at`` increasing in f
    (a higher FP8 fraction predicts a faster FP8 row). Returns (f, True), or the nearer end and False when the
    target lies outside [error_at(lo), error_at(hi)]."""
    if not lo < hi:
        raise SuperclusterError(f"bisection bracket [{lo}, {hi}] is empty; lo must be below hi")
    e_lo, e_hi = error_at(lo), error_at(hi)
    if target <= e_lo:
        return lo, target == e_lo
    if target >= e_hi:
        return hi, target == e_hi
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if error_at(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), True


def _key(row: dict) -> tuple:
    return (source_document(row["source"]), row["gpu"], *(str(row.get(k) or "").strip() for k in LAYOUT_KEYS))


def pairs(rows: list[dict]) -> list[tuple[dict, list[dict]]]:
    """Each throughput FP8 row with the BF16 rows of its document, card and layout (none: left out)."""
    bf16: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["metric"] != "activation_gib_per_gpu" and _prec(r) == "bf16":
            bf16.setdefault(_key(r), []).append(r)
    return [
        (r, bf16[_key(r)])
        for r in rows
        if r["metric"] != "activation_gib_per_gpu" and _prec(r) in PAIRED and _key(r) in bf16
    ]


def pair_fraction(fp8_row: dict, bf16_rows: list[dict]) -> PairFraction | None:
    """The FP8 fraction at which ``fp8_row`` reads its BF16 partners' mean signed error (None: not predictable)."""
    errs = [e for e in (predict_row(b).speed_error_pct for b in bf16_rows) if e is not None]
    base = predict_row(fp8_row).speed_error_pct
    if not errs or base is None:
        return None
    acc = fp8_row["gpu"]
    target = sum(errs) / len(errs)

    def error_at(f: float) -> float:
        e = predict_row(fp8_row, {acc: _with_fp8(acc, f)}).speed_error_pct
        if e is None:
            raise SuperclusterError(f"{fp8_row['id']}: no prediction at FP8 fraction {f}")
        return e

    f, ok = implied_fraction(error_at, target)
    return PairFraction(
        id=fp8_row["id"],
        document=source_document(fp8_row["source"]),
        gpu=acc,
        software=(fp8_row.get("software") or "").strip(),
        precision=_prec(fp8_row),
        bf16_signed_pct=round(target, 2),
        fp8_signed_pct=round(base, 2),
        catalog_fp8=catalog.accelerator(acc).efficiency.gemm_peak_fraction["fp8"],
        implied_fp8=round(f, 3),
        bracketed=ok,
    )


def summarise(results: list[PairFraction]) -> list[dict]:
    """Per (document, card, stack): pairs, mean BF16 and FP8 signed error, median implied fraction and the FP8:BF16
    GEMM rate ratio it gives against the catalog's."""
    groups: dict[tuple[str, str, str, str], list[PairFraction]] = {}
    for p in results:
        groups.setdefault((p.document, p.gpu, p.software, p.precision), []).append(p)
    out = []
    for (doc, gpu, sw, prec), ps in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2], kv[0][3])):
        f16 = catalog.accelerator(gpu).efficiency.gemm_peak_fraction["bf16"]
        implied = statistics.median(p.implied_fp8 for p in ps)
        out.append(
            {
                "document": doc,
                "gpu": gpu,
                "software": sw,
                "precision": prec,
                "pairs": len(ps),
                "bf16_signed_pct": round(statistics.mean(p.bf16_signed_pct for p in ps), 2),
                "fp8_signed_pct": round(statistics.mean(p.fp8_signed_pct for p in ps), 2),
                "catalog_fp8": ps[0].catalog_fp8,
                "implied_fp8": round(implied, 3),
                "catalog_ratio": round(gemm_rate_ratio(ps[0].catalog_fp8, f16), 2),
                "implied_ratio": round(gemm_rate_ratio(implied, f16), 2),
                "unbracketed": sum(not p.bracketed for p in ps),
            }
        )
    return out


def by_card(results: list[PairFraction]) -> list[dict]:
    """Per card and precision: pairs and the median, lowest and highest implied FP8 fraction."""
    groups: dict[tuple[str, str], list[float]] = {}
    for p in results:
        groups.setdefault((p.gpu, p.precision), []).append(p.implied_fp8)
    return [
        {
            "gpu": gpu,
            "precision": prec,
            "pairs": len(fs),
            "implied_fp8_median": round(statistics.median(fs), 3),
            "implied_fp8_min": min(fs),
            "implied_fp8_max": max(fs),
            "catalog_fp8": catalog.accelerator(gpu).efficiency.gemm_peak_fraction["fp8"],
        }
        for (gpu, prec), fs in sorted(groups.items())
    ]


def render(summary: list[dict]) -> Table:
    """The per-table summary; column # indexes the document list printed under it (:func:`legend`)."""
    table = Table(title="FP8 fraction implied by same-table BF16/low-precision pairs")
    for col in ("#", "gpu", "prec"):
        table.add_column(col)
    for col in ("n", "bf16 %", "lp %", "f8", "f8 pair", "ratio", "pair"):
        table.add_column(col, justify="right")
    for i, s in enumerate(summary, 1):
        table.add_row(
            str(i),
            s["gpu"][:6],
            s["precision"],
            str(s["pairs"]),
            f"{s['bf16_signed_pct']:+.1f}",
            f"{s['fp8_signed_pct']:+.1f}",
            f"{s['catalog_fp8']:.3f}",
            f"{s['implied_fp8']:.3f}" + ("*" if s["unbracketed"] else ""),
            f"{s['catalog_ratio']:.2f}",
            f"{s['implied_ratio']:.2f}",
        )
    return table


def legend(summary: list[dict]) -> list[str]:
    """One line per row of :func:`render`: its index, stack and document."""
    return [f"{i}. {s['software']}: {s['document']}" for i, s in enumerate(summary, 1)]


def main() -> None:
    _, rows = read_rows("all")
    results = [p for p in (pair_fraction(r, b) for r, b in pairs(rows)) if p is not None]
    summary, cards = summarise(results), by_card(results)
    console = Console()
    console.print(render(summary))
    for line in legend(summary):
        console.print(line, highlight=False)
    for c in cards:
        spread = f"{c['implied_fp8_min']:.3f}-{c['implied_fp8_max']:.3f}"
        console.print(
            f"{c['gpu']} {c['precision']}: {c['pairs']} pairs, implied FP8 fraction median "
            f"{c['implied_fp8_median']:.3f} ({spread}); catalog {c['catalog_fp8']:.3f}"
        )
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(
            json.dumps({"summary": summary, "by_card": cards, "rows": [asdict(p) for p in results]}, indent=1) + "\n"
        )


if __name__ == "__main__":
    guarded(
        main,
        "fp8_pair_fraction.py [OUT.json]",
        flags=(),
        valued=(),
        paths=(0, 1),
    )
