"""The MTP block in the pipeline's stage balance (perf.mtp_stage)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from supercluster import catalog
from supercluster.perf import mtp_stage
from supercluster.plan import resolve
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload


def _rows() -> dict[str, dict[str, str]]:
    path = resources.files("supercluster.validate.data").joinpath("moe_runs.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def _stages(row: dict[str, str], software: str | None = None) -> list[int]:
    model = row_model(row)
    system = row_system(row)
    if software is not None:
        system = system.model_copy(update={"software": software})
    est = resolve(row_plan(row), row_workload(row, model), system, catalog.software(system.software), system.gpus)
    return list(est.stage_layers)


def test_last_stage_work_by_hand():
    # head 2 ms, block 3 ms: h + D (l + h) = 2 + 1 x (3 + 2) = 7 ms at depth 1, 2 + 2 x 5 = 12 ms at depth 2
    assert mtp_stage.last_stage_s(2e-3, 3e-3, 1) == pytest.approx(7e-3)
    assert mtp_stage.last_stage_s(2e-3, 3e-3, 2) == pytest.approx(12e-3)
    assert mtp_stage.last_stage_s(2e-3, 3e-3, 0) == 2e-3  # no MTP: the head alone, bit for bit


@pytest.mark.parametrize(
    ("row_id", "layout", "tolerance_layers"),
    [
        # Megatron-Bridge 26.04.01 deepseek_v3.py layout_map (4, 4): [E + t*4] + [t*4] * 14 + [t + mtp + loss], four
        # chunks per rank: rank 0 E + 16, ranks 1-2 16, rank 3 4 + 4 + 4 + 1 = 13 beside the MTP block and the loss
        # (the model's time balance puts one layer of rank 3 on rank 2 since the GB200 GEMM fraction was fitted:
        # 16/16/17/12; within one layer per rank, see the tolerance below)
        ("mb260401-gb200-deepseek-v3-256-mxfp8", [16, 16, 16, 13], 1),
        # B200 MXFP8 V2: pp_layout "Et*4|(t*4|)*14tmL" over 8 ranks x 2 chunks: rank 7 holds t*4 and t m L
        ("mb260401-b200-deepseek-v3-256-mxfp8", [8, 8, 8, 8, 8, 8, 8, 5], 0),
        # GB300 V2: the same string over 2 ranks x 8 chunks: rank 0 E + 8 x 4, rank 1 7 x 4 + 1
        ("mb2606-gb300-deepseek-v3-256-mxfp8-gbs4096", [32, 29], 0),
        # v0.2.0 layout_map (16, 1): [E + t*4] + [t*4] * 14 + [t + mtp + loss]
        ("mb2511-b200-deepseek-v3-256-mxfp8", [4] * 15 + [1], 0),
    ],
)
def test_bridge_layouts_reproduced(row_id: str, layout: list[int], tolerance_layers: int):
    """The balance with the MTP block as last-stage work gives the decoder layers per rank of the recipe's layout:
    exactly where the stage times are not near a tie, else within one layer per rank (the balance works in whole
    layers by time, the recipe by hand), and always with the fewest layers on the last rank, beside the block."""
    stages = _stages(_rows()[row_id])
    assert sum(stages) == sum(layout)
    assert stages[-1] == min(stages) < max(stages)
    assert max(abs(a - b) for a, b in zip(stages, layout, strict=True)) <= tolerance_layers


def test_stacks_without_it_split_as_before():
    """A stack whose layout does not count the block splits the layers as the model without MTP would: the block is
    added on top of the last stage."""
    row = _rows()["mb260401-gb200-deepseek-v3-256-mxfp8"]
    # a stack that splits freely (no exact-split assert: 61 layers on pp 4 do not divide) and does not count the block
    other = "megatron-core-deepep-2025"
    assert not catalog.software(other).mtp_stage_balance and not catalog.software(other).pp_split_exact
    plain = _stages(row, other)
    no_mtp = _stages({**row, "mtp_depth": "0"}, other)
    assert plain == no_mtp
    mine = _stages(row)  # the same row on its own stack moves layers off the last rank
    assert mine[-1] < plain[-1]


def test_mtp_depth_column():
    """The optional mtp_depth column sets the model's MTP modules (runs the source says trained without MTP)."""
    rows = _rows()
    assert row_model(rows["mb2511-gb200-deepseek-v3-256-bf16"]).mtp_depth == 0
    assert row_model(rows["mb260401-gb200-deepseek-v3-256-mxfp8"]).mtp_depth == 1  # blank: the preset's
