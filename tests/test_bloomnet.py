"""Jean Zay's measured inter-node bus bandwidth and the Megatron-DeepSpeed FP16 gradient path (issue 14)."""

import numpy as np
import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.validate.rows import row_fp16_software, row_system

GBS = 1e9  # bytes per GB


def _uncapped(system):
    fabric = system.fabric.model_copy(update={"measured_busbw_gb_per_s": None})
    return system.model_copy(update={"fabric": fabric})


def test_jean_zay_declares_bigscience_measured_busbw():
    # all_reduce_bench-a100-n4.txt: median "busbw: 40.5430 Gbps" -> 40.543 / 8 = 5.068 GB/s, rounded to 5.07
    fabric = catalog.system("jean-zay-a100").fabric
    assert fabric.measured_busbw_gb_per_s == pytest.approx(40.543 / 8, abs=0.005)
    assert "all_reduce_bench-a100-n4.txt" in fabric.source


@pytest.mark.parametrize("scalar", [True, False])
def test_multi_node_all_reduce_reads_the_benchmark(scalar):
    # the benchmark itself: a 4 GB fp32 all-reduce over 4 nodes x 8 ranks. busbw = algbw x 2 (n - 1) / n, so
    # t = 2 x 31/32 x 4e9 B / 5.07e9 B/s = 1.528 s (the line-rate model alone would be faster)
    system = catalog.system("jean-zay-a100", gpus=32)
    comm = CollectiveModel(system)
    span = span_of(32, 1, system.domain_gpus) if scalar else span_of(np.array([32, 32]), 1, system.domain_gpus)
    t = np.asarray(comm.all_reduce(4e9, span))
    expected = 2 * 31 / 32 * 4e9 / (5.07 * GBS)
    assert t == pytest.approx(np.full(t.shape, expected), rel=1e-9)
    free = np.asarray(CollectiveModel(_uncapped(system)).all_reduce(4e9, span))
    assert (free < t).all()


def test_measured_busbw_leaves_collectives_inside_a_node_alone():
    system = catalog.system("jean-zay-a100", gpus=8)
    span = span_of(8, 1, system.domain_gpus)
    capped = CollectiveModel(system).all_reduce(1e9, span)
    free = CollectiveModel(_uncapped(system)).all_reduce(1e9, span)
    assert capped == free


def test_fp16_wire_bytes_are_a_quarter_of_bf16_optimizer_all_reduce():
    # BF16_Optimizer: fp32 all-reduce, 2 (n-1)/n x 4 B; DeepSpeed ZeRO-1 fp16: reduce-scatter, (n-1)/n x 2 B.
    # Both at the measured busbw across nodes (8 ranks, one per node): ratio (1 x 2) / (2 x 4) = 1/4
    bf16 = catalog.software("megatron-deepspeed-2022")
    fp16 = catalog.software("megatron-deepspeed-2022-fp16")
    assert (bf16.grad_reduce_bytes, bf16.sharded_grad_allreduce) == (4, True)
    assert (fp16.grad_reduce_bytes, fp16.sharded_grad_allreduce, fp16.tied_embedding_grad_bytes) == (2, False, 2)
    system = catalog.system("jean-zay-a100", gpus=64)
    comm = CollectiveModel(system)
    span = span_of(8, 8, system.domain_gpus)  # data-parallel ranks a node apart
    params = 3.7e9
    full = comm.all_reduce(params * bf16.grad_reduce_bytes, span)
    shard = comm.reduce_scatter(params * fp16.grad_reduce_bytes, span)
    assert shard / full == pytest.approx(0.25, rel=1e-3)


def test_fp16_rows_run_the_stacks_fp16_profile():
    row = {"precision": "fp16", "software": "megatron-deepspeed-2022"}
    assert row_fp16_software(row, "megatron-deepspeed-2022") == "megatron-deepspeed-2022-fp16"
    assert row_fp16_software({**row, "precision": "bf16"}, "megatron-deepspeed-2022") == "megatron-deepspeed-2022"
    # a stack without an FP16 path of its own keeps its profile
    assert row_fp16_software(row, "megatron-lm-2022") == "megatron-lm-2022"
    # the system's default stack counts too: Jean Zay runs megatron-deepspeed-2022
    blank = {"precision": "fp16", "software": "", "gpu": "a100-sxm-80gb", "gpus": "384", "system": "jean-zay-a100"}
    assert row_system(blank).software == "megatron-deepspeed-2022-fp16"
    assert row_system({**blank, "precision": "bf16"}).software == "megatron-deepspeed-2022"
    with pytest.raises(SuperclusterError, match="unknown software"):
        row_fp16_software(row, "no-such-stack")
