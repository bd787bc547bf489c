"""The FLOP count behind Megatron-MoE-ModelZoo's Qwen3-235B-A22B TFLOP/s figures (issue 15 evidence).

yanring/Megatron-MoE-ModelZoo best_practice/qwen3/readme.md (commit e865051), H100 table: each row prints
"Step time (sec)" and "Per GPU TF" side by side, GBS 2048, SEQ LEN 4096, 256 GPUs. Megatron-LM logs
TFLOP/s/GPU = num_floating_point_operations(args, GBS) / (step time x 1e12 x world size)
(megatron/training/training.py, training_log), so TF x GPUs x step / (GBS x seq) is the counter's FLOPs per token.
"""

import csv
from importlib import resources

import pytest

from supercluster import catalog
from supercluster.perf.conventions import flops_per_step, megatron_flops

# (Per GPU TF, Step time (sec)) of the H100 table's rows: cross-node EP32 DeepEP, the same +1f1b overlap,
# intra-node EP8 with Megatron-FSDP, EP8 A2A PP32, EP8 DeepEP TP4.
H100_PAIRS = ((245, 19.7), (276, 17.6), (276, 17.6), (200, 24.2), (167, 29.0))


def test_modelzoo_h100_pairs_read_the_causal_counter():
    """245 x 256 x 19.7 / (2048 x 4096) = 147.3 GFLOP per token; the five pairs give 147.3-148.3. The causal
    counter gives 148.0, the pre-2025 one (s/h, no halving) 167.0: 12 x 94 x 4096^2 = 1.8925e10 times
    (1 + 4/64 + 4096/8192) x 2 + 1536 x 8 x 1.5 / 4096 + 151936 / (2 x 94 x 4096) = 3.125 + 4.5 + 0.1973 = 7.8223
    -> 148.0e9; with 4096/4096 in place of 4096/8192, 8.8223 -> 167.0e9."""
    model = catalog.model("qwen3-235b-a22b")
    seq, gbs, gpus = 4096, 2048, 256
    causal = megatron_flops(model, 1, seq, causal=True) / seq
    full = megatron_flops(model, 1, seq) / seq
    assert causal == pytest.approx(148.0e9, rel=2e-3)
    assert full == pytest.approx(167.0e9, rel=2e-3)
    for tflops, step_s in H100_PAIRS:
        per_token = tflops * 1e12 * gpus * step_s / (gbs * seq)
        assert per_token == pytest.approx(causal, rel=0.01), (tflops, step_s)
        assert abs(per_token / full - 1.0) > 0.10, (tflops, step_s)


def test_long_context_row_step_time_by_hand():
    """H100 Long Context table, 131072 tokens, GBS 256, 32 nodes x 8 GPUs, "389 (forced balance)". Per token the
    causal counter is 1.8925e10 x [(1 + 4/64 + 131072/8192) x 2 + 4.5 + 0.1973] = 1.8925e10 x 38.822 = 734.7e9;
    the step it implies is 734.7e9 x 256 x 131072 / (389e12 x 256) = 247.5 s. Without the halving the count is
    1.8925e10 x 70.822 = 1,340.3e9 per token, 1.824x: the attention core's share of the count grows with the
    sequence (16K 1.370x, 32K 1.540x, 64K 1.701x), so the convention decides the long-context rows."""
    model = catalog.model("qwen3-235b-a22b")
    seq, gbs, gpus = 131072, 256, 256
    causal = flops_per_step("megatron_causal", model, gbs, seq, 0.0)
    full = flops_per_step("megatron", model, gbs, seq, 0.0)
    assert causal / (gbs * seq) == pytest.approx(734.7e9, rel=1e-3)
    assert full / (gbs * seq) == pytest.approx(1340.3e9, rel=1e-3)
    assert causal / (389e12 * gpus) == pytest.approx(247.5, rel=1e-3)
    ratios = [megatron_flops(model, 1, s) / megatron_flops(model, 1, s, causal=True) for s in (16384, 32768, 65536)]
    assert ratios == pytest.approx([1.370, 1.540, 1.701], abs=2e-3)


def test_modelzoo_tflops_rows_carry_the_causal_counter():
    """The ModelZoo's TFLOP/s rows were run on Megatron-LM code newer than the halving (commit 8873b55d6a,
    2025-03-06): the H100 long-context table's notes need TransformerEngine PR #2125 (merged 2025-09-17); the GB200
    4K and GB300 commands pass --cuda-graph-impl, first in megatron/training/arguments.py on 2025-10-14 (commit
    5769804591); the H100 pairs above read the halved count."""
    path = resources.files("supercluster.validate.data").joinpath("moe_runs.csv")
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"].startswith("zoo-qwen3") and r["metric"] == "tflops_per_gpu"]
    assert len(rows) == 12
    assert {r["flops_convention"] for r in rows} == {"megatron_causal"}
