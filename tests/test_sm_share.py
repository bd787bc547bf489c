"""SMs that communication kernels take from the computation they overlap (perf.sm_share), and their use by the
userbuffers TP overlap (perf.tp_overlap) and the expert-parallel all-to-all overlap (perf.ep_overlap)."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import ep_overlap, sm_share, tp_overlap


def test_share_is_deepseek_v3s_20_of_132():
    # DeepSeek-V3 (arXiv:2412.19437, 3.5.1): "we allocate 20 out of the 132 SMs available in the H800 GPU"
    assert sm_share.share(20) == pytest.approx(20 / 132)
    assert sm_share.share(20) == pytest.approx(0.1515, abs=1e-4)
    with pytest.raises(SuperclusterError, match="communication SMs"):
        sm_share.share(132)


def test_beside_cost_by_hand():
    # a 1 s collective on 33 SMs beside 3 s of GEMM: the GEMM loses 33/132 = 1/4 of the card for 1 s -> 0.25 s
    assert float(sm_share.beside_cost_s(1.0, 3.0, 33.0)) == pytest.approx(0.25)
    # the collective outlasts the GEMM (4 s beside 2 s): only the 2 s both run count -> 0.5 s
    assert float(sm_share.beside_cost_s(4.0, 2.0, 33.0)) == pytest.approx(0.5)
    assert float(sm_share.beside_cost_s(1.0, 3.0, 0.0)) == 0.0


def test_margin_cost_by_hand():
    # a 3 s GEMM on 132 - 33 = 99 SMs takes 3 * 132 / 99 = 4 s: 1 s more = 3 * (1/4) / (3/4)
    assert float(sm_share.margin_cost_s(3.0, 33.0)) == pytest.approx(1.0)


def test_tp_overlap_prices_its_sms_with_the_shared_rule():
    # bulk, 24 SMs: 0.2 s collective beside 1 s GEMM -> nothing exposed but 0.2 * 24/132 of SMs
    op = tp_overlap.UbOp("bulk", 24)
    assert tp_overlap.exposed_s(op, 0.2, 1.0, 4) == pytest.approx(0.2 * 24 / 132)
    # pipeline with margin, 16 SMs, 4 splits: 0.4 s beside 1 s -> last split 0.1 s + GEMM 1 * 16 / 116
    op = tp_overlap.UbOp("pipeline", 16, 4, True)
    assert tp_overlap.exposed_s(op, 0.4, 1.0, 4) == pytest.approx(0.1 + 16 / 116)
    # the n of k / n is the H100 SXM5's 132 SMs ("8 GPCs, 66 TPCs, 132 SMs (2 per TPC)", Hopper whitepaper)
    assert sm_share.REFERENCE_SMS == 66 * 2 == 132


def test_all_to_all_gives_back_its_sm_share_by_hand():
    # ep_s 4 s (a = 1 s each), forward 1 s (chunks 0.5 s), backward 4 s (chunks 2 s): 3 s hidden without SMs
    # (test_ep_overlap). On 33 SMs: 2 min(1, 0.5)/4 + 2 min(1, 2)/4 = 0.25 + 0.5 = 0.75 s back -> 2.25 s hidden
    assert float(ep_overlap.hidden_s(4.0, 1.0, 5.0, True, 33.0)) == pytest.approx(2.25)
    assert float(ep_overlap.hidden_s(4.0, 1.0, 5.0, True, 0.0)) == pytest.approx(3.0)
    assert float(ep_overlap.hidden_s(4.0, 1.0, 5.0, False, 33.0)) == 0.0


def test_profiles_carry_their_dispatchers_sms():
    # DeepEP and Megatron-Core default 20; Megatron-Bridge's scripts give HybridEP 32 (moe_hybridep_num_sms = 32)
    assert catalog.software("megatron-bridge-deepep-overlap-2025").ep_comm_sms == 20
    assert catalog.software("megatron-core-deepep-overlap-2025").ep_comm_sms == 20
    hybrid = catalog.software("megatron-bridge-hybridep-overlap-2025")
    assert (hybrid.ep_comm_sms, hybrid.ep_a2a_overlap, hybrid.ep_dispatch) == (32, True, "per-destination")


def test_bridge_rows_with_hybridep_and_overlap_run_the_hybridep_profile():
    """A Megatron-Bridge row whose recipe names the hybridep backend and moe_a2a_overlap=True runs with the 32 SMs
    the performance scripts give HybridEP, not DeepEP's 20."""
    import csv

    from supercluster.validate.harness import dataset_csv

    with dataset_csv("moe").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if "Megatron-Bridge" in r["source"]]
    # a row whose recipe turned the overlap off quotes the removed "moe_a2a_overlap=True" beside its own False
    overlap = [
        r
        for r in rows
        if "hybridep" in r["notes"]
        and "moe_a2a_overlap=True" in r["notes"]
        and "moe_a2a_overlap=False" not in r["notes"]
    ]
    assert len(overlap) >= 3
    assert {catalog.software(r["software"]).ep_comm_sms for r in overlap} == {32}


def test_modelzoo_hybridep_rows_run_their_commands_overlap_and_sms():
    """A Megatron-MoE-ModelZoo row whose printed command sets DISPATCHER=hybridep runs the combined-1F1B overlap
    exactly where the command sets A2A_OVERLAP=1, and then with the 32 SMs its sbatch_benchmarking.sh gives HybridEP
    (--moe-hybridep-num-sms 32)."""
    import csv

    from supercluster.validate.harness import dataset_csv

    with dataset_csv("moe").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if "Megatron-MoE-ModelZoo" in r["source"]]
    hybrid = [r for r in rows if "DISPATCHER=hybridep" in r["notes"]]
    assert len(hybrid) >= 4
    for r in hybrid:
        sw = catalog.software(r["software"])
        overlap = "A2A_OVERLAP=1" in r["notes"]
        assert sw.ep_a2a_overlap == overlap, r["id"]
        if overlap:
            assert sw.ep_comm_sms == 32, r["id"]
