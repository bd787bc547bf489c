"""Refit the shared efficiency constants on the model as it stands, by the two declared protocols, in one pass.

scripts/fit_efficiency.py declares the protocols; this script runs them faster so that a mechanism can be judged
with its own refit (issue 14 item 2: a constant fitted on runs that already absorb a mechanism hides it):

1. one source (fit_efficiency.py's default): the H100 BF16 GEMM and attention fractions on the Megatron-LM README
   table (its grid), the H100 FP8 fraction on NeMo's table with the BF16 values fixed (its grid, leave-one-row-out),
   the A100 BF16 GEMM fraction on Korthikanti et al. 2022 Tables 3+5 (its grid);
2. the whole set (fit_efficiency.py --whole-set): each card family's BF16 GEMM fraction (WHOLE_SET_FAMILIES: the
   H100 SXM, the A100, B200 with GB200, B300 with GB300) on every bundled BF16/FP16 row of the family, scored
   leave-one-source-out; a family with fewer than MIN_DOCUMENTS source documents is reported and not fitted.
   Instead of a golden-section search per subset (24 searches of ~12 passes for the H100), every row is predicted
   once per grid point (0.45-0.95 in steps of 0.01) and each subset's minimum is read from the cached errors (grid
   minimum, refined by a parabola through its neighbours). The
   answer is the script's to within its own tolerance (0.005).

Every row of the bundled set is then predicted with the constants fitted without its document (leave-one-source-out
by construction, ``loso_rows``), next to the in-sample prediction. Run:

    python scripts/refit_protocol.py OUT.json [--one-source EARLIER.json] [--catalog-attention]
    python scripts/refit_protocol.py --records OUT.json   # fit_sources.json's records from a run on this model
    python scripts/refit_protocol.py --records OUT.json --only b200   # just the tables of one family's rows
    python scripts/refit_protocol.py OUT.json --hopper-attention 0.4385,0.298   # a variant: every Hopper card's
        # attention pair (forward, backward, at the reference span) set to these values and held there, the GEMM
        # fractions refitted around it (benchmarks/results/attn_rejudge_2026-12-01.json); add --fp8-fit to score
        # FP8 rows with the one-source FP8 refit, --one-source A.json --whole-set A.json to rescore run A only
"""

from __future__ import annotations

import itertools
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

from fit_efficiency import (
    FITS,
    MIN_DOCUMENTS,
    WHOLE_SET_CARDS,
    WHOLE_SET_FAMILIES,
    family_row,
    family_tables,
    table_with,
    whole_set_rows,
)
from script_args import guarded

from supercluster import catalog
from supercluster.validate.harness import predict_row, read_rows, source_document, source_table

GRID = [round(0.45 + 0.01 * i, 2) for i in range(51)]


def hold_hopper_attention(fwd: float, bwd: float) -> list[str]:
    """Set the attention pair of every Hopper card (sm_arch 90) in the loaded catalog to ``fwd``/``bwd`` before
    any accelerator is built, so that the catalog column, the fits and the scores all see the variant. Returns the
    cards changed. Only for a protocol run: the catalog file is not touched."""
    from supercluster.catalog import loader

    if loader.accelerator.cache_info().currsize:
        raise RuntimeError("hold_hopper_attention must run before any accelerator is loaded")
    table = loader._table("accelerators")
    changed = []
    for name, entry in table.items():
        if entry.get("sm_arch") == 90:
            eff = dict(entry["efficiency"])
            eff |= {"attention_fwd_fraction": fwd, "attention_bwd_fraction": bwd}
            table[name] = {**entry, "efficiency": eff}
            changed.append(name)
    return changed


def _err(row: dict, eff: dict | None) -> float:
    e = predict_row(row, eff).error_pct
    return 1e3 if e is None else abs(e)


def one_source(attention_held: dict[str, float | None] | None = None) -> dict:
    """fit_efficiency.py's default fits (without the MXFP8 ratio), each row's error cached per grid point.
    ``attention_held``: the attention fractions held at these values (the catalog's) instead of searched, when the
    one-source attention refit did not land (``--catalog-attention``)."""
    _, rows = read_rows()
    out = {}
    for acc_id, spec in FITS.items():
        held = (attention_held or {}).get(acc_id)
        if held is not None:
            spec = {**spec, "attention": [held]}
        mine = [r for r in rows if r["gpu"] == acc_id and r["metric"] != "activation_gib_per_gpu"]
        fit_rows = [r for r in mine if source_table(r["source"]) == spec["fit_source"]]
        grid = {
            ga: sum(_err(r, {acc_id: table_with(acc_id, *ga)}) for r in fit_rows) / len(fit_rows)
            for ga in itertools.product(spec["gemm"], spec["attention"])
        }
        best = min(grid, key=grid.get)
        res = {"gemm_bf16_fraction": best[0], "attention_fwd_fraction": best[1], "fit_mape_pct": grid[best]}
        res["fit_rows"] = len(fit_rows)
        if "fp8" in spec:
            fp8_rows = [r for r in mine if source_table(r["source"]) == spec["fp8_source"]]
            cache = [[_err(r, {acc_id: table_with(acc_id, *best, f)}) for f in spec["fp8"]] for r in fp8_rows]

            def best_for(idx: list[int], cache: list = cache, n: int = len(spec["fp8"])) -> int:
                return min(range(n), key=lambda col: sum(cache[i][col] for i in idx))

            j = best_for(list(range(len(fp8_rows))))
            loo = [cache[i][best_for([k for k in range(len(fp8_rows)) if k != i])] for i in range(len(fp8_rows))]
            res |= {
                "gemm_fp8_fraction": spec["fp8"][j],
                "fp8_fit_mape_pct": sum(c[j] for c in cache) / len(cache),
                "fp8_leave_one_out_mape_pct": sum(loo) / len(loo),
                "fp8_rows": len(fp8_rows),
            }
        out[acc_id] = res
    return out


def _argmin(values: list[float], grid: list[float] = GRID) -> float:
    """Grid minimum refined by the parabola through it and its two neighbours (``grid`` evenly spaced, the values'
    abscissae)."""
    j = min(range(len(values)), key=values.__getitem__)
    if 0 < j < len(values) - 1:
        a, b, c = values[j - 1], values[j], values[j + 1]
        den = a - 2 * b + c
        if den > 0:
            return grid[j] + (grid[j + 1] - grid[j]) * 0.5 * (a - c) / den
    return grid[j]


def whole_set(attention: dict[str, float | None]) -> dict:
    """fit_efficiency.py --whole-set on cached per-row errors; ``attention`` the fractions held fixed per family."""
    _, rows = read_rows("all")
    out = {}
    for acc_id, prec in WHOLE_SET_CARDS.items():
        mine = whole_set_rows(rows, acc_id, prec)
        att = attention[acc_id]
        t0 = time.perf_counter()
        docs = sorted({source_document(r["source"]) for r in mine})
        if len(docs) < MIN_DOCUMENTS:  # too few documents to score by leave-one-source-out: not fitted
            out[acc_id] = {"rows": len(mine), "documents": len(docs), "fitted": False}
            continue
        cache = [[_err(r, family_tables(acc_id, g, att)) for g in GRID] for r in mine]

        def fit(idx: list[int], cache: list = cache) -> float:
            return _argmin([sum(cache[i][j] for i in idx) / len(idx) for j in range(len(GRID))])

        g_all = fit(list(range(len(mine))))
        per_doc = {}
        for doc in docs:
            held = [i for i, r in enumerate(mine) if source_document(r["source"]) == doc]
            per_doc[doc] = round(fit([i for i in range(len(mine)) if i not in held]), 4)
        out[acc_id] = {
            "rows": len(mine),
            "documents": len(docs),
            "fitted": True,
            "cards": list(WHOLE_SET_FAMILIES[acc_id]),
            "refit_gemm_fraction": round(g_all, 4),
            "refit_without_document": per_doc,
            "search_s": time.perf_counter() - t0,
        }
    return out


def _with_fp8(tables: dict, fp8: dict[str, float] | None) -> dict:
    """``tables`` with each card's FP8 GEMM fraction set to ``fp8[card]`` (the one-source FP8 refit), if given."""
    for card, frac in (fp8 or {}).items():
        if card in tables:
            base = tables[card]
            tables[card] = base.model_copy(update={"gemm_peak_fraction": dict(base.gemm_peak_fraction, fp8=frac)})
    return tables


def score(
    gemm: dict[str, float], whole: dict, attention: dict[str, float | None], fp8: dict[str, float] | None = None
) -> dict:
    """Every bundled row in sample (``gemm``) and leave-one-source-out (each card's fraction refitted without the
    row's document); the whole-set protocol's rule on each card's rows: lands if LOSO < the catalog's error.
    ``fp8``: cards whose FP8 GEMM fraction is set to the one-source FP8 refit in both columns (``--fp8-fit``;
    without it FP8 rows keep the catalog's fraction whatever the refit gave)."""
    _, rows = read_rows("all")
    res = {"rows": []}
    for r in rows:
        doc = source_document(r["source"])
        eff_in = _with_fp8({c: t for a in gemm for c, t in family_tables(a, gemm[a], attention[a]).items()}, fp8)
        loso_g = {a: whole[a]["refit_without_document"].get(doc, gemm[a]) for a in gemm}
        eff_out = _with_fp8({c: t for a in gemm for c, t in family_tables(a, loso_g[a], attention[a]).items()}, fp8)
        p_in, p_out, p_cat = predict_row(r, eff_in), predict_row(r, eff_out), predict_row(r)
        res["rows"].append(
            {
                "id": r["id"],
                "gpu": r["gpu"],
                "doc": doc,
                "table": source_table(r["source"]),
                "catalog": p_cat.error_pct,
                "in_sample": p_in.error_pct,
                "loso": p_out.error_pct,
            }
        )
    return res


FIT_SOURCES = Path(__file__).resolve().parents[1] / "src/supercluster/validate/data/fit_sources.json"
A100_TABLE = "Korthikanti et al. 2022 Tables 3+5"


def _constant_name(family: str) -> str:
    cards = WHOLE_SET_FAMILIES[family]
    if len(cards) == 1:
        return f"{family} gemm_peak_fraction.bf16 (whole-set fit on every BF16 row of the card)"
    return f"{'/'.join(cards)} gemm_peak_fraction.bf16 (whole-set fit on every BF16 row of the family)"


def write_records(result: dict, only: list[str] | None = None) -> list[dict]:
    """fit_sources.json from a run: the BF16 fraction of the H100 SXM and of each other fitted family (B200/GB200)
    is fitted on every BF16 row of its cards, so every table holding one is a fit table; its record is the mean
    error of all its rows predicted with the fractions refitted without its document. The A100 fraction stays
    fitted on Korthikanti et al. (its record likewise), the FP8 fraction's is its leave-one-row-out error, the MXFP8
    record is kept. ``only``: rewrite just the records of tables holding rows of these families (keys of
    WHOLE_SET_FAMILIES) and keep every other record as it is (a change judged on one family's constant)."""
    _, rows = read_rows("all")
    scored = {r["id"]: r for r in result["score"]["rows"]}
    fitted = [a for a, w in result["whole_set"].items() if w.get("fitted", True) and a != "a100-sxm-80gb"]
    families: dict[str, list[str]] = {A100_TABLE: ["a100-sxm-80gb"]}
    for r in rows:
        fam = next((a for a in fitted if family_row(r, a)), None)
        if fam is not None and scored[r["id"]]["catalog"] is not None:
            table = families.setdefault(source_table(r["source"]), [])
            if fam not in table:
                table.append(fam)
    errs: dict[str, list[float]] = {}
    for r in result["score"]["rows"]:
        if r["loso"] is not None:
            errs.setdefault(r["table"], []).append(abs(r["loso"]))
    data = json.loads(FIT_SOURCES.read_text(encoding="utf-8"))
    kept = [c for c in data["constants"] if "mxfp8" in c["constant"]]
    fp8 = next(c for c in data["constants"] if c["constant"] == "h100-sxm-80gb gemm_peak_fraction.fp8")
    loo = result["one_source"]["h100-sxm-80gb"]["fp8_leave_one_out_mape_pct"]
    records = []
    for table in sorted(families):
        a100 = table == A100_TABLE
        records.append(
            {
                "constant": "a100 gemm_peak_fraction.bf16 (Ampere table)"
                if a100
                else "; ".join(_constant_name(f) for f in families[table]),
                "document": table,
                "loso_mape_pct": round(sum(errs[table]) / len(errs[table]), 2),
                "kind": "leave-one-source-out: refitted on every other bundled row of the card"
                if a100
                else "leave-one-source-out: refitted on every other bundled BF16 row of the card's family; the "
                "table's rows predicted with that refit",
            }
        )
    if only:
        mine = {t for t, fams in families.items() if set(fams) & set(only)}
        records = [r for r in records if r["document"] in mine]
        data["constants"] = [*[c for c in data["constants"] if c["document"] not in mine], *records]
    else:
        data["constants"] = [*records, dict(fp8, loso_mape_pct=round(loo, 2)), *kept]
    FIT_SOURCES.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return records


def main() -> None:
    if sys.argv[1] == "--records":
        only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
        with open(sys.argv[2]) as fh:
            print(len(write_records(json.load(fh), only)), "records written to", FIT_SOURCES)
        return
    path = sys.argv[1]
    out: dict = {}
    t0 = time.perf_counter()
    if "--hopper-attention" in sys.argv:  # a variant: the Hopper attention pair held at the given values
        fwd, bwd = (float(x) for x in sys.argv[sys.argv.index("--hopper-attention") + 1].split(","))
        out["hopper_attention"] = {"fwd": fwd, "bwd": bwd, "cards": hold_hopper_attention(fwd, bwd)}
        if "--catalog-attention" not in sys.argv:
            sys.argv.append("--catalog-attention")
    cat = {a: catalog.accelerator(a).efficiency for a in WHOLE_SET_CARDS}
    attention = {a: cat[a].attention_fwd_fraction for a in WHOLE_SET_CARDS}
    if "--one-source" in sys.argv:  # reuse the one-source fit of an earlier run on the same model
        with open(sys.argv[sys.argv.index("--one-source") + 1]) as fh:
            out["one_source"] = json.load(fh)["one_source"]
    else:
        # --catalog-attention: the one-source attention refit did not land (2026-12-01: on the Megatron-LM README
        # table it moved 0.28 -> 0.32 once validation filled that table's micro-batch from Megatron-Core's default;
        # in the catalog that takes the >= 16,384 band's signed mean to +5.1%, outside the +-4% the protocol
        # keeps), so the GEMM fits are made, and every record scored, at the catalog's attention fractions
        held = attention if "--catalog-attention" in sys.argv else None
        out["one_source"] = one_source(held)
        print(json.dumps(out["one_source"], indent=1), flush=True)
    # the whole-set stage holds the attention fractions at the one-source fit's (the catalog's after the refit)
    for acc_id, res in out["one_source"].items():
        if res["attention_fwd_fraction"] is not None:
            attention[acc_id] = res["attention_fwd_fraction"]
    if "--whole-set" in sys.argv:  # rescore only: reuse an earlier run's whole-set fits (same model, same attention)
        with open(sys.argv[sys.argv.index("--whole-set") + 1]) as fh:
            out["whole_set"] = json.load(fh)["whole_set"]
    else:
        out["whole_set"] = whole_set(attention)
    brief = {a: {k: v for k, v in w.items() if k != "refit_without_document"} for a, w in out["whole_set"].items()}
    print(json.dumps(brief))
    gemm = {a: w["refit_gemm_fraction"] for a, w in out["whole_set"].items() if w["fitted"]}
    # --fp8-fit: FP8 rows scored with the one-source FP8 refit (made at the run's attention) instead of the catalog's
    fp8 = None
    if "--fp8-fit" in sys.argv:
        fp8 = {a: r["gemm_fp8_fraction"] for a, r in out["one_source"].items() if "gemm_fp8_fraction" in r}
        out["fp8_fit_applied"] = fp8
    out["score"] = score(gemm, out["whole_set"], attention, fp8)
    out["catalog"] = {
        a: {"bf16": cat[a].gemm_peak_fraction["bf16"], "attention": cat[a].attention_fwd_fraction} for a in cat
    }
    out["whole_set_attention"] = attention
    out["elapsed_s"] = time.perf_counter() - t0
    out["date"], out["machine"] = date.today().isoformat(), platform.platform()
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    print("wrote", path, f"{out['elapsed_s']:.0f} s")


if __name__ == "__main__":
    guarded(
        main,
        "refit_protocol.py OUT.json [--one-source A.json] [--whole-set A.json] [--catalog-attention]"
        " [--hopper-attention FWD,BWD] [--fp8-fit] | --records OUT.json [--only FAMILY,...]",
        flags=("--records", "--catalog-attention", "--fp8-fit"),
        valued=("--one-source", "--whole-set", "--hopper-attention", "--only"),
        paths=(1, 1),
    )
