"""The stack's pipeline split: balanced against the ends' work, or Megatron-Core's uniform one (perf.pp_split)."""

from __future__ import annotations

import csv
from importlib import resources

from supercluster import catalog
from supercluster.perf import pp_split
from supercluster.perf.pipeline import stage_split
from supercluster.plan import resolve
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload


def _row(row_id: str) -> dict[str, str]:
    path = resources.files("supercluster.validate.data").joinpath("moe_runs.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["id"] == row_id)


def _estimate(row: dict[str, str], software: str):
    model = row_model(row)
    system = row_system(row).model_copy(update={"software": software})
    return resolve(row_plan(row), row_workload(row, model), system, catalog.software(software), system.gpus)


def test_extras_by_split():
    balanced = catalog.software("megatron-bridge-2025")
    uniform = catalog.software("megatron-bridge-uniform-pp-2025")
    assert balanced.pp_split == "balanced" and uniform.pp_split == "uniform"
    assert pp_split.stage_extras(balanced, 0.1, 3.9) == (0.1, 3.9)
    assert pp_split.stage_extras(uniform, 0.1, 3.9) == (0.0, 0.0)


def test_megatron_uniform_split_by_hand():
    # get_num_layers_to_build without layout or account_for flags: 36 // 4 = 9 layers on every stage
    assert stage_split(
        36, 4, *pp_split.stage_extras(catalog.software("megatron-bridge-uniform-pp-2025"), 0.1, 3.9)
    ) == (
        9,
        9,
        9,
        9,
    )
    # balanced, a head worth 3.9 layers: the slowest stage holds 10 (10 x 3 + 6 = 36, the last 6 + 3.9 = 9.9 <= 10)
    assert stage_split(36, 4, 0.1, 3.9) == (10, 10, 10, 6)


def test_uniform_split_paces_the_last_stage():
    """GPT-OSS 120B on 64 H100 (Megatron-Bridge 26.04.01, PP 4, 80 micro-batches): the uniform split leaves 9 layers
    beside the output head of a 201,088-token vocabulary on the last stage, which then paces the 1F1B steady state;
    the balanced split hides the head behind three fewer layers there. The published 5,824 tokens/s/GPU
    (performance-summary archive) sits below both, closer to the uniform one."""
    row = _row("mb260401-h100-gpt-oss-120b-64-bf16")
    uniform = _estimate(row, "megatron-bridge-uniform-pp-2025")
    balanced = _estimate(row, "megatron-bridge-2025")
    assert list(uniform.stage_layers) == [9, 9, 9, 9]
    assert list(balanced.stage_layers) == [10, 10, 10, 6]
    # the steady state runs at the last stage's pace: 9 layers + head H against 10 layers, H between 3 and 4 layers
    # (the balanced split puts 6 beside it within the 10-layer limit), so (9 + 3) / 10 to (9 + 4) / 10 before the
    # per-step terms that do not scale with the stage (gradient sync, optimizer) dilute it
    ratio = uniform.step_time_s / balanced.step_time_s
    assert 1.1 < ratio < 1.3
    measured = float(row["value"])
    assert abs(uniform.tokens_per_s_per_gpu / measured - 1) < abs(balanced.tokens_per_s_per_gpu / measured - 1)


def test_default_split_is_balanced():
    from supercluster.specs import SoftwareProfile

    assert SoftwareProfile.model_fields["pp_split"].default == "balanced"
