"""Python API: the same operations as the CLI, returning typed results."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supercluster import catalog
from supercluster.catalog import scenario_loader
from supercluster.errors import SuperclusterError, UnknownPresetError
from supercluster.perf import StepEstimate, resolve
from supercluster.specs import Scenario
from supercluster.units import DAY_S

DEFAULT_SCENARIO = "colossus-grok"
# Without a batch, assume ~4M tokens per step (Llama 2's batch, arXiv:2307.09288 section 2.2).
DEFAULT_TOKENS_PER_STEP = 4 * 1024 * 1024
PLAN_KEYS = (
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "dp",
    "zero",
    "sequence_parallel",
    "micro_batch",
    "recompute",
    "precision",
)


@dataclass(frozen=True)
class EstimateResult:
    scenario: Scenario
    step: StepEstimate

    @property
    def time_to_train_s(self) -> float | None:
        tokens = self.scenario.workload.train_tokens
        return tokens / self.step.tokens_per_s if tokens else None

    @property
    def gpu_hours(self) -> float | None:
        t = self.time_to_train_s
        return t * self.scenario.gpus / 3600.0 if t else None

    def to_dict(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "scenario": s.name,
            "model": s.workload.model.name,
            "system": s.system.id,
            "accelerator": s.system.accelerator.id,
            "software": s.software.id,
            "gpus": s.gpus,
            "seq_len": s.workload.seq,
            "global_batch": s.workload.global_batch,
            "train_tokens": s.workload.train_tokens,
            "time_to_train_s": self.time_to_train_s,
            "time_to_train_days": self.time_to_train_s / DAY_S if self.time_to_train_s else None,
            "gpu_hours": self.gpu_hours,
            **self.step.to_dict(),
            "scenario_assumptions": [a.model_dump() for a in s.assumptions],
        }


def scenario_dict(scenario: str | None) -> dict[str, Any]:
    """The raw mapping of a preset or file, so CLI flags can override any part before validation."""
    ref = scenario or DEFAULT_SCENARIO
    if Path(ref).suffix in (".yaml", ".yml") or Path(ref).exists():
        if not Path(ref).exists():
            raise SuperclusterError(f"scenario file not found: {ref}")
        return scenario_loader.read_yaml(Path(ref).read_text(encoding="utf-8"), ref)
    if ref not in catalog.scenario_names():
        raise UnknownPresetError("scenario", ref, catalog.scenario_names())
    return scenario_loader.read_yaml(scenario_loader.preset_text(ref), ref)


def build_scenario(
    scenario: str | None = None,
    *,
    system: str | None = None,
    model: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    seq_len: int | None = None,
    train_tokens: float | None = None,
    **plan: Any,
) -> Scenario:
    """A scenario from a preset or file, with any part overridden.

    Naming a model or a system without a scenario starts from a blank plan rather than
    the default scenario's, so that a dense model does not inherit a MoE layout.
    """
    unknown = set(plan) - set(PLAN_KEYS)
    if unknown:
        raise SuperclusterError(f"unknown plan option(s) {sorted(unknown)}; valid: {', '.join(PLAN_KEYS)}")
    if scenario is None and (model or system):
        base = copy.deepcopy(scenario_dict(DEFAULT_SCENARIO))
        data: dict[str, Any] = {
            "name": "custom",
            "workload": {"model": model or base["workload"]["model"]},
            "system": system or base["system"],
            "plan": {},
        }
        if system is None:
            data["gpus"] = base.get("gpus")
    else:
        data = copy.deepcopy(scenario_dict(scenario))
        data.setdefault("plan", {})
        if model:
            data["workload"]["model"] = model
        if system:
            data["system"] = system
            data.pop("gpus", None)
    wl = data["workload"]
    if seq_len is not None:
        wl["seq_len"] = seq_len
    if global_batch is not None:
        wl["global_batch"] = global_batch
    if train_tokens is not None:
        wl["train_tokens"] = train_tokens
    if "global_batch" not in wl:
        seq = wl.get("seq_len") or scenario_loader.resolve_model(wl["model"]).seq_len
        wl["global_batch"] = max(1, DEFAULT_TOKENS_PER_STEP // seq)
    if gpus is not None:
        data["gpus"] = gpus
    for key, value in plan.items():
        if value is not None:
            data["plan"][key] = value
    return scenario_loader.from_dict(data, data.get("name", "scenario"))


def estimate(scn: Scenario) -> EstimateResult:
    step = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus)
    return EstimateResult(scn, step)
