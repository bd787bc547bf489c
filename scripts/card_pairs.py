"""Blackwell Ultra against Blackwell on the same table and layout: the measured per-GPU speed ratio against the
step model's (issue 14/15).

A vendor table that runs one model, precision, layout, batch and container on a GB300 and on a GB200 (or on a
B300 and a B200) measures how much faster the newer card is with everything else held: the recipe, the parallel
layout, the stack. In the step model the two rows share every term except the card's own constants (peaks, GEMM
and attention fractions, bandwidths), so the ratio of the two predictions against the ratio of the two
measurements isolates the card's constants from the rest of the model; a ratio error near zero says the pair of
cards is priced consistently whatever the rows' shared error is.

Pairs (:func:`pairs`): a row on an Ultra card (``ULTRA_SIBLING``) and a row on its sibling from the same source
table once the card's name is taken out of the table's title (Megatron-Bridge names its MoE tables "... on
DGX-GB300"), with the same precision and every layout field of refit_fp8.LAYOUT_KEYS equal (GPU count, model,
tp/pp/vpp/cp/ep/dp, micro-batch, global batch, sequence). Rows of one table with different layouts (the Llama 3.1
405B GB300 runs pp8 where the GB200 runs pp16) are not paired: their ratio mixes the cards with the layouts.

Verdict on the bundled set (2026-12-01, main at ae0fd27 plus this branch's attention fractions): 7 pairs, all
from the Megatron-Bridge performance summary and its archive. Llama 3 70B FP8 (tp1 pp1 dp64, Megatron-FSDP, mb 2)
in 4 containers: measured GB300 / GB200 1.203-1.266 at equal dense BF16 and FP8 peaks (2.5 and 5 PFLOP/s both);
the model's 1.114 (1.078 before the Blackwell Ultra attention rate, accelerators.yaml gb300). Qwen3 30B-A3B MXFP8
(25.11): measured 1.217, model 1.030. GPT-OSS 120B BF16 (26.04.01): GB300 / GB200 measured 1.154, model 1.026;
B300 / B200 measured 1.123, model 1.166. Carrying the GB200's fitted GEMM fractions (0.529 / 0.565) to the GB300
would price the 70B pairs at 1.030 (ratio error -17%): the measurements ask for a GB300 faster than its peaks and
the GB200's fractions say, not slower, which is why the catalog keeps the Hopper table's GEMM fractions for the
B300/GB300 family (accelerators.yaml gb300 sources.efficiency_gemm_bf16). The archive's 26.02-26.04 rows added
on the same day bring 9 more pairs (16 in all, main ff9def3): GPT-OSS GB300 / GB200 measured 1.209-1.230 (model
1.026-1.098), B300 / B200 at EP 8 1.095-1.159 (model 1.166) and at EP 64 1.039 (model 1.486: the model gives the
B300 an 800G NIC per GPU, which NVIDIA's B300 benchmark systems have, yet the EP-64 all-to-all ran as if at 400G);
DeepSeek-V3 MXFP8 B300 / B200 1.109-1.112 (model 1.019).

Run (bounded: two estimates per pair, 16 pairs, about 2 s):

    PYTHONPATH=src:scripts python scripts/card_pairs.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import re
import statistics
import sys
from dataclasses import asdict, dataclass

from refit_fp8 import LAYOUT_KEYS
from rich.table import Table
from script_args import emit, parse, run

from supercluster.specs.accelerator import EfficiencyTable
from supercluster.validate.harness import predict_row, read_rows, source_table

# Blackwell Ultra card -> the Blackwell card of the same package (NVL72 rack part, HGX baseboard part).
ULTRA_SIBLING = {"gb300": "gb200", "b300": "b200"}
_CARD_IN_TITLE = re.compile(r"DGX-(GB300|GB200|B300|B200)\b", re.IGNORECASE)


@dataclass(frozen=True)
class PairRatio:
    """One same-table, same-layout pair: measured and predicted speed of the Ultra row over its sibling's."""

    ultra_id: str
    sibling_id: str
    ultra_gpu: str
    sibling_gpu: str
    model: str
    precision: str
    measured_ratio: float
    model_ratio: float
    ratio_error_pct: float  # (model / measured - 1) x 100: + = the model's Ultra card too fast against its sibling
    ultra_speed_error_pct: float
    sibling_speed_error_pct: float


def _prec(row: dict) -> str:
    return (row.get("precision") or "bf16").strip().lower()


def pair_key(row: dict) -> tuple:
    """Source table with the card's name taken out, precision, metric and every layout field."""
    table = _CARD_IN_TITLE.sub("DGX-(card)", source_table(row.get("source") or ""))
    layout = tuple(str(row.get(k) or "").strip() for k in LAYOUT_KEYS)
    return (table, _prec(row), (row.get("metric") or "").strip(), *layout)


def pairs(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(Ultra row, sibling row) for every throughput row on an Ultra card whose key matches a sibling's."""
    by_key: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("metric") in ("tokens_per_s_per_gpu", "tflops_per_gpu", "mfu"):
            by_key.setdefault(pair_key(r), []).append(r)
    out = []
    for group in by_key.values():
        for u in group:
            sib = ULTRA_SIBLING.get((u.get("gpu") or "").strip())
            out.extend((u, s) for s in group if (s.get("gpu") or "").strip() == sib)
    return sorted(out, key=lambda p: p[0]["id"])


def ratio(ultra: dict, sibling: dict, efficiency: dict[str, EfficiencyTable] | None = None) -> PairRatio | None:
    """Measured and predicted Ultra / sibling speed of one pair (throughput metrics: higher is faster)."""
    pu, ps = predict_row(ultra, efficiency), predict_row(sibling, efficiency)
    if pu.predicted is None or ps.predicted is None or pu.speed_error_pct is None or ps.speed_error_pct is None:
        return None
    measured = float(ultra["value"]) / float(sibling["value"])
    model = pu.predicted / ps.predicted
    return PairRatio(
        ultra_id=ultra["id"],
        sibling_id=sibling["id"],
        ultra_gpu=ultra["gpu"].strip(),
        sibling_gpu=sibling["gpu"].strip(),
        model=(ultra.get("model") or "").strip(),
        precision=_prec(ultra),
        measured_ratio=measured,
        model_ratio=model,
        ratio_error_pct=(model / measured - 1.0) * 100.0,
        ultra_speed_error_pct=pu.speed_error_pct,
        sibling_speed_error_pct=ps.speed_error_pct,
    )


def tabulate(rows: list[dict], efficiency: dict[str, EfficiencyTable] | None = None) -> list[PairRatio]:
    return [p for p in (ratio(u, s, efficiency) for u, s in pairs(rows)) if p is not None]


def summary(results: list[PairRatio]) -> dict:
    """Pairs, mean ratio error and the spread of measured ratios per Ultra card and precision."""
    groups: dict[str, list[PairRatio]] = {}
    for p in results:
        groups.setdefault(f"{p.ultra_gpu}/{p.sibling_gpu} {p.precision}", []).append(p)
    return {
        k: {
            "pairs": len(v),
            "measured_ratio_min": round(min(p.measured_ratio for p in v), 4),
            "measured_ratio_max": round(max(p.measured_ratio for p in v), 4),
            "model_ratio_mean": round(statistics.mean(p.model_ratio for p in v), 4),
            "ratio_error_mean_pct": round(statistics.mean(p.ratio_error_pct for p in v), 2),
        }
        for k, v in sorted(groups.items())
    }


def render(results: list[PairRatio]) -> Table:
    table = Table(title="Ultra / sibling speed, same table and layout")
    table.add_column("release model", no_wrap=True, max_width=21)
    for col in ("card", "prec"):
        table.add_column(col, no_wrap=True)
    for col in ("meas", "model", "err%", "u%", "s%"):
        table.add_column(col, justify="right", no_wrap=True)
    for p in results:
        table.add_row(
            f"{p.ultra_id.split('-')[0].removeprefix('mbridge').removeprefix('mb')} {p.model}"[:21],
            p.ultra_gpu,
            p.precision,
            f"{p.measured_ratio:.3f}",
            f"{p.model_ratio:.3f}",
            f"{p.ratio_error_pct:+.1f}",
            f"{p.ultra_speed_error_pct:+.1f}",
            f"{p.sibling_speed_error_pct:+.1f}",
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    results = tabulate(rows)
    doc = {"pairs": [asdict(p) for p in results], "summary": summary(results)}
    parts = [render(results), "err: model / measured ratio - 1; u, s: the Ultra and sibling rows' signed speed error"]
    parts += [
        f"{k}: {v['pairs']} pairs, measured {v['measured_ratio_min']:.3f}-{v['measured_ratio_max']:.3f}, "
        f"model {v['model_ratio_mean']:.3f}, ratio error {v['ratio_error_mean_pct']:+.1f}%"
        for k, v in doc["summary"].items()
    ]
    emit(args, doc, parts)


if __name__ == "__main__":
    run(main, sys.argv[1:])
