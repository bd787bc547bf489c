"""AWS p4d's EFA fabric (BloombergGPT's 64 p4d.24xlarge) and its measured inter-node bus bandwidth."""

import pytest

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.validate.harness import read_rows
from supercluster.validate.rows import row_system

GIB = 1024**3


def test_p4d_preset_is_four_100g_efa_per_eight_a100_40gb():
    system = catalog.system("aws-p4d")
    fabric = system.fabric
    assert system.accelerator.name.endswith("40GB")
    assert system.gpus_per_node == 8
    # 400 Gb/s per instance over four EFA devices: 4 x 100 / 8 = 50 Gb/s per GPU
    assert (fabric.rails, fabric.nic_gbps_per_gpu) == (4, 50)
    # nccl #527: out-of-place busbw "29.61" GB/s on 4 instances, rounded to 29.6
    assert fabric.measured_busbw_gb_per_s == pytest.approx(29.61, abs=0.02)
    assert "issue #527" in fabric.source


def test_multi_node_all_reduce_reads_the_nccl_527_benchmark():
    # the benchmark itself: a 1 GiB fp32 all-reduce on 4 instances x 8 ranks. busbw = algbw x 2 (n - 1) / n, so
    # t = 2 x 31/32 x 1,073,741,824 B / 29.6e9 B/s = 70.28 ms; the log reads 70,253 us
    system = catalog.system("aws-p4d", gpus=32)
    t = CollectiveModel(system).all_reduce(float(GIB), span_of(32, 1, system.domain_gpus))
    assert t == pytest.approx(2 * 31 / 32 * GIB / 29.6e9, rel=1e-9)
    assert t == pytest.approx(70_253e-6, rel=0.005)


def test_p4d_all_gather_is_slower_than_the_dgx_a100_default():
    # the same 101 GB all-gather (BloombergGPT's 50.6B parameters in BF16) over 512 ranks: the measured EFA busbw
    # (29.6 GB/s) against 8 x 200 Gb/s HDR per node
    p4d, dgx = catalog.system("aws-p4d", gpus=512), catalog.system("dgx-a100-superpod", gpus=512)
    span = span_of(512, 1, 8)
    slow = CollectiveModel(p4d).all_gather(1.01e11, span)
    fast = CollectiveModel(dgx).all_gather(1.01e11, span)
    assert slow == pytest.approx(511 / 512 * 1.01e11 / 29.6e9, rel=0.01)
    assert slow > 4 * fast


def test_bloomberggpt_row_runs_on_p4d():
    _, rows = read_rows("all")
    row = next(r for r in rows if r["id"] == "bloomberggpt-s34-512")
    assert row["system"] == "aws-p4d"
    assert "400 Gb/s EFA per instance" in row["notes"]
    assert row_system(row).fabric.measured_busbw_gb_per_s == pytest.approx(29.6)


def test_p4d_facility_is_aws_published_fleet_pue_not_the_non_hyperscaler_default():
    # DCD 2024-12: "a global PUE of 1.15 across its data centers in 2023"; Epoch's 1.25 is for non-hyperscalers
    facility = catalog.system("aws-p4d").facility
    assert facility.pue == pytest.approx(1.15)
    assert "1.15 across its data centers in 2023" in facility.source
