"""scripts/dsv3_h100_diagnosis.py: the two-run solve for the per-layer cost and the last rank's extra work."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import dsv3_h100_diagnosis as diag


def test_implied_layer_and_extra_by_hand():
    # L = 40 ms, E = 60 ms. Run A: 256 micro-batches, 2 layers on the last rank (+1 for the MTP block):
    # 3 x 40 + 60 = 180 ms each, 256 x 0.180 = 46.08 s. Run B: 128 micro-batches, 6 layers: 7 x 40 + 60 = 340 ms,
    # 128 x 0.340 = 43.52 s.
    layer_s, extra_s = diag.implied_layer_and_extra(46.08, 256, 2, 43.52, 128, 6)
    assert layer_s == pytest.approx(0.040)
    assert extra_s == pytest.approx(0.060)


def test_implied_layer_and_extra_is_symmetric():
    a = diag.implied_layer_and_extra(46.08, 256, 2, 43.52, 128, 6)
    b = diag.implied_layer_and_extra(43.52, 128, 6, 46.08, 256, 2)
    assert a == pytest.approx(b)


def test_dgxc_h100_rows_are_diagnosed():
    """Both DGX Cloud H100 rows resolve to their README layouts (PP 16 and PP 8, 61 layers, the NeMo script's
    first/last counts) and the sketch has their ends balanced against the middle ranks."""
    from supercluster.validate.harness import read_rows

    _, rows = read_rows("all")
    by_id = {r["id"]: r for r in diag.dsv3_rows(rows)}
    big = diag.diagnose(by_id["dgxcv2505-h100-dsv3-bf16-1024"])
    small = diag.diagnose(by_id["dgxcv250504-h100-dsv3-bf16-512"])
    assert big is not None and small is not None
    assert big.stage_layers == (3,) + (4,) * 14 + (2,)
    assert small.stage_layers == (7,) + (8,) * 6 + (6,)
    assert big.measured_step_s == pytest.approx(52.04)
    assert small.measured_step_s == pytest.approx(48.948)
    # the NeMo script's split balances the ends: with TE 2.1-2.5's slow permute priced (perf.te_permute) and the head
    # on the NeMo profiles' fused cross-entropy (20.8 ms), the last rank's 2 or 6 layers, head passes and MTP block
    # cost within 2% of a 4- or 8-layer middle rank (175.8 against 178.8 ms, 360.0 against 363.8 ms), which paces
    for d in (big, small):
        assert d.paced_by == "middle"
        assert d.last_rank_ms == pytest.approx(d.middle_rank_ms, rel=0.02)
        assert d.first_rank_ms < d.middle_rank_ms
