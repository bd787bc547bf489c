"""Run every landed model on one scenario and gather what the report shows. Sections appear when their data exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supercluster import api, catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric import flows
from supercluster.perf import straggler
from supercluster.perf.contention import contention_s
from supercluster.perf.timeline import simulate_step
from supercluster.report import story
from supercluster.specs import Scenario

FLOW_GPUS = (2048, 4096, 8192, 16384)  # the flow check at a few sizes; benchmarks/bench_flows.py goes to 98,304
SCALING_GPUS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 98304, 131072, 196608)
Step = Callable[[str], None]


def _scaling(scn: Scenario, step: Step) -> list[dict[str, Any]]:
    rows = []
    for n in SCALING_GPUS:
        step(f"scaling: {n:,} GPUs")
        try:
            system = catalog.system(scn.system.id, gpus=n, generic=True)
            res = api.search(scn.workload, system, scn.software, n, top_k=1)
        except SuperclusterError as err:
            rows.append({"gpus": n, "error": str(err)})
            continue
        if not res.top:
            rows.append({"gpus": n, "error": "nothing fits in memory"})
            continue
        best = res.best
        ttt = scn.workload.train_tokens / best.tokens_per_s / 86400 if scn.workload.train_tokens else None
        overheads = {k: v for k, v in best.step_terms().items() if k not in ("compute_s", "recompute_s")}
        largest = max(overheads, key=overheads.__getitem__)
        iv = api.interval_of(scn.workload, system, scn.software, n, best)
        contention = contention_s(scn.workload, system, scn.software, best.plan, n)
        rows.append(
            {
                "gpus": n,
                "layout": best.plan.label(),
                "mfu": best.mfu,
                "mfu_peak_precision": best.mfu_peak_precision,
                "mfu_bf16_peak": best.mfu_bf16_peak,
                "time_to_train_days": ttt,
                "time_to_train_interval_days": list(iv.bounds(ttt)) if ttt else None,
                "interval_extrapolated": iv.extrapolated,
                "interval_widened_by": iv.widened_by,
                "tokens_per_s": best.tokens_per_s,
                # the global batch is the scenario's at every size: per-GPU work shrinks as GPUs grow
                "sequences_per_gpu": scn.workload.global_batch / n,
                "largest_overhead": largest.removesuffix("_s").replace("_", " "),
                "largest_overhead_share": overheads[largest] / best.step_time_s,
                # the two terms of scale, each on its own (perf.straggler, perf.contention), beside the band
                "step_time_s": best.step_time_s,
                "step_time_interval_s": list(iv.bounds(best.step_time_s)),
                "straggler_s": best.straggler_s,
                "straggler_share": best.straggler_s / best.step_time_s,
                "straggler_in_step": best.straggler_in_step,
                "contention_s": contention,
                "contention_share": contention / best.step_time_s,
            }
        )
    return rows


def _flows(scn: Scenario) -> list[dict[str, Any]]:
    """Flow-level check of the contention term at a few job sizes (fat trees only; empty otherwise)."""
    if scn.system.fabric.kind == "dragonfly":
        return []
    rows: list[dict[str, Any]] = []
    for gpus in FLOW_GPUS:
        if gpus > max(scn.gpus, scn.system.gpus):
            break
        try:
            rows += flows.compare(
                scn.system, gpus, flows.layout_cases(gpus, scn.system.gpus_per_node), orders=("scattered",)
            )
        except SuperclusterError:
            return []
    return rows


def collect(scenario: str | None = None, step: Step | None = None, trials: int = 200) -> dict[str, Any]:
    step = step or (lambda _msg: None)
    step("scenario")
    scn = api.build_scenario(scenario)
    step("step model")
    est = api.estimate(scn)
    data: dict[str, Any] = {
        "scenario": {
            "name": scn.name,
            "description": scn.description,
            "model": scn.workload.model.name,
            "system": scn.system.name,
            "system_id": scn.system.id,
            "gpus": scn.gpus,
            "accelerator": scn.system.accelerator.name,
            "software": scn.software.name,
        },
        "estimate": est.to_dict(),
        "scenario_assumptions": [a.model_dump() for a in scn.assumptions],
    }
    step("planner")
    data["plan"] = api.plan(scenario, top_k=5).to_dict()
    step("step timeline")
    try:
        tl = simulate_step(scn.workload, scn.system, scn.software, est.step)
    except SuperclusterError as err:
        data["timeline_note"] = str(err)
        tl = None
    data["timeline"] = (
        None
        if tl is None
        else {
            "ops": [[o.stage, o.chunk, o.microbatch, o.kind, o.start_s, o.end_s] for o in tl.ops],
            "stages": tl.stages,
            "chunks": tl.chunks,
            "microbatches": tl.microbatches,
            "pipeline_s": tl.pipeline_s,
            "total_s": tl.total_s,
            "analytical_s": tl.analytical_s,
            "relative_error": tl.relative_error,
            "notes": tl.notes,
        }
    )
    data["scaling"] = _scaling(scn, step)
    data["straggler_sigma"] = straggler.RANK_SIGMA
    step("fabric (flow-level check)")
    fab = scn.system.fabric
    acc = scn.system.accelerator
    data["fabric"] = {
        "technology": fab.technology,
        "kind": fab.kind,
        "nic_gbps_per_gpu": fab.nic_gbps_per_gpu,
        "nic_busbw_gb_per_s": fab.nic_busbw_gb_per_s,
        "scale_up_domain": scn.system.domain_gpus,
        "scale_up_busbw_gb_per_s": acc.scale_up_busbw_gb_per_s,
        "oversubscription": fab.oversubscription,
        "source": fab.source,
    }
    data["fabric"]["flows"] = _flows(scn)
    if scn.workload.train_tokens:
        step("failures and goodput")
        try:
            data["simulation"] = api.simulate(scenario, trials=trials).to_dict()
        except SuperclusterError as err:  # e.g. a million-GPU job interrupted faster than it can restart
            data["simulation_note"] = str(err)
    step("facility and build-out")
    data["facility"] = api.facility(scenario)
    data["fabric"]["switches"] = data["facility"]["power"]["training"]["switches"]
    data["fabric"]["switch_tiers"] = data["facility"]["power"]["training"]["switch_tiers"]
    step("power swings")
    try:
        data["power_swings"] = api.power_swings(scenario, plot=True)
    except SuperclusterError as err:
        data["power_swings_note"] = str(err)
    step("TOP500")
    try:
        data["top500"] = api.top500(scn.system.id, gpus=max(scn.gpus, scn.system.gpus))
    except SuperclusterError as err:
        data["top500_error"] = str(err)
    data["story"] = story.story(scn, data, step)  # the questions the press asked of this system, if it has a build-out
    data["sources"] = _sources(scn)
    if data.get("power_swings"):
        data["sources"] += [
            {"what": f"power swings: {k.replace('_', ' ')}", "source": v}
            for k, v in catalog.loader.power_swings().sources.items()
        ]
    return data


def _sources(scn: Scenario) -> list[dict[str, str]]:
    rows = [
        {"what": f"accelerator {scn.system.accelerator.id}: {k}", "source": v}
        for k, v in scn.system.accelerator.sources.items()
    ]
    rows.append({"what": "kernel efficiencies", "source": scn.system.accelerator.efficiency.source})
    rows += [{"what": f"system {scn.system.id}: {k}", "source": v} for k, v in scn.system.sources.items()]
    rows.append({"what": "fabric", "source": scn.system.fabric.source})
    rows.append({"what": "software stack", "source": scn.software.source})
    rows.append({"what": f"model {scn.workload.model.name}", "source": scn.workload.model.source})
    rows.append({"what": "failure rates", "source": scn.reliability.source})
    rows.append({"what": "stragglers (scaling section)", "source": straggler.source()})
    for k, v in scn.facility.sources.items():
        rows.append({"what": f"facility {k}", "source": v})
    return rows
