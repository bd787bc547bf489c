"""scripts/dsv3_mxfp8_diagnosis.py: the Megatron-Bridge DeepSeek-V3 rows, their terms and the host what-if."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import dsv3_mxfp8_diagnosis as diag

from supercluster.perf import host_sync
from supercluster.validate.harness import read_rows


def _rows() -> dict[str, dict]:
    _, rows = read_rows("all")
    return {r["id"]: r for r in diag.bridge_dsv3_rows(rows)}


def test_selects_only_bridge_deepseek_rows():
    rows = _rows()
    assert "mb2602-b200-deepseek-v3-256-mxfp8" in rows
    assert all(k.startswith("mb") and "deepseek-v3" in k for k in rows)
    # the DGX Cloud H100 rows are a different stack and stay out
    assert "dgxcv2505-h100-dsv3-bf16-1024" not in rows


def test_pp16_b200_row_terms_and_what_if():
    """26.02 B200: PP 16, EP 8, so 256 / 8 = 32 local experts and 4,096 / 16 = 256 micro-batches per step; without the
    per-local-expert host work the model can only get faster (speed error up), and the constant is restored."""
    kept = host_sync.HOST_PER_LOCAL_EXPERT_S
    d = diag.diagnose(_rows()["mb2602-b200-deepseek-v3-256-mxfp8"])
    assert kept == host_sync.HOST_PER_LOCAL_EXPERT_S
    assert d is not None
    assert (d.pp, d.vpp, d.ep, d.local_experts, d.micro_batches) == (16, 1, 8, 32, 256)
    assert d.container == "26.02"
    assert d.measured == pytest.approx(2689.0)
    assert d.speed_error_no_expert_host_pct > d.speed_error_pct
    shares = d.compute_share + d.ep_comm_share + d.bubble_share + d.fixed_share
    assert 0.0 < shares <= 1.0 + 1e-9
