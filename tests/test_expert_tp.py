"""Expert tensor parallelism and the token dispatchers' collectives (perf.expert_tp), by hand arithmetic."""

from __future__ import annotations

import csv
import re
from importlib import resources

import pytest

from supercluster import catalog
from supercluster.perf import expert_tp
from supercluster.perf.comm import CollectiveModel, span_of
from supercluster.perf.layer import layer_cost
from supercluster.specs import ResolvedPlan


def _comm() -> CollectiveModel:
    return CollectiveModel(catalog.system("dgx-h100-superpod", gpus=64))


def test_routed_copy_rows_by_hand() -> None:
    # MegaScale-MoE's Megatron-LM baseline shape (arXiv:2505.11432 Table 2): top-3, tp = etp = 8, 2 x 8,192 tokens
    assert expert_tp.routed_copy_rows(16384, 8, 8, 3, 1.0) == pytest.approx(49152)
    # folded to etp 2 under tp 8: the group shares 2/8 of the tokens; a 1.1x busiest rank holds 1.1x the copies
    assert expert_tp.routed_copy_rows(16384, 8, 2, 3, 1.1) == pytest.approx(16384 * 0.25 * 3 * 1.1)


def test_alltoall_expert_tp_gathers_the_routed_copies() -> None:
    comm = _comm()
    tok, h = 4096.0, 6144
    # 4,096 tokens, top-8, tp = etp = 2: 32,768 copies of 12,288 B = 402.7 MB gathered, then reduce-scattered
    nbytes = 4096 * 8 * 6144 * 2.0
    assert nbytes == pytest.approx(402.65e6, rel=1e-4)
    span = span_of(2, 1, comm.domain)
    want = float(comm.all_gather(nbytes, span)) + float(comm.reduce_scatter(nbytes, span))
    assert expert_tp.expert_tp_fwd_s(comm, tok, h, 2, 2, 8, 1.0) == pytest.approx(want)
    # experts not split: nothing to gather
    assert expert_tp.expert_tp_fwd_s(comm, tok, h, 2, 1, 8, 1.0) == 0.0
    # top-8 moves 8x the bytes of top-1; fixed latency and the protocol NCCL picks for the smaller message keep the
    # time ratio between 5 and 8
    one = expert_tp.expert_tp_fwd_s(comm, tok, h, 2, 2, 1, 1.0)
    assert 5.0 < expert_tp.expert_tp_fwd_s(comm, tok, h, 2, 2, 8, 1.0) / one <= 8.0


def test_allgather_dispatcher_gathers_tokens_over_tp_times_ep() -> None:
    comm = _comm()
    # tp 8, ep 1, a 2,048-token sequence-parallel shard, h 4096, top-3 (the docstring's example)
    rows = 2048 * 8
    hidden_bytes = rows * 4096 * 2.0
    meta_bytes = rows * 3 * (8 + 4)
    assert hidden_bytes == pytest.approx(134.2e6, rel=1e-3)
    assert meta_bytes == pytest.approx(0.59e6, rel=1e-2)
    span = span_of(8, 1, comm.domain)
    want = (
        float(comm.all_gather(hidden_bytes, span))
        + float(comm.all_gather(meta_bytes, span))
        + float(comm.reduce_scatter(hidden_bytes, span))
    )
    assert expert_tp.allgather_dispatch_fwd_s(comm, 2048, 4096, 8, 1, 3) == pytest.approx(want)
    assert expert_tp.allgather_dispatch_fwd_s(comm, 2048, 4096, 1, 1, 3) == 0.0
    # it moves tokens, not copies: cheaper than the all-to-all dispatcher's expert-TP gather at top-3 (tp = etp = 8)
    assert want < expert_tp.expert_tp_fwd_s(comm, 16384, 4096, 8, 8, 3, 1.0)


def _moe_layer(sw_update: dict[str, object], plan: ResolvedPlan) -> tuple[float, float]:
    model = catalog.model("mixtral-8x22b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    sw = catalog.software("megatron-core-2024").model_copy(update=sw_update)
    cost = layer_cost(model, plan, 4096, system.accelerator, sw, CollectiveModel(system), moe=True)
    return cost.tp_comm_s, cost.ep_comm_s


def test_layer_prices_the_dispatchers_expert_tp_traffic_exposed(monkeypatch: pytest.MonkeyPatch) -> None:
    model = catalog.model("mixtral-8x22b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    comm = CollectiveModel(system)
    plan = ResolvedPlan.single(tp=2, sequence_parallel=True, ep=8, dp=32, zero=1)
    tp_s, ep_s = _moe_layer({}, plan)
    # the expert-TP gather and reduce-scatter of the routed copies, forward and backward, sit in the EP traffic
    etp_fwd = expert_tp.expert_tp_fwd_s(comm, 4096, model.hidden, 2, 2, model.moe_topk, 1.0)
    assert etp_fwd > 0
    without = plan.model_copy(update={"etp": 1})
    _, ep_etp1 = _moe_layer({}, without)
    assert ep_s > 2.0 * etp_fwd
    # the former pricing (the expert block as a dense MLP's TP collectives, partly overlapped) moved less exposed time
    monkeypatch.setattr(expert_tp, "ENABLED", False)
    tp_old, ep_old = _moe_layer({}, plan)
    assert tp_s + ep_s > tp_old + ep_old
    assert tp_s < tp_old  # the attention block alone stays a TP collective
    assert ep_etp1 > 0


def test_allgather_dispatcher_has_no_all_to_all() -> None:
    model = catalog.model("mixtral-8x22b")
    system = catalog.system("dgx-h100-superpod", gpus=64)
    comm = CollectiveModel(system)
    plan = ResolvedPlan.single(tp=2, sequence_parallel=True, ep=4, dp=32, zero=1)
    _, ep_s = _moe_layer({"ep_dispatch": "all-gather"}, plan)
    # the group is tp x ep = 8 ranks: the layer's EP traffic is the gather + reduce-scatter, forward and backward
    want = 2.0 * expert_tp.allgather_dispatch_fwd_s(comm, 4096 / 2, model.hidden, 2, 4, model.moe_topk)
    assert ep_s == pytest.approx(want)


def test_rows_carry_the_expert_tp_their_notes_quote() -> None:
    """A row whose notes state the source's ETP must carry it in the etp column (the harness fills a blank one)."""
    path = resources.files("supercluster.validate.data").joinpath("moe_runs.csv")
    checked = 0
    with path.open() as fh:
        for row in csv.DictReader(fh):
            m = re.search(r"\bETP ?(\d+)\b", row.get("notes") or "")
            if m:
                assert row["etp"] == m.group(1), f"{row['id']}: notes say ETP {m.group(1)}, etp column {row['etp']!r}"
                checked += 1
    assert checked >= 21
