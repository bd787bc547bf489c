"""NCCL all-to-all latency with peer rounds batched eight at a time (fabric.p2p_batch)."""

import numpy as np
import pytest

from supercluster import catalog
from supercluster.fabric import collectives as C
from supercluster.fabric import p2p_batch
from supercluster.fabric.collectives import Span
from supercluster.units import US


def test_batches_of_eight_rounds():
    # NCCL's NCCL_MAX_DEV_WORK_P2P_PER_BATCH = 8: 1..8 rounds are one batch, 9 are two, 126 are ceil(126/8) = 16
    assert p2p_batch.batches(0) == 0.0
    assert p2p_batch.batches(1) == 1.0
    assert p2p_batch.batches(8) == 1.0
    assert p2p_batch.batches(9) == 2.0
    assert p2p_batch.batches(126) == 16.0


def test_llama4_h100_ep128_latency_by_hand():
    # EP 128, 2 ranks per node: 1 NVLink peer (1 batch) and 126 network peers (16 batches);
    # base 8.4 us + 1 x 3.4 us + 16 x 14 us = 235.8 us (Simple-protocol ring tables, 4 us reference net hop)
    lat = p2p_batch.a2a_latency_s(128.0, 2.0, 8.4 * US, 3.4 * US, 14.0 * US)
    assert lat == pytest.approx(235.8 * US)
    # the serial ring steps it replaces: 8.4 + 64 x 3.4 + 63 x 14 = 1108 us (domains 64: 63 network steps)
    serial = 8.4 + 64 * 3.4 + 63 * 14.0
    assert serial == pytest.approx(1108.0)
    assert lat < serial * US / 4


def test_collective_model_uses_batched_latency_across_domains_only():
    comm = C.CollectiveModel(catalog.system("dgx-h100-superpod", gpus=512))
    span = Span(128.0, 2.0, 512.0)
    tiny = 1.0  # one byte: the call is all latency
    net_hop = C.NET_HOP_US["ring"]["Simple"] * US * (comm.net_hop_s / (4.0 * US))
    want = C.BASE_US["ring"]["Simple"] * US + C.NVL_HOP_US["ring"]["Simple"] * US + 16 * net_hop
    assert comm.all_to_all(tiny, span) == pytest.approx(want, rel=1e-3)
    # the array path agrees with the float path
    arr = comm.all_to_all(np.array([tiny, tiny]), Span(np.array([128.0, 8.0]), np.array([2.0, 8.0]), 512.0))
    assert float(arr[0]) == pytest.approx(want, rel=1e-3)
    # inside one domain (8 of 8): the ring-step latency, 8.4 + 7 x 3.4 us, unchanged
    inside = C.BASE_US["ring"]["Simple"] * US + 7 * C.NVL_HOP_US["ring"]["Simple"] * US
    assert comm.all_to_all(tiny, Span(8.0, 8.0, 8.0)) == pytest.approx(inside, rel=1e-3)
    assert float(arr[1]) == pytest.approx(inside, rel=1e-3)
