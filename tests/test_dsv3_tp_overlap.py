"""NeMo's DeepSeek-V3 performance script runs without TP communication overlap (software.yaml
nemo-2024-dsv3-first-last: ``MegatronCommOverlapCallback, tp_comm_overlap=False`` in
scripts/performance/llm/pretrain_deepseek_v3.py at NeMo 7a8f1cc)."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.perf.layer import tp_comm
from supercluster.specs import ResolvedPlan


def test_dsv3_profile_turns_tp_overlap_off():
    sw = catalog.software("nemo-2024-dsv3-first-last")
    assert sw.tp_comm_overlap == "fraction"
    assert sw.tp_overlap_fraction == 0.0
    # the rest of the NeMo stack keeps its userbuffers overlap
    assert catalog.software("nemo-2024").tp_comm_overlap == "userbuffers"


def test_dsv3_forward_tp_collectives_fully_exposed_by_hand():
    """DGX Cloud H100 layout (tp 2, sequence parallel, micro-batch 1, 4,096 tokens, hidden 7,168): one block's
    forward all-gather plus reduce-scatter of the 4,096 x 7,168 BF16 activations (58.7 MB) is exposed in full
    under the DeepSeek-V3 profile, and 1 - 0.6 = 40% of it under nemo-2024's fraction."""
    system = catalog.system("dgx-h100-superpod", gpus=16)
    comm = CollectiveModel(system)
    plan = ResolvedPlan.single(tp=2, micro_batch=1, sequence_parallel=True)
    msg = 4096 * 7168 * 2.0
    assert msg == pytest.approx(58.72e6, rel=1e-3)
    span = span_of(2, 1, comm.domain)
    full = float(comm.all_gather(msg, span)) + float(comm.reduce_scatter(msg, span))
    dsv3 = catalog.software("nemo-2024-dsv3-first-last")
    fwd, _ = tp_comm(msg, plan, dsv3, comm, {}, blocks=1.0)
    assert fwd == pytest.approx(full)
    nemo = catalog.software("nemo-2024")
    fwd_nemo, _ = tp_comm(msg, plan, nemo, comm, {}, blocks=1.0)
    assert fwd_nemo == pytest.approx(0.4 * full)
    assert fwd > fwd_nemo
