"""The output layer's weight gradient deferred to the pipeline drain (perf.embedding_wgrad)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from supercluster import catalog
from supercluster.perf import embedding_wgrad
from supercluster.plan import resolve
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload


def _row(row_id: str) -> dict[str, str]:
    path = resources.files("supercluster.validate.data").joinpath("vendor_runs.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["id"] == row_id)


def _estimate(row: dict[str, str], **profile):
    model = row_model(row)
    system = row_system(row)
    sw = catalog.software(system.software).model_copy(update=profile)
    return resolve(row_plan(row), row_workload(row, model), system, sw, system.gpus)


def test_hidden_share_by_hand():
    # limit None: nothing deferred; 0: every micro-batch; 22 of 64: 22 GEMMs, capped by the drain idle
    assert embedding_wgrad.hidden_s(0.006, 64, None, 1.0) == 0.0
    assert embedding_wgrad.hidden_s(0.006, 64, 0, 1.0) == pytest.approx(64 * 0.006)
    assert embedding_wgrad.hidden_s(0.006, 64, 22, 1.0) == pytest.approx(22 * 0.006)
    assert embedding_wgrad.hidden_s(0.006, 64, 22, 0.1) == pytest.approx(0.1)
    assert embedding_wgrad.hidden_s(0.006, 8, 22, 1.0) == pytest.approx(8 * 0.006)


def test_recipes_limits():
    # dgxc-benchmarking llama3.1 yamls at v24.11.1: 70B "wgrad_deferral_limit: 22", 405B "wgrad_deferral_limit: 50";
    # Megatron-Bridge's default overlap config turns it off; the MLPerf GPT-3 recipes set none
    assert catalog.software("nemo-2024").embedding_wgrad_deferral == 22
    assert catalog.software("nemo-2024-accounted").embedding_wgrad_deferral == 50
    for name in ("megatron-bridge-2025", "nemo-2023-te-flash", "nemo-fp8-params-2024", "megatron-core-2024"):
        assert catalog.software(name).embedding_wgrad_deferral is None


def test_deferral_moves_the_70b_pp8_step_toward_the_published_time():
    """DGX Cloud Llama 3.1 70B FP8 on 64 H100 (NeMo 25.02, TP4 PP8 VP5, 64 micro-batches): the last stage's 22
    deferred output-layer weight gradients run in its drain; the published step is 9.86 s."""
    row = _row("dgxc2502-h100-llama31-70b-fp8-64")
    deferred = _estimate(row)
    eager = _estimate(row, embedding_wgrad_deferral=None)
    saved = eager.step_time_s - deferred.step_time_s
    model, plan = row_model(row), deferred.plan
    wgrad = embedding_wgrad.head_wgrad_s(model, plan, 8192, row_system(row).accelerator)
    assert 0.0 < saved <= 22 * wgrad + 1e-9
    assert abs(deferred.step_time_s - 9.86) < abs(eager.step_time_s - 9.86)


def test_no_pipeline_nothing_to_defer():
    # Megatron-Core: "Cannot defer embedding wgrad compute when pipeline model parallel is not used"
    row = _row("dgxc2502-h100-llama31-8b-bf16-8")
    assert _estimate(row).step_time_s == _estimate(row, embedding_wgrad_deferral=None).step_time_s
