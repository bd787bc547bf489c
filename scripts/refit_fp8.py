"""Fit each card family's FP8 GEMM fraction on every bundled FP8 row of the family, scored leave-one-source-out.

The whole-set protocol of scripts/fit_efficiency.py (--whole-set) and scripts/refit_protocol.py (whole_set), applied
to ``gemm_peak_fraction.fp8`` (issue 14 item 2). Until now that fraction was fitted on one source (NeMo's H100
table, leave-one-row-out) and the Blackwell cards copied Hopper's. Here:

1. families: cards that share a tensor-core generation and the catalog's efficiency table share one FP8 fraction
   (the catalog's sm_arch, NVIDIA's compute-capability table: "9.0 | NVIDIA GH200 NVIDIA H200 NVIDIA H100", the
   H800 the export H100; "10.0 | NVIDIA GB200 NVIDIA B200"; "10.3 | NVIDIA GB300 NVIDIA B300"). A family whose
   FP8 rows come from fewer than ``MIN_DOCUMENTS`` source documents is not fitted;
2. fit rows: every predictable throughput row of the family with precision ``fp8`` (per-tensor delayed or current
   scaling, and the blockwise/rowwise recipes the step model prices at the same rate); MXFP8 and NVFP4 rows are
   not fit rows (their block-scale overheads are fitted separately) but take the FP8 fraction in perf.gemm, so
   they are predicted on the same grid and scored;
3. every such row is predicted once per grid point (the family's cards all set to that fraction, BF16 values as
   the catalog's); the fit minimises the rows' mean absolute error (grid minimum refined by a parabola,
   refit_protocol._argmin); each document is held out in turn and its rows predicted with the fraction refitted
   on the others (leave-one-source-out);
4. the paired table: FP8 minus BF16 signed error of rows of one document, card, model and layout (the difference
   isolates the FP8 rate from every other term of the step model).

The run writes its cache of per-row errors, the fits, the paired table and the before/after of every row that the
FP8 fraction moves. Run (two CPU-heavy stages; the second reads the first's cache):

    PYTHONPATH=src:scripts python scripts/refit_fp8.py OUT.json
    PYTHONPATH=src:scripts python scripts/refit_fp8.py --records OUT.json   # fit_sources.json's FP8 records
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from fit_efficiency import MIN_DOCUMENTS, WHOLE_SET_FAMILIES
from refit_protocol import FIT_SOURCES
from refit_protocol import _argmin as refit_argmin  # one parabola-refined grid minimum for both scripts
from script_args import guarded

from supercluster import catalog
from supercluster.validate.harness import GPU_BANDS, gpu_band, predict_row, read_rows, source_document, source_table

# card family -> its cards (one FP8 fraction each family); see the module docstring for the grouping. The Blackwell
# families are the BF16 whole-set protocol's; every Hopper card shares the Hopper table's FP8 fraction (the H100 SXM
# has its own BF16 fit only), so the FP8 family holds them all
FAMILIES = {
    "hopper": ["h100-sxm-80gb", "h100-hbm2e-96gb", "h100-pcie-80gb", "h800-sxm-80gb", "h200-sxm-141gb"],
    "blackwell": list(WHOLE_SET_FAMILIES["b200"]),
    "blackwell-ultra": list(WHOLE_SET_FAMILIES["b300"]),
}
FP8_TAG = " (whole-set fit on every FP8 row of the family)"  # ends the name of every record this script writes
GRID = [round(0.40 + 0.01 * i, 2) for i in range(41)]  # 0.40 .. 0.80
SCORED_PRECISIONS = ("fp8", "mxfp8", "nvfp4")  # the precisions perf.gemm prices with gemm_peak_fraction.fp8
LAYOUT_KEYS = ("gpus", "model", "tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch", "global_batch", "seq_len")


def _prec(row: dict) -> str:
    return (row.get("precision") or "bf16").strip().lower()


def _with_fp8(acc_id: str, fp8: float):
    base = catalog.accelerator(acc_id).efficiency
    return base.model_copy(update={"gemm_peak_fraction": dict(base.gemm_peak_fraction, fp8=fp8)})


def _argmin(values: list[float]) -> float:
    """Grid minimum refined by the parabola through it and its two neighbours (refit_protocol's, on this script's
    grid)."""
    return refit_argmin(values, GRID)


def family_rows(rows: list[dict], cards: list[str]) -> list[dict]:
    """Predictable throughput rows of the family's cards whose step time depends on the FP8 fraction."""
    mine = [
        r
        for r in rows
        if r["gpu"] in cards and r["metric"] != "activation_gib_per_gpu" and _prec(r) in SCORED_PRECISIONS
    ]
    return [r for r in mine if predict_row(r).error_pct is not None]


def cache_errors(rows: list[dict], cards: list[str]) -> list[list[float]]:
    """Signed speed error of every row at every grid point (the family's cards all at that FP8 fraction)."""
    out = []
    for r in rows:
        out.append([predict_row(r, {a: _with_fp8(a, f) for a in cards}).error_pct for f in GRID])
    return out


def fit_family(fam: dict) -> dict:
    """The fraction minimising the family's FP8 rows' MAPE, on all of them and without each document; every scored
    row's error in sample and leave-one-source-out (its document's refit), from the cached grid errors."""
    rows = fam["rows"]
    fit_idx = [i for i, r in enumerate(rows) if r["precision"] == "fp8"]
    docs = sorted({rows[i]["doc"] for i in fit_idx})

    def fit(idx: list[int]) -> float:
        return _argmin([sum(abs(rows[i]["grid_errors"][j]) for i in idx) / len(idx) for j in range(len(GRID))])

    g_all = round(fit(fit_idx), 4)
    fam["refit_fp8_fraction"] = g_all
    fam["refit_without_document"] = {d: round(fit([i for i in fit_idx if rows[i]["doc"] != d]), 4) for d in docs}
    for r in rows:
        r["in_sample"] = _interp(r["grid_errors"], g_all)
        r["loso"] = _interp(r["grid_errors"], fam["refit_without_document"].get(r["doc"], g_all))
    fp8 = [rows[i] for i in fit_idx]
    for key in ("catalog", "in_sample", "loso"):
        fam[f"fp8_rows_{key}_mape_pct"] = round(sum(abs(r[key]) for r in fp8) / len(fp8), 3)
        fam[f"scored_rows_{key}_mape_pct"] = round(sum(abs(r[key]) for r in rows) / len(rows), 3)
    return fam


def update_cache(result: dict, rows: list[dict]) -> int:
    """Re-predict on the grid only the cached rows whose catalog error the model has moved since the run (another
    mechanism merged); the rest of the cache stands. Returns how many rows were recomputed."""
    by_id = {r["id"]: r for r in rows}
    n = 0
    for fam in result["families"].values():
        # "catalog" is the error at the FP8 fractions of the run (catalog_fp8), not at a refit landed since
        at_run = {a: _with_fp8(a, f) for a, f in fam["catalog_fp8"].items()}
        for r in fam.get("rows", []):
            now = predict_row(by_id[r["id"]], at_run).error_pct
            if now is not None and abs(now - r["catalog"]) > 1e-9:
                r["catalog"] = now
                r["grid_errors"] = [round(e, 3) for e in cache_errors([by_id[r["id"]]], fam["cards"])[0]]
                n += 1
    return n


def interp_on(grid: list[float], errs: list[float], value: float) -> float:
    """Linear interpolation of a row's cached error at ``value`` between the points of ``grid`` (0.01 apart)."""
    x = (value - grid[0]) / 0.01
    j = max(0, min(len(grid) - 2, int(x)))
    t = x - j
    return errs[j] * (1 - t) + errs[j + 1] * t


def _interp(errs: list[float], frac: float) -> float:
    """Linear interpolation of a row's cached error at ``frac`` between this script's grid points."""
    return interp_on(GRID, errs, frac)


def paired(rows: list[dict]) -> list[dict]:
    """FP8 minus BF16 signed speed error (+ = model too fast) of rows of one document, card and layout (the
    catalog's constants)."""
    key = lambda r: (source_document(r["source"]), r["gpu"], *(str(r.get(k) or "").strip() for k in LAYOUT_KEYS))  # noqa: E731
    bf16: dict[tuple, list[float]] = {}
    for r in rows:
        if r["metric"] != "activation_gib_per_gpu" and _prec(r) in ("bf16", "fp16"):
            e = predict_row(r).speed_error_pct
            if e is not None:
                bf16.setdefault(key(r), []).append(e)
    out: dict[tuple, dict] = {}
    for r in rows:
        k = key(r)
        if r["metric"] == "activation_gib_per_gpu" or _prec(r) != "fp8" or k not in bf16:
            continue
        e = predict_row(r).speed_error_pct
        if e is None:
            continue
        grp = out.setdefault((k[0], k[1]), {"document": k[0], "gpu": k[1], "diffs": [], "fp8": [], "bf16": []})
        b = sum(bf16[k]) / len(bf16[k])
        grp["diffs"].append(e - b)
        grp["fp8"].append(e)
        grp["bf16"].append(b)
    table = []
    for g in out.values():
        n = len(g["diffs"])
        table.append(
            {
                "document": g["document"],
                "gpu": g["gpu"],
                "pairs": n,
                "bf16_signed_pct": round(sum(g["bf16"]) / n, 2),
                "fp8_signed_pct": round(sum(g["fp8"]) / n, 2),
                "fp8_minus_bf16_pct": round(sum(g["diffs"]) / n, 2),
            }
        )
    return sorted(table, key=lambda t: (t["gpu"], t["document"]))


def run(path: str) -> dict:
    _, rows = read_rows("all")
    t0 = time.perf_counter()
    out: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "grid": [GRID[0], GRID[-1], 0.01],
        "paired": paired(rows),
        "families": {},
    }
    print(json.dumps(out["paired"], indent=1), flush=True)
    for fam, cards in FAMILIES.items():
        mine = family_rows(rows, cards)
        cat = {a: catalog.accelerator(a).efficiency.gemm_peak_fraction.get("fp8") for a in cards}
        if not mine:
            out["families"][fam] = {"cards": cards, "catalog_fp8": cat, "fit_rows": 0, "fitted": False}
            continue
        docs = {source_document(r["source"]) for r in mine if _prec(r) == "fp8"}
        if len(docs) < MIN_DOCUMENTS:  # not fitted: no grid needed
            res = {"fit_rows": sum(_prec(r) == "fp8" for r in mine), "documents": len(docs), "fitted": False}
            out["families"][fam] = {"cards": cards, "catalog_fp8": cat, **res}
            print(fam, json.dumps(res), flush=True)
            continue
        t1 = time.perf_counter()
        cache = cache_errors(mine, cards)
        scored = [
            {
                "id": r["id"],
                "gpu": r["gpu"],
                "precision": _prec(r),
                "metric": r["metric"],
                "gpus": int(float(r["gpus"])),
                "doc": source_document(r["source"]),
                "table": source_table(r["source"]),
                "catalog": predict_row(r).error_pct,
                "grid_errors": [round(e, 3) for e in errs],
            }
            for r, errs in zip(mine, cache, strict=True)
        ]
        fam_res = {"cards": cards, "catalog_fp8": cat, "fit_rows": sum(x["precision"] == "fp8" for x in scored)}
        fam_res |= {"documents": len(docs), "fitted": True, "rows": scored}
        out["families"][fam] = fit_family(fam_res)
        out["families"][fam]["search_s"] = time.perf_counter() - t1
        brief = {k: v for k, v in fam_res.items() if k not in ("rows", "refit_without_document")}
        print(fam, json.dumps(brief), flush=True)
    out["elapsed_s"] = time.perf_counter() - t0
    Path(path).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print("wrote", path, f"{out['elapsed_s']:.0f} s")
    return out


def _speed(metric: str, err_pct: float) -> float:
    """Signed speed error (+ = model too fast) from the error of the predicted metric (harness.predict_row)."""
    return (1.0 / (1.0 + err_pct / 100.0) - 1.0) * 100.0 if metric == "step_time_s" else err_pct


def _base_constants() -> list[dict]:
    """fit_sources.json's records without this script's: its own records dropped, the records it adjusted restored
    (each keeps its value before the adjustment), so that writing the records again is idempotent."""
    base = []
    for c in json.loads(FIT_SOURCES.read_text(encoding="utf-8"))["constants"]:
        c = dict(c)
        if "loso_mape_pct_before_fp8_refit" in c:
            c["loso_mape_pct"] = c.pop("loso_mape_pct_before_fp8_refit")
            if c["constant"].endswith(FP8_TAG):
                c["constant"] = c["constant"].rsplit("; ", 1)[0]
            c.pop("fp8_rows", None)
        elif c["constant"].endswith(FP8_TAG):
            continue
        base.append(c)
    return base


def fp8_records(result: dict, families: list[str], validated: list[dict]) -> list[dict]:
    """fit_sources.json's records with ``families`` refitted: every source table holding a fit row of those families
    gets the mean absolute error of its rows with the family's fraction refitted without the table's document. Rows
    the FP8 fraction does not move keep their error: the table's existing record's (which holds the BF16 refit's
    leave-one-source-out errors) or the catalog's in-sample error (out of sample by construction). ``validated``:
    the rows of a ``validate all --json`` run on the catalog. A refitted family's one-source record is dropped."""
    loso, cat = {}, {}
    tables: dict[str, str] = {}  # table -> the constant its FP8 rows fit
    for fam in families:
        name = "/".join(result["families"][fam]["cards"]) + " gemm_peak_fraction.fp8"
        for r in result["families"][fam]["rows"]:
            loso[r["id"]], cat[r["id"]] = r["loso"], r["catalog"]
            if r["precision"] == "fp8":
                tables[r["table"]] = name
    hopper = "hopper" in families
    constants = [dict(c) for c in _base_constants() if not (hopper and "gemm_peak_fraction.fp8" in c["constant"])]
    kind = (
        "leave-one-source-out: refitted on every other bundled FP8 row of the card family (scripts/refit_fp8.py); the "
        "table's rows predicted with that refit"
    )
    note = "FP8/MXFP8 rows predicted with the FP8 fraction refitted without the document"
    return merge_table_records(constants, tables, loso, cat, validated, (FP8_TAG, "fp8", kind, note))


def merge_table_records(
    constants: list[dict],
    tables: dict[str, str],
    loso: dict[str, float],
    cat: dict[str, float],
    validated: list[dict],
    label: tuple[str, str, str, str],
) -> list[dict]:
    """``constants`` with one leave-one-source-out record per table of ``tables`` (table -> the refitted constant):
    the mean absolute error of the table's rows in ``validated``, each refitted row (``loso``, against its catalog
    error ``cat``) at its leave-one-source-out error. A table that already has a record keeps it, with the refitted
    rows' change added and the previous figure kept beside it; the others get a new record. ``label``: the
    constant's tag, the key word of the kept figure and of the note, the record's kind and the note (refit_fp8 and
    refit_mxfp8 share this)."""
    tag, word, kind, note = label
    by_doc = {c["document"]: c for c in constants}
    errs: dict[str, dict[str, float]] = {}
    for r in validated:
        if r["error_pct"] is not None and r["metric"] != "activation_gib_per_gpu":
            errs.setdefault(r["source"], {})[r["id"]] = r["error_pct"]
    for table in sorted(tables):
        mine = errs[table]
        n = len(mine)
        old = by_doc.get(table)
        if old is not None and old["loso_mape_pct"] is not None:  # the table's other rows keep their recorded errors
            total = old["loso_mape_pct"] * n + sum(abs(loso[k]) - abs(cat[k]) for k in mine if k in loso)
            old[f"loso_mape_pct_before_{word}_refit"] = old["loso_mape_pct"]
            old["loso_mape_pct"] = round(total / n, 2)
            old["constant"] += f"; {tables[table]}{tag}"
            old[f"{word}_rows"] = note
            continue
        constants.append(
            {
                "constant": f"{tables[table]}{tag}",
                "document": table,
                "loso_mape_pct": round(sum(abs(loso.get(k, v)) for k, v in mine.items()) / n, 2),
                "kind": kind,
            }
        )
    return constants


def _summary(rows: list[dict], records: dict[str, float]) -> dict:
    """validate's summary figures (harness.ValidationReport.summary) on rows with ``error`` and ``speed`` set."""
    ok = [r for r in rows if r["error"] is not None]

    def stats(sub: list[dict]) -> dict:
        return {
            "n": len(sub),
            "mape_pct": round(sum(abs(r["error"]) for r in sub) / len(sub), 3),
            "mean_speed_error_pct": round(sum(r["speed"] for r in sub) / len(sub), 3),
        }

    def by(key) -> dict[str, dict]:
        groups: dict[str, list[dict]] = {}
        for r in ok:
            groups.setdefault(key(r), []).append(r)
        return {k: stats(v) for k, v in sorted(groups.items())}

    tables = by(lambda r: r["source"])
    loso = sum(records.get(t, st["mape_pct"]) * st["n"] for t, st in tables.items()) / len(ok)
    tput = [r for r in ok if r["metric"] != "activation_gib_per_gpu"]
    bands: dict[str, list[dict]] = {}
    for r in tput:
        bands.setdefault(gpu_band(r["gpus"]), []).append(r)
    return {
        **stats(ok),
        "loso_mape_pct": round(loso, 3),
        "per_group": by(lambda r: r["group"]),
        "per_gpu_band": {name: stats(bands[name]) for _, _, name in GPU_BANDS if name in bands},
        "per_source": tables,
    }


def evaluate(result: dict, validated_all: dict, validated_published: dict) -> dict:
    """Before/after of the validate figures for each choice of refitted families: in sample (each landed family's
    rows at its whole-set fraction), leave-one-source-out (validate's column from the records fp8_records writes),
    the published set likewise, the GPU bands' signed means; and whether the refit lands (issue 14's rule: the
    all-rows and published leave-one-source-out errors do not rise and every band's signed mean stays within
    +-4%)."""
    fitted = [f for f, res in result["families"].items() if res.get("fitted")]
    moved_by = {f: {r["id"]: r for r in result["families"][f]["rows"]} for f in fitted}
    choices = [[]] + [[f] for f in fitted] + ([fitted] if len(fitted) > 1 else [])
    out = {}
    for choice in choices:
        moved = {k: v for f in choice for k, v in moved_by[f].items()}
        constants = fp8_records(result, choice, validated_all["rows"]) if choice else _base_constants()
        records = {c["document"]: c["loso_mape_pct"] for c in constants}
        res = {
            name: _summary(rescored_rows(val["rows"], moved), records)
            for name, val in (("all", validated_all), ("published", validated_published))
        }
        out["+".join(choice) or "catalog"] = res
        if choice:
            base = out["catalog"]
            res["lands"] = lands_by_rule(res, base)
            res["tables_moved_over_2_points"] = tables_moved(res, base)
    return out


def rescored_rows(validated_rows: list[dict], moved: dict[str, dict]) -> list[dict]:
    """Validate's rows with ``error`` and ``speed`` set: a moved row's from its refitted in-sample error, any other
    row's as validate printed it (a row without a prediction counts 0 in the signed mean)."""
    rows = []
    for r in validated_rows:
        if r["id"] in moved:
            e = moved[r["id"]]["in_sample"]
            speed = None if e is None else _speed(r["metric"], e)
        else:
            e, speed = r["error_pct"], r["speed_error_pct"]
        rows.append({**r, "error": e, "speed": speed if speed is not None else 0.0})
    return rows


def lands_by_rule(res: dict, base: dict) -> bool:
    """Issue 14's rule for a refitted constant: the all-rows and the published leave-one-source-out MAPE do not rise
    against the catalog's (``base``) and every GPU band's signed mean stays within +-4%."""
    return (
        res["all"]["loso_mape_pct"] <= base["all"]["loso_mape_pct"]
        and res["published"]["loso_mape_pct"] <= base["published"]["loso_mape_pct"]
        and all(abs(b["mean_speed_error_pct"]) <= 4.0 for b in res["all"]["per_gpu_band"].values())
    )


def tables_moved(res: dict, base: dict, points: float = 2.0) -> dict[str, list[float]]:
    """Source tables whose in-sample MAPE moved by more than ``points`` against the catalog's: [before, after]."""
    before = base["all"]["per_source"]
    return {
        t: [round(before[t]["mape_pct"], 2), round(st["mape_pct"], 2)]
        for t, st in res["all"]["per_source"].items()
        if abs(st["mape_pct"] - before[t]["mape_pct"]) > points
    }


def write_fit_records(constants: list[dict], extra_note: str) -> None:
    """fit_sources.json rewritten with ``constants`` as its records, ``extra_note`` appended to its note once."""
    data = json.loads(FIT_SOURCES.read_text(encoding="utf-8"))
    data["constants"] = constants
    if extra_note not in data["note"]:
        data["note"] += extra_note
    FIT_SOURCES.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def write_records(result: dict, families: list[str], validated_all: dict) -> None:
    write_fit_records(
        fp8_records(result, families, validated_all["rows"]),
        " FP8 of the families refitted by scripts/refit_fp8.py (benchmarks/results/refit_fp8.json): every table "
        "holding an FP8 row of the family, its rows predicted with the FP8 fraction refitted without its document.",
    )


# The FP8 scaling recipe of a row, read from its own note and quote only (a row that names none is "unstated")
RECIPES = (
    ("current (per-tensor)", re.compile(r"current.scaling|fp8-cs|fp8_cs|tensorwise|float8", re.I)),
    ("delayed (per-tensor)", re.compile(r"delayed|fp8-ds|amax.history", re.I)),
    ("blockwise", re.compile(r"block-?wise|fine-grained|tile-?wise|1x128|128x128", re.I)),
)


def recipe(row: dict) -> str:
    text = f"{row.get('notes') or ''} {row.get('quote') or ''}"
    return next((name for name, pat in RECIPES if pat.search(text)), "unstated")


def recipe_table(result: dict) -> dict:
    """The fit rows' error by scaling recipe, at the catalog's fraction and the family's whole-set fraction: does
    the residual depend on the recipe (the evidence a per-recipe FP8 rate would need)?"""
    _, rows = read_rows("all")
    by_id = {r["id"]: r for r in rows}
    out: dict = {}
    for fam, res in result["families"].items():
        if not res.get("fitted"):
            continue
        groups: dict[str, list[dict]] = {}
        for r in res["rows"]:
            if r["precision"] == "fp8":
                groups.setdefault(recipe(by_id[r["id"]]), []).append(r)
        out[fam] = {
            name: {
                "rows": len(g),
                "documents": len({r["doc"] for r in g}),
                **{
                    f"{key}_{kind}": round(
                        sum((abs(r[key]) if kind == "mape_pct" else _speed(r["metric"], r[key])) for r in g) / len(g),
                        2,
                    )
                    for key in ("catalog", "in_sample")
                    for kind in ("mape_pct", "signed_pct")
                },
            }
            for name, g in sorted(groups.items())
        }
    return out


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main() -> None:
    if sys.argv[1] == "--records":  # RESULT.json VALIDATE_ALL.json FAMILY...: write the refitted families' records
        write_records(_load(sys.argv[2]), sys.argv[4:], _load(sys.argv[3]))
        print("FP8 records written to", FIT_SOURCES)
        return
    if sys.argv[1] == "--evaluate":  # RESULT.json VALIDATE_ALL.json VALIDATE_PUBLISHED.json: adds the before/after
        result = _load(sys.argv[2])
        result["evaluation"] = evaluate(result, _load(sys.argv[3]), _load(sys.argv[4]))
        result["by_recipe"] = recipe_table(result)
        Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        for choice, res in result["evaluation"].items():
            brief = {k: res[k]["loso_mape_pct"] for k in ("all", "published")}
            print(choice, res["all"]["mape_pct"], brief, res.get("lands"))
        return
    if sys.argv[1] == "--rescore":  # refit from a run's cached grid errors (and redo the paired table)
        result = _load(sys.argv[2])
        _, rows = read_rows("all")
        result["paired"] = paired(rows)
        result["rescored"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        result["rows_recomputed"] = update_cache(result, rows)
        for fam in result["families"].values():
            if fam.get("fitted"):
                fit_family(fam)
        Path(sys.argv[3]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        return
    run(sys.argv[1])


if __name__ == "__main__":
    guarded(
        main,
        "refit_fp8.py OUT.json | --evaluate RESULT.json ALL.json PUB.json"
        " | --records RESULT.json ALL.json FAMILY... | --rescore RESULT.json OUT.json",
        flags=("--records", "--evaluate", "--rescore"),
        valued=(),
        paths=(1, None),
    )
