"""FSDP's one collective per unit (perf.fsdp.per_unit_s) and NCCL's ring-only all-gather / reduce-scatter across
nodes (fabric.collectives.NVLS_ACROSS_DOMAINS), against hand arithmetic and the bundled llm-foundry rows."""

import csv

import numpy as np
import pytest

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.perf import fsdp
from supercluster.validate.harness import dataset_csv, predict_row


def test_all_gather_and_reduce_scatter_leave_nvls_at_the_node_edge():
    """NCCL runs NVLS for all-gather/reduce-scatter inside a node only (tuning.cc v2.18.3-1 rings only; v2.19+
    disables NVLS across nodes without CollNet); all-reduce keeps NVLS-tree across nodes."""
    c = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=128))
    inside, across = span_of(8, 1, 8), span_of(128, 1, 8)
    for op in ("all_gather", "reduce_scatter"):
        assert c.choose(op, 4e8, inside)[0] == "nvls/Simple"
        assert c.choose(op, 4e8, across)[0].startswith("ring/")
        assert np.isinf(c.algorithms(op, 4e8, across)["nvls/Simple"])
    assert np.isfinite(c.algorithms("all_reduce", 4e8, across)["nvls/Simple"])


def test_small_all_gather_across_two_nodes_pays_the_ring_latency_by_hand():
    """16 ranks, 8 per node, one byte: ring LL = base 6.6 us + 14 NVLink hops x 0.6 us + 1 network hop x 2.7 us
    (scaled by the fabric's hop latency / 4 us) = 17.7 us on a 4 us fabric; the byte itself adds ~1e-12 s."""
    system = catalog.system("dgx-h100-superpod", gpus=16)
    c = CollectiveModel(system)
    scale = system.fabric.hop_latency_us / 4.0
    name, t = c.choose("all_gather", 1.0, span_of(16, 1, 8))
    assert name == "ring/LL"
    assert t == pytest.approx((6.6 + 14 * 0.6 + 2.7 * scale) * 1e-6, rel=1e-6)
    assert c.all_gather(1.0, span_of(16, 1, 8)) == pytest.approx(t)  # the one-message path agrees


def test_per_unit_s_pays_the_latency_once_per_unit_by_hand():
    """An affine collective, 1 ms + bytes / (1 GB/s): 4 GB as 4 calls of 1 GB = 4 x (0.001 + 1) = 4.004 s, against
    1.001 s as one call; units broadcast per candidate (1 unit: 4.001 s)."""

    def affine(nbytes, span):
        return 1e-3 + np.asarray(nbytes) / 1e9

    span = span_of(64, 1, 8)
    assert fsdp.per_unit_s(affine, 4e9, 4, span) == pytest.approx(4.004)
    # a pass over MPT-1B's 24 blocks issues 24 + 1 (the root) calls
    assert fsdp.units_per_pass(24) == 25.0
    assert fsdp.per_unit_s(affine, 4e9, np.array([1.0, 4.0]), span) == pytest.approx([4.001, 4.004])


def _row(rid):
    with open(dataset_csv("fsdp")) as f:
        return next(r for r in csv.DictReader(f) if r["id"] == rid)


def test_fsdp_throughput_falls_with_the_data_parallel_degree():
    """llm-foundry's MPT-1B (24 blocks + root, FULL_SHARD, fp32 reduce) at 128 and 512 H100: 25 all-gathers twice
    and 25 reduce-scatters per step, each a ring whose latency grows with (n - 1) hops, so the predicted tokens/s per
    GPU falls with the GPU count (measured 44,123 -> 39,837, -9.7%); one call per pass (the old pricing) kept it flat
    within 0.1%."""
    small = predict_row(_row("foundry24-h100-mpt-1b-s2048-g128-mb12"))
    large = predict_row(_row("foundry24-h100-mpt-1b-s2048-g512-mb12"))
    assert small.predicted / large.predicted > 1.01
