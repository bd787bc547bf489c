"""Drop-and-pad removes the MoE dispatcher's host synchronisation (perf.host_sync.synchronises): the condition on the
recipe's flags, its effect on an estimate, and the 25.09 "(tokendrop)" rows it prices."""

import csv

import pytest

from supercluster import catalog
from supercluster.perf import estimate, host_sync
from supercluster.specs import ResolvedPlan, WorkloadSpec
from supercluster.validate import harness

DROPPAD = "megatron-bridge-droppad-2025"


def _model(capacity: float | None):
    return catalog.model("qwen3-30b-a3b").model_copy(update={"moe_capacity_factor": capacity})


def test_condition_follows_the_dispatcher_branches():
    """Megatron-Core's token_dispatcher.py: the drop_and_pad branch (pad flag and a capacity factor) sets no sync
    point; dropping without padding, and dropless, synchronise; a stack without the copy never does."""
    pad = catalog.software(DROPPAD)
    nopad = catalog.software("megatron-bridge-2025")
    assert pad.moe_pad_to_capacity and pad.moe_host_sync
    assert not host_sync.synchronises(pad, _model(1.0))  # drop and pad: sizes known on the host
    assert host_sync.synchronises(pad, _model(None))  # no capacity: dropless, the copy stays
    assert host_sync.synchronises(nopad, _model(1.0))  # drop without padding: sync before permutation 1
    assert host_sync.synchronises(nopad, _model(None))  # dropless
    assert not host_sync.synchronises(catalog.software("pytorch-eager-2024"), _model(1.0))
    dense = catalog.model("llama3-8b")
    assert not host_sync.synchronises(pad, dense) and not host_sync.synchronises(nopad, dense)


def _b200_step_s(sw_name: str, capacity: float | None) -> float:
    """Qwen3-30B-A3B on 8 B200s, EP 8 (16 local experts), one sequence per micro-batch: the 25.09/25.11 layout."""
    system = catalog.system("dgx-b200-superpod", gpus=8)
    wl = WorkloadSpec(model=_model(capacity), seq_len=4096, global_batch=512)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=8, ep=8, zero=1, micro_batch=1, precision="fp8")
    return estimate(wl, system, catalog.software(sw_name), plan, 8).step_time_s


def test_padding_removes_the_host_term_from_the_step():
    """With the same capacity, the drop-and-pad profile's step is the step of a stack without the copy: the profile
    differs from megatron-bridge-2025 only in the pad flag, so the gap is exactly the host term the sync adds."""
    padded = _b200_step_s(DROPPAD, 1.0)
    unpadded = _b200_step_s("megatron-bridge-2025", 1.0)
    no_sync = catalog.software("megatron-bridge-2025").model_copy(update={"moe_host_sync": False})
    system = catalog.system("dgx-b200-superpod", gpus=8)
    wl = WorkloadSpec(model=_model(1.0), seq_len=4096, global_batch=512)
    plan = ResolvedPlan.single(tp=1, pp=1, dp=8, ep=8, zero=1, micro_batch=1, precision="fp8")
    assert padded == pytest.approx(estimate(wl, system, no_sync, plan, 8).step_time_s, rel=1e-12)
    assert unpadded > 1.5 * padded  # 16 local experts at one sequence per micro-batch: host-bound when synchronised
    # dropless under the pad profile (no capacity factor) is the synchronised step again
    assert _b200_step_s(DROPPAD, None) == pytest.approx(_b200_step_s("megatron-bridge-2025", None), rel=1e-12)


def _rows() -> dict[str, dict[str, str]]:
    with harness.dataset_csv("moe").open(newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_tokendrop_rows_are_the_tables_cells():
    """The six 25.09 "(tokendrop)" Qwen3 rows carry the table's cells (docs/performance-summary.md at v0.1.0rc4,
    "## 25.09 NeMo Container") and the drop-and-pad profile; the H100 30B row shares its layout with the 25.11
    dropless row, whose throughput the table halves: 10494 against 5275 tokens/s/GPU."""
    rows = _rows()
    cells = {
        "mb2509-gb200-qwen3-30b-a3b-8-fp8": (22775, 1, 1, 8, 4),
        "mb2509-gb200-qwen3-235b-a22b-64-fp8": (4452, 2, 1, 64, 1),
        "mb2509-b200-qwen3-30b-a3b-8-fp8": (18066, 1, 1, 8, 1),
        "mb2509-b200-qwen3-235b-a22b-64-fp8": (4104, 1, 8, 8, 1),
        "mb2509-h100-qwen3-30b-a3b-16-fp8": (10494, 1, 2, 8, 2),
        "mb2509-h100-qwen3-235b-a22b-256-fp8": (1204, 2, 8, 32, 1),
    }
    for rid, (value, tp, pp, ep, mb) in cells.items():
        r = rows[rid]
        assert float(r["value"]) == value and str(value) in r["quote"]
        assert (int(r["tp"]), int(r["pp"]), int(r["ep"]), int(r["micro_batch"])) == (tp, pp, ep, mb)
        assert r["software"] == DROPPAD and r["moe_router"] == "token-drop-cf1"
        assert int(r["tp"]) * int(r["pp"]) * int(r["dp"]) == int(r["gpus"])
    pair = rows["mb2511-h100-qwen3-30b-a3b-16-fp8"], rows["mb2509-h100-qwen3-30b-a3b-16-fp8"]
    keys = ("gpu", "gpus", "tp", "pp", "vpp", "ep", "dp", "micro_batch", "global_batch", "precision")
    assert all(pair[0][k] == pair[1][k] for k in keys)
    assert float(pair[1]["value"]) / float(pair[0]["value"]) == pytest.approx(1.99, abs=0.01)


def test_tokendrop_rows_are_priced_without_the_sync():
    """Each drop-and-pad row predicts as the same row would with a stack that never synchronises, and faster than
    with the synchronising dispatcher wherever the host term binds (the B200 30B row: 16 local experts, one
    sequence per micro-batch)."""
    rows = _rows()
    r = dict(rows["mb2509-b200-qwen3-30b-a3b-8-fp8"])
    padded = harness.predict_row(r)
    synced = harness.predict_row({**r, "software": "megatron-bridge-2025"})
    assert padded.status != "failed" and synced.status != "failed"
    assert padded.predicted > 1.5 * synced.predicted  # tokens/s: the sync's host term gone
