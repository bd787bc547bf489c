"""The speed work changes no number: planner searches and estimates against digests recorded before it.

tests/data/speed_golden.json was written by tests/speed_golden.py from the code before the planner's inner rows were
shared between recompute modes and memoised by their own keys (perf.rowparts); every per-candidate array of ten
searches (dense and MoE, MLA, FP8, Megatron, DeepEP, FSDP eager and compiled, JAX, a 2021 stack, AMD, Blackwell) and
four scenario estimates must match it to the last bit. A changed model is re-recorded on purpose, never to pass.
"""

from __future__ import annotations

import json

import pytest
import speed_golden as golden

from supercluster.perf import context

RECORDED = json.loads(golden.PATH.read_text())


@pytest.mark.parametrize("expected", RECORDED["searches"], ids=lambda r: f"{r['case'][0]}-{r['case'][2]}")
def test_a_search_ranks_the_same_candidates_with_the_same_numbers(expected):
    got = golden.search_record(tuple(expected["case"]))
    assert got["evaluated"] == expected["evaluated"] and got["feasible"] == expected["feasible"]
    changed = [name for name, d in expected["batch"].items() if got["batch"][name] != d]
    assert changed == [], f"per-candidate arrays differ: {changed}"
    assert got["order"] == expected["order"]
    assert got["top"] == expected["top"]


@pytest.mark.parametrize("expected", RECORDED["estimates"], ids=lambda r: r["scenario"])
def test_an_estimate_cold_and_warm_gives_the_recorded_numbers(expected):
    got = golden.estimate_record(expected["scenario"])
    assert got["digest"] == expected["digest"], "estimate differs from the recorded one"


@pytest.mark.parametrize("system", sorted(RECORDED["collectives"]))
def test_nccl_s_modelled_choice_for_one_message_is_the_recorded_one(system):
    assert golden.collective_record(system) == RECORDED["collectives"][system]


def test_a_digest_sees_a_change_in_the_last_bit():
    import numpy as np

    a = np.array([0.1, 0.2, 0.3])
    b = a.copy()
    b[1] = np.nextafter(b[1], 1.0)
    assert golden.digest(a) != golden.digest(b)
    context.clear()


@pytest.mark.parametrize(
    "columns",
    [([1, 2, 4], [1, 3], [0, 1, 2, 3], [0, 2], [0, 1], [1, 8, 64], [True], [0, 3]), ([1], [], [0]), ([5],)],
)
def test_the_space_s_product_is_itertools_own_rows_in_its_order(columns):
    import itertools

    import numpy as np

    from supercluster.plan.space import product

    rows = list(itertools.product(*columns))
    expected = np.array(rows, dtype=np.int64).reshape(len(rows), len(columns))
    got = product(tuple(columns))
    assert got.dtype == np.int64 and got.shape == expected.shape and (got == expected).all()


def test_a_trusted_plan_is_the_validated_plan_field_for_field():
    from supercluster import catalog
    from supercluster.perf.batch import Candidates
    from supercluster.plan import resolve
    from supercluster.specs import ResolvedPlan

    for name in golden.SCENARIOS:
        scn = catalog.load(name)
        plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
        cand = Candidates.from_plans([plan, plan.model_copy(update={"etp": 1, "local_batch": 4, "zero": 3})])
        for i in range(2):
            trusted, checked = cand.plan(i, trusted=True), cand.plan(i)
            assert type(trusted) is ResolvedPlan and trusted.model_dump() == checked.model_dump()
            assert trusted == checked and trusted.label() == checked.label()


@pytest.mark.parametrize(
    ("model", "software"),
    [("grok-1", None), ("deepseek-v3", "megatron-core-deepep-2025"), ("mixtral-8x7b", "fsdp-eager-2024")],
)
def test_what_the_memo_shares_reads_none_of_the_knobs_left_out_of_its_key(model, software):
    """perf.batch.inner_terms keeps a layer's parts without the recompute mode, a dense layer's without ep and etp,
    the head and the embedding by (tp, micro-batch, cp) alone: each must come out the same whatever those knobs."""
    from supercluster import catalog
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import embedding_cost, head_cost, layer_parts
    from supercluster.perf.memory import layer_activation_bytes
    from supercluster.specs import ResolvedPlan

    system = catalog.system("dgx-h100-superpod", gpus=1024)
    sw = catalog.software(software or system.software)
    spec = catalog.model(model)
    acc, comm, seq = system.accelerator, CollectiveModel(system), 4096
    base = dict(tp=4, cp=2, micro_batch=2, sequence_parallel=True, precision="fp8", dp=8)
    plans = [
        ResolvedPlan.single(**base, recompute=rc, ep=ep, etp=etp)
        for rc in ("none", "selective", "full")
        for ep, etp in ((1, None), (8, None), (8, 1))
    ]
    for moe in (False, True):
        for plan in plans:
            same = plan.model_copy(update={"recompute": "none"})
            assert layer_parts(spec, plan, seq, acc, sw, comm, moe) == layer_parts(spec, same, seq, acc, sw, comm, moe)
    dense = {layer_parts(spec, p, seq, acc, sw, comm, False) for p in plans}
    assert len(dense) == 1  # a dense layer: no ep, no etp, no recompute in its parts
    assert len({layer_parts(spec, p, seq, acc, sw, comm, True) for p in plans}) > 1  # an MoE layer reads ep
    for rc in ("none", "selective", "full"):  # a dense layer's activations: no ep, no etp
        same_rc = [p for p in plans if p.recompute == rc]
        assert len({layer_activation_bytes(spec, p, seq, sw, moe=False) for p in same_rc}) == 1
    for other in [*plans, ResolvedPlan.single(**{**base, "sequence_parallel": False, "precision": "bf16"})]:
        assert head_cost(spec, other, seq, acc, comm, sw) == head_cost(spec, plans[0], seq, acc, comm, sw)
        assert embedding_cost(spec, other, seq, acc, sw) == embedding_cost(spec, plans[0], seq, acc, sw)


def test_span_of_one_candidate_is_the_array_path_s_first_entry():
    """span_of's one-element shortcut (the estimate's case) against the array formula it shortcuts (two entries)."""
    import numpy as np

    from supercluster.fabric.collectives import span_of

    for domain in (1, 8, 36, 72):
        for size in (0, 1, 2, 3, 16, 96, 12288, 98304):
            for stride in (1, 3, 8, 64, 72, 1024):
                for one_stride, two_stride in ((stride, stride), (np.array([stride]), np.array([stride, stride]))):
                    one = span_of(np.array([size]), one_stride, domain)
                    two = span_of(np.array([size, size]), two_stride, domain)
                    for a, b in ((one.n, two.n), (one.k, two.k), (one.extent, two.extent)):
                        assert a.dtype == b.dtype and a.shape == (1,) and a.tobytes() == b[:1].tobytes()
