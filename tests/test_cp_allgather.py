"""All-gather context parallelism (perf.cp_allgather): Llama 3's exposed K/V all-gather and dK/dV reduce-scatter, by
hand, and in the step model's layer cost."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import cp_allgather
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.layer import finish, layer_parts
from supercluster.specs import ResolvedPlan


def test_gathered_bytes_llama3_405b_128k_by_hand() -> None:
    """Llama 3 405B at 131,072 tokens, TP 8 (8 key/value heads, one per rank), head dim 128, micro-batch 1:
    K and V of the whole sequence = 2 x 1 x 131072 x (8 / 8) x 128 x 2 bytes = 67,108,864 bytes (64 MiB)."""
    assert cp_allgather.gathered_kv_bytes(1, 131072, 8, 128, 8) == 67_108_864.0
    # TP 4 holds two key/value heads per rank: twice the bytes
    assert cp_allgather.gathered_kv_bytes(1, 131072, 8, 128, 4) == 2 * 67_108_864.0
    # the ring passes one rank's share per step, S / cp = 8,192 tokens at cp 16: 2 x 8192 x 1 x 128 x 2 = 4 MiB
    assert cp_allgather.kv_bytes(1, 131072 / 16, 8, 128, 8) == 4_194_304.0


def test_exposed_time_is_the_collectives_over_the_cp_group() -> None:
    """CP 16 with TP 8 on DGX H100 (8 GPUs a node): the 16 cp ranks are 8 GPUs apart, one a node, so both
    collectives cross the NICs. Bandwidth bound (NCCL ring, each rank receives 15/16 of the gathered bytes):
    15 / 16 x 67,108,864 / 47e9 B/s = 1.3386 ms; the model's ring protocol and latency add a little on top."""
    comm = CollectiveModel(catalog.system("dgx-h100-superpod", gpus=2048))
    kv = cp_allgather.gathered_kv_bytes(1, 131072, 8, 128, 8)
    fwd, bwd = cp_allgather.allgather_cp_s(comm, kv, 16, 8)
    group = span_of(16, 8, comm.domain)
    assert (group.n, group.k) == (16.0, 1.0)
    assert fwd == pytest.approx(float(comm.all_gather(kv, group)), rel=1e-12)
    assert bwd == pytest.approx(float(comm.reduce_scatter(kv, group)), rel=1e-12)
    bound = 15 / 16 * kv / comm.bw_nic
    assert bound == pytest.approx(1.3386e-3, rel=1e-4)
    assert bound < fwd < 1.2 * bound
    assert cp_allgather.allgather_cp_s(comm, kv, 1, 8) == (0.0, 0.0)


def _parts(sw_name: str, cp: int, **sw_update):
    system = catalog.system("dgx-h100-superpod", gpus=8 * cp)
    acc = catalog.accelerator("h100-sxm-80gb")
    sw = catalog.software(sw_name).model_copy(update=sw_update)
    plan = ResolvedPlan.single(tp=8, cp=cp, sequence_parallel=True)
    model = catalog.model("llama3-405b")
    comm = CollectiveModel(system)
    return layer_parts(model, plan, 131072, acc, sw, comm, False), comm


def test_meta_stack_exposes_the_gather_where_the_ring_hides_its_passes() -> None:
    """Meta's stack (cp_comm_type all_gather) pays the all-gather in the forward and the reduce-scatter in the
    backward in full; the same stack run as the ring hides every pass behind the chunk in hand at 128K (its
    attention per step is tens of milliseconds against well under one of transfer) and pays one hop home."""
    meta, comm = _parts("llama3-meta-2024", 16)
    kv = cp_allgather.gathered_kv_bytes(1, 131072, 8, 128, 8)
    fwd, bwd = cp_allgather.allgather_cp_s(comm, kv, 16, 8)
    assert (meta.cp_fwd_s, meta.cp_bwd_s) == (fwd, bwd)
    ring, _ = _parts("llama3-meta-2024", 16, cp_comm_type="p2p")
    assert ring.cp_fwd_s == 0.0
    assert ring.cp_bwd_s < 0.2 * meta.cp_bwd_s


def test_full_recompute_gathers_again() -> None:
    """A full recompute re-runs the forward, its all-gather included (perf.layer.finish)."""
    meta, _ = _parts("llama3-meta-2024", 16)
    sw = catalog.software("llama3-meta-2024")
    none = finish(meta, "none", False, sw)
    full = finish(meta, "full", False, sw)
    assert full.tp_comm_s - none.tp_comm_s == pytest.approx(meta.tp_fwd_s + meta.cp_fwd_s, rel=1e-12)
