"""The accuracy protocol for a term that may or may not enter the step time (shared by the *_protocol.py scripts).

A term lands only if leave-one-source-out MAPE does not rise, over all bundled rows and over the published set.
:func:`summarise` validates every bundled set and the published set with the term out or in; :func:`compare`
puts two summaries side by side with the source tables that moved by more than 2 points and the verdict;
:func:`judge` runs both around a module's switch and writes the record each *_protocol.py script keeps.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

from supercluster.validate.harness import run

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("bf16 dense throughput", "fp8 dense throughput", "bf16 moe throughput", "fp8 moe throughput")


def r2(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def figures(s: dict[str, Any], pub: dict[str, Any]) -> dict[str, Any]:
    """The protocol's figures from the summaries of `validate all` and `validate published`."""
    return {
        "all_rows": {
            "n_predicted": s["n_predicted"],
            "mape_pct": r2(s["mape_pct"]),
            "loso_mape_pct": r2(s.get("loso_mape_pct")),
            "mean_speed_error_pct": r2(s["mean_speed_error_pct"]),
        },
        "groups": {g: r2(s["per_group"][g]["mape_pct"]) for g in GROUPS if g in s["per_group"]},
        "gpu_bands": {
            b: {
                "n": v["n_predicted"],
                "mape_pct": r2(v["mape_pct"]),
                "mean_speed_error_pct": r2(v["mean_speed_error_pct"]),
            }
            for b, v in s["per_gpu_band"].items()
        },
        "per_stack": {k: r2(v["mape_pct"]) for k, v in s.get("per_stack", {}).items()},
        "published": {"mape_pct": r2(pub["mape_pct"]), "loso_mape_pct": r2(pub.get("loso_mape_pct"))},
        "per_source_mape_pct": {k: r2(v["mape_pct"]) for k, v in s["per_source"].items()},
    }


def summarise(set_term: Callable[[bool], None], in_step: bool, tables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate with the term in or out of the step time (``set_term`` flips the module's switch)."""
    set_term(in_step)
    return figures(run("all", tables).summary(), run("published", tables).summary())


def lands(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Neither leave-one-source-out MAPE (all rows, the published set) rises."""
    return (
        after["all_rows"]["loso_mape_pct"] <= before["all_rows"]["loso_mape_pct"]
        and after["published"]["loso_mape_pct"] <= before["published"]["loso_mape_pct"]
    )


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Both summaries (per-source detail dropped), the source tables that moved by more than 2 points, the verdict."""
    b, a = before.pop("per_source_mape_pct"), after.pop("per_source_mape_pct")
    moved = {
        k: {"without": v, "with": a[k]}
        for k, v in b.items()
        if v is not None and a.get(k) is not None and abs(a[k] - v) > 2
    }
    return {
        "without_term": before,
        "with_term": after,
        "sources_moved_over_2_points": moved,
        "lands": lands(before, after),
    }


def judge(
    module: ModuleType,
    switch: str,
    name: str,
    constants: dict[str, Any],
    extra: Callable[[dict[str, Any], dict[str, Any], Callable[[bool], None]], None] | None = None,
) -> dict[str, Any]:
    """The protocol for the term behind ``module.<switch>``: the figures without and with it (``constants`` recorded
    beside them), then ``extra(result, before, set_term)`` for a script's further checks; the switch is restored
    to its verdict whatever happens, and the record goes to benchmarks/results/<name>_protocol.json."""
    t0 = time.perf_counter()
    verdict = getattr(module, switch)

    def set_term(on: bool) -> None:
        setattr(module, switch, on)

    try:
        before, after = summarise(set_term, False), summarise(set_term, True)
        result = {"date": date.today().isoformat(), "machine": platform.platform(), **constants}
        result |= compare(before, after)
        if extra is not None:
            extra(result, before, set_term)
    finally:
        setattr(module, switch, verdict)
    result["run_s"] = round(time.perf_counter() - t0, 1)
    path = ROOT / "benchmarks" / "results" / f"{name}_protocol.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "sources_moved_over_2_points"}, indent=1))
    print("wrote", path)
    return result
