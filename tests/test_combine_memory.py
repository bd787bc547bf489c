"""The routed copies a Megatron-Core 0.9-0.12 combine keeps for the router gradient (perf.combine_memory)."""

import pytest

from supercluster import catalog
from supercluster.perf.combine_memory import combine_kept_bytes
from supercluster.perf.memory import layer_activation_bytes
from supercluster.plan import resolve
from supercluster.specs import ResolvedPlan
from supercluster.validate import fill_rule
from supercluster.validate.harness import measured_estimate, read_rows

CORE_2024 = catalog.software("megatron-core-2024")  # weights the copies in the unpermute
CORE_2025 = catalog.software("megatron-core-2025")  # after commit 2659630721: in the experts' activation


def test_the_kept_copies_by_hand():
    # Mixtral 8x22B (h 6,144, top-2), s 4,096, b 1: 2 B x 2 copies x 4,096 tokens x 6,144 = 100,663,296 B per MoE
    # layer and micro-batch before sequence-parallel division
    m = catalog.model("mixtral-8x22b")
    assert combine_kept_bytes(m, 4096, 1, CORE_2024) == 2 * 2 * 4096 * 6144 == 100_663_296
    assert combine_kept_bytes(m, 4096, 2, CORE_2024) == 2 * 100_663_296
    assert combine_kept_bytes(m, 4096, 1, CORE_2025) == 0.0
    assert combine_kept_bytes(catalog.model("llama3-8b"), 4096, 1, CORE_2024) == 0.0  # dense: no combine


def test_the_layer_books_them_per_sequence_parallel_rank():
    # tp 2 with sequence parallelism: each rank returns the copies of its 2,048 tokens, 50,331,648 B
    m = catalog.model("mixtral-8x22b")
    p = ResolvedPlan.single(tp=2, sequence_parallel=True, ep=4, dp=16)
    kept = layer_activation_bytes(m, p, 4096, CORE_2024, moe=True)
    not_kept = layer_activation_bytes(m, p, 4096, CORE_2025, moe=True)
    assert kept - not_kept == pytest.approx(2 * 2 * 4096 * 6144 / 2)
    # a dense layer of the same model is untouched
    assert layer_activation_bytes(m, p, 4096, CORE_2024, moe=False) == layer_activation_bytes(
        m, p, 4096, CORE_2025, moe=False
    )
    # full recompute keeps the layer input only
    full = p.model_copy(update={"recompute": "full"})
    assert layer_activation_bytes(m, full, 4096, CORE_2024, moe=True) == layer_activation_bytes(
        m, full, 4096, CORE_2025, moe=True
    )


def _row(rid):
    _, rows = read_rows("moe")
    return next(r for r in rows if r["id"] == rid)


def test_the_coupled_g8t8_layout_fills_without_interleaving():
    # MoE Parallel Folding Table 3, Mixtral-8x22B-G8T8 at 128 H100, GBS 256: the coupled MCore layout (tp 2, expert
    # TP 2, ep 8, expert-DP 1, so the expert optimizer state is not sharded) holds 2 x 8 x 4,096 x 6,144 / 2 =
    # 201 MB of combine copies per layer and micro-batch: 7 layers x ~9 micro-batches in flight interleaved is
    # ~12 GiB more, past the fill's 5% margin on 80 GiB, so the fill takes the non-interleaved schedule; the folded
    # layout (tp 4, expert TP 1, half the tokens per rank) keeps interleaving
    specs, est = measured_estimate(_row("pf25-t3-mixtral-g8t8-128-mcore"))
    assert est.plan.vpp == 1
    assert est.memory.total_bytes <= 0.95 * est.memory.capacity_bytes
    interleaved = specs.plan.model_copy(update={"vpp": 7, "recompute": "none"})
    est7 = resolve(interleaved, specs.workload, specs.system, specs.software, specs.system.gpus, fill_rule.measured)
    assert est7.memory.total_bytes > 0.95 * est7.memory.capacity_bytes
    _, folded = measured_estimate(_row("pf25-t3-mixtral-g8t8-128-fold"))
    assert folded.plan.vpp > 1
