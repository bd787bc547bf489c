"""scripts/ep_route_diagnosis.py (issue 15): NeMo's Slurm segment, the EP group's span, and the premise it reports."""

import pytest


@pytest.fixture(scope="module")
def diag(load_script):
    return load_script("ep_route_diagnosis")


def test_segment_is_largest_divisor_up_to_a_rack(diag):
    """NeMo's slurm_executor: 32, 64 and 128 GB200 trays -> 16 (18 and 17 do not divide them); 36 -> 18; 38 -> 2
    (19 is prime and 38 = 2 x 19); 18 trays or fewer, or 8-GPU nodes, -> no segment."""
    assert [diag.segment_nodes(n, 4) for n in (32, 64, 128)] == [16, 16, 16]
    assert diag.segment_nodes(36, 4) == 18
    assert diag.segment_nodes(38, 4) == 2
    assert diag.segment_nodes(18, 4) is None
    assert diag.segment_nodes(128, 8) is None


def test_ep_group_span(diag):
    """tp-cp-ep-dp-pp order, expert TP in the tp slot: EP 32 x ETP 1 on 4-GPU trays spans 8 trays, EP 64 16; EP 128 x
    ETP 4 on 8-GPU nodes 64 nodes; EP 2 still occupies one node."""
    assert diag.ep_group_nodes(32, 1, 4) == 8
    assert diag.ep_group_nodes(64, 1, 4) == 16
    assert diag.ep_group_nodes(128, 4, 8) == 64
    assert diag.ep_group_nodes(2, 1, 4) == 1


def test_both_gb200_families_keep_ep_inside_one_segment(diag):
    """The premise of the finding: every DGX Cloud GB200 MoE row (DeepSeek-V3 and Llama 4) has its EP group inside
    one Slurm segment (the segment a whole number of EP groups), so the route cannot differ between the families;
    and confining EP to the tray raises every GB200 row's EP term."""
    gb200 = [r for r in diag.dgx_cloud_moe_rows() if r["gpu"] == "gb200"]
    assert {r["model"] for r in gb200} == {"deepseek-v3", "llama4-maverick"} and len(gb200) == 9
    for r in gb200:
        d = diag.diagnose(r)
        assert d["segment_nodes"] is not None and d["segment_nodes"] % d["ep_group_nodes"] == 0
        assert d["node_confined"]["ep_comm_s"] > d["modelled"]["ep_comm_s"]
        assert d["node_confined"]["domain_gpus"] == 4 and d["modelled"]["domain_gpus"] == 72
