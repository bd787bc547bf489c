"""Does the straggler term (supercluster.perf.straggler) land in the step time? The accuracy protocol decides.

    python scripts/straggler_protocol.py           # validate all + published, without and with the term (~30 s)
    python scripts/straggler_protocol.py --refit   # also with the fitted constants refitted with the term (~3 min)

Runs every bundled validation set with the term left out of the step time and with it added, and records for each:
the MAPE of all rows, their leave-one-source-out MAPE, the mean signed speed error, the BF16/FP8 dense and MoE
groups, every GPU-count band's MAPE and signed error, the published set in sample and leave-one-source-out, and the
source tables whose error moved by more than 2 points. With ``--refit`` it also refits each card's fitted constants
on their one source with the term in (scripts/fit_efficiency.py's per-source protocol), reports each fit's held-out
error, and validates again with the refitted constants. The term lands only if leave-one-source-out error (all rows
and the published set) does not rise, either as it is or with the constants refitted (then the held-out error of
each fit must not rise either). Writes benchmarks/results/straggler_protocol.json; the
verdict is perf.straggler.IN_STEP_TIME.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from term_protocol import ROOT, figures, judge, r2

from supercluster.perf import straggler
from supercluster.validate.harness import run


def refit() -> dict[str, Any]:
    """scripts/fit_efficiency.py's per-source fit with and without the term in the step time: each card's constants,
    fit and held-out error; then validate all and published with the constants refitted with the term in."""
    spec = importlib.util.spec_from_file_location("fit_efficiency", ROOT / "scripts" / "fit_efficiency.py")
    assert spec and spec.loader
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    _, rows = fit.read_rows()
    out: dict[str, Any] = {}
    tables = {}
    for in_step in (False, True):
        straggler.IN_STEP_TIME = in_step
        cards = {}
        for acc_id, card in fit.FITS.items():
            mine = [r for r in rows if r["gpu"] == acc_id and r["metric"] != "activation_gib_per_gpu"]
            fit_rows = [r for r in mine if fit.source_table(r["source"]) == card["fit_source"]]
            held = [r for r in mine if fit.source_table(r["source"]) != card["fit_source"] and r["precision"] != "fp8"]
            best = min(
                ((g, a) for g in card["gemm"] for a in card["attention"]),
                key=lambda ga, acc_id=acc_id, fit_rows=fit_rows: fit.mape(
                    fit_rows, {acc_id: fit.table_with(acc_id, *ga)}
                ),
            )
            eff = {acc_id: fit.table_with(acc_id, *best)}
            cards[acc_id] = {
                "gemm_bf16_fraction": best[0],
                "fit_mape_pct": r2(fit.mape(fit_rows, eff)),
                "held_out_mape_pct": r2(fit.mape(held, eff)) if held else None,
            }
            fp8 = None
            if "fp8" in card:
                fp8_rows = [r for r in mine if fit.source_table(r["source"]) == card["fp8_source"]]
                f8 = fit.fit_fp8(acc_id, best, fp8_rows, card)
                fp8 = f8["gemm_fp8_fraction"]
                cards[acc_id] |= {
                    "gemm_fp8_fraction": fp8,
                    "fp8_fit_mape_pct": r2(f8["fp8_fit_mape_pct"]),
                    "fp8_leave_one_out_mape_pct": r2(f8["fp8_leave_one_out_mape_pct"]),
                }
            if in_step:
                tables[acc_id] = fit.table_with(acc_id, *best, fp8)
        out["with_term" if in_step else "without_term"] = cards
    straggler.IN_STEP_TIME = True
    v = figures(run("all", tables).summary(), run("published", tables).summary())
    del v["per_source_mape_pct"]
    v["all_rows"]["note"] = "fitted documents keep their recorded leave-one-source-out error (fit_sources.json)"
    out["validate_with_term_and_refit"] = v
    return out


def check_refit(result: dict[str, Any], before: dict[str, Any], _set_term: Any) -> None:
    """With the fitted constants refitted on their sources with the term in (``--refit``): the held-out error of
    each fit and the published set's leave-one-source-out error must not rise either."""
    if "--refit" not in sys.argv:
        return
    ref = result["refit"] = refit()
    held = all(
        (ref["with_term"][c]["held_out_mape_pct"] or 0) <= (ref["without_term"][c]["held_out_mape_pct"] or 0)
        for c in ref["with_term"]
    )
    v = ref["validate_with_term_and_refit"]
    result["lands"] = result["lands"] or (
        held
        and v["all_rows"]["loso_mape_pct"] <= before["all_rows"]["loso_mape_pct"]
        and v["published"]["loso_mape_pct"] <= before["published"]["loso_mape_pct"]
    )


def main() -> None:
    judge(straggler, "IN_STEP_TIME", "straggler", {"sigma": straggler.RANK_SIGMA}, check_refit)


if __name__ == "__main__":
    main()
