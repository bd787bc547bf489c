"""perf.te_unfused: Transformer Engine's UnfusedDotProductAttention, byte by byte (TE 2.2-2.5)."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf import attention_backend, layer, te_unfused
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.gemm import memory_bound_s
from supercluster.plan import resolve
from supercluster.validate import harness
from supercluster.validate.rows import row_specs


def test_byte_constants_by_hand():
    # get_full_mask: int32 arange difference (w4), swa_left and swa_right (r4 w4 each), two comparisons (r4 w1
    # each), two int64 torch.where (r1 w8 each), int64 difference (r16 w8), logical_not (r8 w1)
    assert te_unfused.MASK_BUILD_BYTES == 4 + 8 + 8 + 5 + 5 + 9 + 9 + 24 + 9 == 81
    # ScaledMaskedSoftmax: read score (2) + mask byte (1), write probability (2); backward r2 + r2, w2
    assert (te_unfused.FUSED_FWD_BYTES, te_unfused.FUSED_BWD_BYTES) == (5, 6)
    # fp32 torch path: float() 6, masked_fill_ 9, softmax 8, bfloat16() 6; backward 6 + 12 + 9 + 6
    assert (te_unfused.TORCH_FWD_BYTES, te_unfused.TORCH_BWD_BYTES) == (29, 33)


@pytest.mark.parametrize(("keys", "rows"), [(4096, 4), (16000, 4), (128, 8), (64, 8), (24, 8), (16, 16)])
def test_batch_per_block(keys, rows):
    # 128 threads; warp of min(next pow2, 32) lanes; 2 rows per warp up to 128 keys (TE get_batch_per_block)
    assert te_unfused.batch_per_block(keys) == rows


@pytest.mark.parametrize(
    ("batches", "queries", "keys", "fused"),
    [
        (64, 4096, 4096, True),  # DeepSeek-V3 at TP2 (64 heads), MBS1, 4K: the fused kernel runs
        (64, 8192, 8192, True),
        (64, 16384, 16384, False),  # sk must be < 16384
        (62, 4096, 4096, False),  # b x heads not a multiple of 4
        (64, 4100, 4100, False),  # sk not a multiple of 8
        (64, 2048, 4096, False),  # causal needs sq == sk (context parallel shards)
    ],
)
def test_fused_softmax_conditions(batches, queries, keys, fused):
    assert te_unfused.fused_softmax(batches, queries, keys) is fused


def test_deepseek_v3_tp2_bytes_by_hand():
    # 1 sequence x 64 heads x 4096 x 4096 = 1,073,741,824 scores; mask 4096^2 = 16,777,216 elements
    got = te_unfused.elementwise_bytes(1, 64, 4096, 4096, dropout=False)
    assert got.fused_softmax
    assert got.fwd_bytes == pytest.approx(1_073_741_824 * 5 + 16_777_216 * 81)  # 6.728e9 B
    assert got.bwd_bytes == pytest.approx(1_073_741_824 * 6)  # 6.442e9 B
    # at 16K keys the fp32 torch path runs, and the two masks are OR-ed (3 B per element)
    slow = te_unfused.elementwise_bytes(1, 64, 16384, 16384, dropout=True)
    scores, elems = 64 * 16384.0**2, 16384.0**2
    assert not slow.fused_softmax
    assert slow.fwd_bytes == pytest.approx(scores * (29 + 5) + elems * (81 + 3))
    assert slow.bwd_bytes == pytest.approx(scores * (33 + 5))


def test_applies_only_to_te_stacks_running_materialized():
    nemo = catalog.software("nemo-2024")
    assert not te_unfused.applies(nemo)  # flash by profile
    assert te_unfused.applies(nemo.model_copy(update={"attention_kernel": "materialized"}))
    assert not te_unfused.applies(catalog.software("megatron-deepspeed-2022"))  # its own fused softmax


def test_dgx_cloud_layer_attention_by_hand():
    """DGX Cloud DeepSeek-V3 BF16 on 128 GB200 (NeMo 25.04.01, TP2, MBS1, seq 4096): the layer's attention
    differs from the generic materialised pricing (4 B per score forward, 8 B backward) by exactly the counted
    bytes: forward + (5 - 4) x N + 81 x 4096^2, backward (6 - 8) x N, N = 64 x 4096^2, at the card's HBM rate."""
    _, rows = harness.read_rows("all")
    row = next(r for r in rows if r["id"] == "dgxcv2505-gb200-dsv3-bf16-128")
    specs = row_specs(row)
    model, system, sw = specs.model, specs.system, specs.software
    est = resolve(specs.plan, specs.workload, system, sw, system.gpus)
    acc = system.accelerator
    te_sw = attention_backend.effective(sw, acc, model)
    assert te_sw.attention_kernel == "materialized" and te_unfused.applies(te_sw)
    generic_sw = te_sw.model_copy(update={"cudnn_version": None})
    comm = CollectiveModel(system)
    te = layer.layer_parts(model, est.plan, 4096, acc, te_sw, comm, moe=False)
    generic = layer.layer_parts(model, est.plan, 4096, acc, generic_sw, comm, moe=False)
    n, elems = 64 * 4096.0**2, 4096.0**2
    # the generic pricing it is compared with: 4 B per score forward, twice that backward
    assert (layer.SOFTMAX_BYTES_PER_SCORE, layer.BWD_ELEMENTWISE_RATIO) == (4.0, 2.0)
    assert te.fwd_attn_s - generic.fwd_attn_s == pytest.approx(memory_bound_s(n * 1 + elems * 81, acc))
    assert te.bwd_attn_s - generic.bwd_attn_s == pytest.approx(memory_bound_s(-2 * n, acc))
    # GB200: 8 TB/s x 0.85; forward 0.989 ms of mask and softmax traffic against 0.632 ms before
    assert memory_bound_s(n * 5 + elems * 81, acc) == pytest.approx(6.7277e9 / 6.8e12, rel=1e-4)
