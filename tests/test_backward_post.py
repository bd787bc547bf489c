"""FSDP1's BACKWARD_POST prefetch: the backward all-gathers run serially with the compute (perf.fsdp)."""

import pytest

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.perf import fsdp
from supercluster.plan import resolve
from supercluster.validate.harness import read_rows
from supercluster.validate.rows import row_specs


def test_serial_share_is_the_backward_pass_of_each_micro_batch():
    # ZeRO-3 with m = 4 micro-batches gathers 2 m = 8 times; 0.8 s in all -> the 4 backward passes, 0.4 s
    assert fsdp.backward_post_serial_s(0.8, 8, 4) == pytest.approx(0.4)
    # one micro-batch: forward and backward gather, half each
    assert fsdp.backward_post_serial_s(0.3, 2, 1) == pytest.approx(0.15)


def test_llm_foundry_stacks_prefetch_after_and_other_fsdp1_stacks_do_not():
    for name in ("llm-foundry-triton-2023", "llm-foundry-2024", "llm-foundry-triton-2024"):
        assert catalog.software(name).backward_post_prefetch, name
    for name in ("fsdp1-2023", "fsdp1-eager-2024", "fsdp-2024", "megatron-core-2024"):
        assert not catalog.software(name).backward_post_prefetch, name


def test_a_foundry_row_pays_its_backward_gathers_beside_the_compute():
    row = next(r for r in read_rows("fsdp")[1] if r["id"] == "foundry24-h100-mpt-13b-s2048-g8-mb2")
    specs = row_specs(row)
    model, system, workload, plan, sw = specs.model, specs.system, specs.workload, specs.plan, specs.software
    on = resolve(plan, workload, system, sw, system.gpus)
    off = resolve(plan, workload, system, sw.model_copy(update={"backward_post_prefetch": False}), system.gpus)
    # the backward pass's all-gathers by hand: 13B parameters in bf16 over 8 GPUs, one call per unit (40 blocks
    # and the root), one micro-batch per step (global batch 16 / 8 GPUs / micro-batch 2)
    assert on.microbatches == 1
    params = on.model_flops_per_step / (6 * on.tokens_per_step)
    comm = CollectiveModel(system)
    backward_gather_s = fsdp.per_unit_s(comm.all_gather, params * 2.0, model.layers + 1, span_of(8, 1, 8))
    added = on.step_time_s - off.step_time_s
    # the gathers become serial; they leave the overlapped traffic, so the interference they caused goes with them
    assert 0.5 * backward_gather_s < added <= backward_gather_s * 1.001
    assert on.dp_comm_s - off.dp_comm_s == pytest.approx(float(backward_gather_s), rel=0.05)
