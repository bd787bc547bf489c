"""The questions the press asked of a system with a recorded build-out (Colossus), each answered with numbers.

(a) the build-out as it happened and what each phase could train; (b) the run it was built for, at the compute
published for it, with failures, on each size; (c) its power against the supply on site; (d) "the most powerful
AI training cluster" and the TOP500; (e) whether waiting for the next accelerator would have finished sooner.
Every answer comes from the same models as the rest of the report; the reference data (estimates of the run's
compute, the delivery dates) sit in ``catalog/data/buildout.yaml`` with their sources.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import yaml

from supercluster import api, catalog
from supercluster.errors import SuperclusterError
from supercluster.facility.buildout import phases_data, recorded
from supercluster.lifecycle.run import simulate_scenario
from supercluster.specs import PlanSpec, Scenario
from supercluster.units import DAY_S

FAILURE_TRIALS = 60  # Monte Carlo trials per run priced here; the report's own failure section runs more
PEERS = ("el-capitan", "frontier", "aurora", "eagle")  # the systems the press compared Colossus with


def has_story(scn: Scenario) -> bool:
    """Whether the scenario's system is one whose build-out the catalog records."""
    return recorded(scn.system.id)


def _best_bf16(scn: Scenario) -> Any:
    """The planner's best BF16 layout (the build-out's rule: FP8 changes numerics, so it is not assumed)."""
    return api.plan_scenario(scn.model_copy(update={"plan": PlanSpec()}), top_k=1, allow_fp8=False).search.best


def reference_run(ref: dict[str, Any], step: Callable[[str], None]) -> dict[str, Any]:
    """(b): the reference scenario's shape at each published compute estimate, on each recorded job size."""
    jobs = []
    for job in ref["jobs"]:
        step(f"story: {ref['name']} on {job['gpus']:,} GPUs")
        scn = api.build_scenario(ref["scenario"], system=job["system"], gpus=job["gpus"])
        best = _best_bf16(scn)
        jobs.append((job, scn, best))
    # a GPU-hour figure becomes FLOP at the model's own rate on the largest job (the one the claim is about)
    largest = max(jobs, key=lambda j: j[0]["gpus"])[2]
    model_flop_per_gpu_s = largest.model_flops_per_step / largest.step_time_s / largest.gpus
    flop_per_token = largest.model_flops_per_step / largest.tokens_per_step
    estimates = []
    for e in ref["estimates"]:
        flop = float(e["flop"]) if "flop" in e else float(e["gpu_hours"]) * 3600.0 * model_flop_per_gpu_s
        estimates.append(
            {
                "name": e["name"],
                "flop": flop,
                "source": e["source"],
                "gpu_hours": float(e["gpu_hours"]) if "gpu_hours" in e else None,
            }
        )
    rows = []
    for job, scn, best in jobs:
        iv = api.interval_of(scn.workload, scn.system, scn.software, scn.gpus, best)
        for est in estimates:
            tokens = est["flop"] / flop_per_token
            clean_days = tokens / best.tokens_per_s / DAY_S
            run = scn.model_copy(update={"workload": scn.workload.model_copy(update={"train_tokens": tokens})})
            sim = simulate_scenario(run, best, run.reliability, trials=FAILURE_TRIALS, analyses=False).to_dict()
            rows.append(
                {
                    "estimate": est["name"],
                    "flop": est["flop"],
                    "system": job["system"],
                    "gpus": job["gpus"],
                    "layout": best.plan.label(),
                    "mfu": best.mfu,
                    "tokens": tokens,
                    "days_without_failures": clean_days,
                    "days_interval": list(iv.bounds(clean_days)),
                    "days_with_failures_p50": sim["wall_days"]["p50"],
                    "days_with_failures_p90": sim["wall_days"]["p90"],
                    "ettr": sim["ettr"]["mean"],
                    "gpu_hours": clean_days * 24 * job["gpus"],
                }
            )
    return {
        "name": ref["name"],
        "scenario": ref["scenario"],
        "estimates": estimates,
        "rows": rows,
        "trials": FAILURE_TRIALS,
    }


def power(data: dict[str, Any]) -> dict[str, Any]:
    """(c): the job's power at the meter against the supply of the phase it runs in, batteries apart."""
    fac = data["facility"]
    demand_mw = fac["power"]["training"]["facility_mw"]
    gpus = data["scenario"]["gpus"]
    phases = phases_data()["phases"]
    phase = min((p for p in phases if p["gpus"] >= gpus), key=lambda p: p["gpus"], default=phases[-1])
    supply = {k: float(v) for k, v in phase["power_mw"].items() if k != "batteries"}
    return {
        "phase": phase["name"],
        "demand_mw": demand_mw,
        "supply_mw": supply,
        "supply_total_mw": sum(supply.values()),
        "margin_mw": sum(supply.values()) - demand_mw,
        "batteries_mw": float(phase["power_mw"].get("batteries", 0.0)),
        "sources": phases_data()["power_sources"],
    }


def _peers() -> list[dict[str, Any]]:
    text = resources.files("supercluster.catalog.data").joinpath("top500.yaml").read_text(encoding="utf-8")
    systems = yaml.safe_load(text)["systems"]
    out = []
    for sid in PEERS:
        s = systems[sid]
        acc = catalog.loader.accelerator(s["accelerator"])
        out.append(
            {
                "system": s["name"],
                "gpus": s["gpus"],
                "rmax_pf": s["rmax"],
                "bf16_peak_ef": s["gpus"] * acc.peak_flops("bf16") / 1e18,
                "source": s["source"],
            }
        )
    return out


def standing(data: dict[str, Any], scn: Scenario) -> dict[str, Any]:
    """(d): dense BF16 peak (what trains models) and estimated HPL Rmax against the machines it was compared with."""
    top = data.get("top500")
    gpus = max(scn.gpus, scn.system.gpus)
    mine = {
        "system": scn.system.name,
        "gpus": gpus,
        "bf16_peak_ef": gpus * scn.system.accelerator.peak_flops("bf16") / 1e18,
        "rmax_pf": top["hpl"]["rmax_pf"] if top else None,
        "rmax_interval_pf": list(top["hpl"]["rmax_interval_pf"]) if top else None,
        "rank": top["ranking"]["rank"] if top else None,
        "list": top["ranking"]["list"] if top else None,
    }
    peers = _peers()
    return {
        "colossus": mine,
        "peers": peers,
        "bf16_ratio_to_next": mine["bf16_peak_ef"] / max(p["bf16_peak_ef"] for p in peers),
    }


def decision(dec: dict[str, Any], ref: dict[str, Any], run: dict[str, Any], step: Callable[[str], None]) -> dict:
    """(e): the reference run at its first compute estimate on the H100 machine and on a B200 machine of the same
    power, each finishing at its delivery date + build + training (facility.delivery)."""
    first = run["estimates"][0]
    row = next(r for r in run["rows"] if r["estimate"] == first["name"] and r["system"] == dec["systems"][0])
    step("story: H100 against B200, counting delivery")
    out = api.compare(
        ref["scenario"],
        systems=list(dec["systems"]),
        equal="power",
        system=dec["systems"][0],
        gpus=row["gpus"],
        train_tokens=row["tokens"],
        available=dict(dec["available"]),
        bring_up_days={"*": dec["build_days"]},
    )
    by_system = {v["system"]: v for v in out["variants"]}
    rows = [
        {**r, "gpus": by_system[r["system"]]["gpus"], "layout": by_system[r["system"]]["layout"]}
        for r in out["time_to_result"]["rows"]
    ]
    return {
        "estimate": first["name"],
        "flop": first["flop"],
        "rows": rows,
        "variants": out["variants"],
        "time_to_result": out["time_to_result"],
        "source": dec["source"],
    }


def story(scn: Scenario, data: dict[str, Any], step: Callable[[str], None]) -> dict[str, Any] | None:
    """All five answers, or None for a system without a recorded build-out. A failing answer is reported as such."""
    if not has_story(scn):
        return None
    bo = phases_data()
    out: dict[str, Any] = {"buildout": data.get("facility", {}).get("buildout", []), "build_source": bo["phases"]}
    try:
        out["reference_run"] = reference_run(bo["reference_run"], step)
        out["decision"] = decision(bo["decision"], bo["reference_run"], out["reference_run"], step)
    except SuperclusterError as err:
        out["reference_run_error"] = str(err)
    if data.get("facility"):
        out["power"] = power(data)
    out["standing"] = standing(data, scn)
    return out
