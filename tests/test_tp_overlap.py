"""Transformer Engine userbuffers TP overlap (perf.tp_overlap): each method's residual and SM cost by hand, the layer
sum, and the NeMo stacks running it where it applies (dense layers with sequence parallelism)."""

import pytest

from supercluster import catalog
from supercluster.perf import tp_overlap as ub
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.layer import layer_cost
from supercluster.specs import ResolvedPlan


def test_ring_exchange_hides_the_remote_chunks_behind_all_but_one_gemm_chunk():
    """tp 4, collective 1.0 s, GEMM 1.0 s: the 3 remote chunks run behind 3/4 of the GEMM: 1 - 0.75 = 0.25 s open;
    its 1 SM of 132 slows the GEMM while both run: min(1, 1) x 1/132 = 0.00758 s. A long GEMM hides it all."""
    op = ub.UbOp("ring_exchange", 1)
    assert ub.exposed_s(op, 1.0, 1.0, 4) == pytest.approx(0.25 + 1.0 / 132)
    assert ub.exposed_s(op, 1.0, 10.0, 4) == pytest.approx(1.0 / 132)


def test_pipelined_reduce_scatter_leaves_the_last_split_open_and_pays_its_sm_margin():
    """4 splits, collective 1.0 s, GEMM 2.0 s: the last split's reduce-scatter 0.25 s is open, the other three
    hide (0.25 < 0.5 s of GEMM each); the GEMM runs on 108 of 132 SMs: 2 x 24/108 = 0.4444 s longer.
    A slow collective (4.0 s beside 2.0 s): 1.0 + 3 x (1.0 - 0.5) = 2.5 s open, plus the same margin."""
    op = ub.UbOp("pipeline", 24, 4, True)
    assert ub.exposed_s(op, 1.0, 2.0, 4) == pytest.approx(0.25 + 2.0 * 24 / 108)
    assert ub.exposed_s(op, 4.0, 2.0, 4) == pytest.approx(2.5 + 2.0 * 24 / 108)


def test_bulk_overlap_exposes_what_the_independent_gemm_cannot_cover():
    """Collective 2.0 s beside a 1.0 s GEMM: 1.0 s open, plus 4 SMs of 132 for the 1.0 s both run (0.0303 s)."""
    op = ub.UbOp("bulk", 4)
    assert ub.exposed_s(op, 2.0, 1.0, 8) == pytest.approx(1.0 + 4.0 / 132)
    assert ub.exposed_s(op, 0.0, 1.0, 8) == 0.0


def test_layer_sum_pairs_each_collective_with_its_gemm():
    """Every GEMM 1.0 s, all-gather 0.4 s, reduce-scatter 0.4 s, tp 4. Forward: two ring exchanges hidden
    (0.4 < 0.75) with 1/132 x 0.4 each; two pipelines: 0.1 open each plus margins 24/108 and 16/116 of 1.0 s.
    Backward: two ring exchanges (1/132 x 0.4 each) and four bulk overlaps (SMs 4, 24, 2, 4 of 132 x 0.4 s)."""
    gemms = {f"{n}_{k}": 1.0 for n in ("qkv", "proj", "fc1", "fc2") for k in ("fprop", "dgrad", "wgrad")}
    fwd, bwd = ub.userbuffers_tp_s(0.4, 0.4, gemms, 4)
    assert fwd == pytest.approx(2 * 0.4 / 132 + 0.2 + 24 / 108 + 16 / 116)
    assert bwd == pytest.approx(2 * 0.4 / 132 + 0.4 * (4 + 24 + 2 + 4) / 132)


def _tp_s(software):
    model = catalog.model("llama3-70b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    plan = ResolvedPlan.single(tp=4, sequence_parallel=True, cp=2)
    return layer_cost(model, plan, 8192, system.accelerator, software, CollectiveModel(system), moe=False).tp_comm_s


def test_nemo_recipes_run_userbuffers_and_it_beats_the_flat_fraction_on_llama3_70b():
    """The NeMo stacks run userbuffers (their recipes set ub_tp_comm_overlap); on the 70B recipe's layout (tp 4 with
    sequence parallelism, cp 2, seq 8192) it leaves less TP time open than hiding a flat 60%, and not nothing: the
    last pipelined split and the SMs the communication kernels hold stay on the critical path."""
    nemo = catalog.software("nemo-2024")
    assert nemo.tp_comm_overlap == "userbuffers"
    assert catalog.software("megatron-bridge-2025").tp_comm_overlap == "userbuffers"
    flat = nemo.model_copy(update={"tp_comm_overlap": "fraction"})
    with_ub, with_flat = _tp_s(nemo), _tp_s(flat)
    assert 0.0 < with_ub < with_flat


def test_without_sequence_parallelism_the_flat_fraction_applies():
    """Transformer Engine overlaps TP communication only with sequence parallelism: without it, the profile's
    flat fraction prices the all-reduces, as for a stack without userbuffers."""
    model = catalog.model("llama3-70b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    comm = CollectiveModel(system)
    plan = ResolvedPlan.single(tp=4, sequence_parallel=False)
    nemo = catalog.software("nemo-2024")
    flat = nemo.model_copy(update={"tp_comm_overlap": "fraction"})
    a = layer_cost(model, plan, 4096, system.accelerator, nemo, comm, moe=False).tp_comm_s
    b = layer_cost(model, plan, 4096, system.accelerator, flat, comm, moe=False).tp_comm_s
    assert a == b > 0.0


def test_context_parallel_ring_exposes_only_the_backward_hop_home_when_attention_covers_the_transfers():
    """Llama 3 8B, seq 8192, cp 2, tp 1: each rank sends its K and V chunk once, 2 x 4096 tokens x 8 KV heads x
    128 x 2 B = 16.8 MB, over NVLink in far less time than half a chunk's attention, so the forward exposes
    nothing (the first step attends to the rank's own chunk) and the backward only the accumulated dK, dV
    making their one hop home after the last step: exactly one transfer."""
    model = catalog.model("llama3-8b")
    system = catalog.system("dgx-h100-superpod", gpus=8)
    comm = CollectiveModel(system)
    plan = ResolvedPlan.single(cp=2)
    cost = layer_cost(model, plan, 8192, system.accelerator, catalog.software("nemo-2024"), comm, moe=False)
    kv_bytes = 2.0 * 4096 * 8 * 128 * 2.0
    assert kv_bytes == pytest.approx(16.78e6, rel=1e-3)
    hop = float(comm.p2p(kv_bytes, False))
    assert hop < cost.fwd_attn_s / 2
    assert cost.tp_comm_s == pytest.approx(hop, rel=1e-12)
