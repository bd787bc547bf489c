"""Transformer Engine's row padding of FP8 grouped experts, priced as its copies (perf.fp8_pad), by hand."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import moe_kernels
from supercluster.perf.fp8_pad import pad_copy_bytes, pads
from supercluster.specs import ResolvedPlan


def test_always_copies_even_aligned_rows() -> None:
    # Grok-1 shape, one local expert of 8,192 rows (already a multiple of 16), h = 6,144: TE 1.11-2.2 still pads
    # (read R h, write P h) and unpads (read P h, write R h), 2 B each: 4 (R + P) h = 4 x 16,384 x 6,144 B
    fwd, bwd = pad_copy_bytes("always", "fp8", 8192, 1, 6144, exact=True)
    assert fwd == 4 * (8192 + 8192) * 6144 == 402_653_184
    assert bwd == fwd
    # TE 2.3's early return: aligned groups are passed through untouched
    assert pad_copy_bytes("unaligned", "fp8", 8192, 1, 6144, exact=True) == (0.0, 0.0)


def test_unaligned_groups_pad_to_16_or_32() -> None:
    # exact counts of 100 rows: padded to 112 (FP8, 16-row alignment) or 128 (MXFP8, 32 rows); two experts
    fwd, _ = pad_copy_bytes("unaligned", "fp8", 200, 2, 1024, exact=True)
    assert fwd == 4 * (200 + 2 * 112) * 1024
    fwd, _ = pad_copy_bytes("unaligned", "mxfp8", 200, 2, 1024, exact=True)
    assert fwd == 4 * (200 + 2 * 128) * 1024
    # dropless counts scatter around the mean of 250: the last 16-row block half full on average,
    # 16 x (250 / 16 + 1/2) = 258 rows per expert, and the copies run whatever TE does with aligned groups
    fwd, _ = pad_copy_bytes("unaligned", "fp8", 1000, 4, 4096, exact=False)
    assert fwd == pytest.approx(4 * (1000 + 4 * 258) * 4096)
    assert pads("unaligned", "fp8", 256, exact=False)


def test_no_copies_in_bf16_or_without_padding() -> None:
    assert pad_copy_bytes("always", "bf16", 8192, 1, 6144, exact=True) == (0.0, 0.0)
    assert pad_copy_bytes("none", "fp8", 1000, 4, 4096, exact=False) == (0.0, 0.0)
    with pytest.raises(SuperclusterError, match="valid: none, unaligned, always"):
        pads("sometimes", "fp8", 100, exact=True)


def test_stacks_before_te_2_3_pay_the_copies() -> None:
    assert catalog.software("nemo-2024").fp8_pad_copies == "always"
    assert catalog.software("megatron-core-2024").fp8_pad_copies == "always"
    assert catalog.software("nemo-2024-sequential").expert_gemm == "loop"


def test_layer_charges_the_padding_copies() -> None:
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("qwen3-30b-a3b")  # h = 2,048, 128 experts of 768, top-8
    system = catalog.system("dgx-h100-superpod", gpus=8)
    comm, acc = CollectiveModel(system), system.accelerator
    plan = ResolvedPlan.single(ep=8, dp=8, zero=1, precision="fp8")
    mcore = catalog.software("megatron-core-2024")
    on = layer_cost(model, plan, 4096, acc, mcore, comm, moe=True)
    off = layer_cost(model, plan, 4096, acc, mcore.model_copy(update={"fp8_pad_copies": "none"}), comm, moe=True)
    # R = k T = 32,768 routed copies over 16 local experts (2,048 each, dropless: 16 (2,048/16 + 1/2) = 2,056
    # rows after padding), h = 2,048: 4 (R + P) h = 4 x (32,768 + 32,896) x 2,048 = 538 MB each way; the busiest
    # rank's load (perf.imbalance) adds under 2%; streamed at 0.75 of the H100's 3.35 TB/s
    rate = acc.hbm_tb_per_s * 1e12 * moe_kernels.ROUTING_HBM_FRACTION
    expected = 4 * (32768 + 16 * 2056) * 2048
    assert (on.fwd_elem_s - off.fwd_elem_s) * rate == pytest.approx(expected, rel=0.02)
    assert (on.bwd_elem_s - off.bwd_elem_s) * rate == pytest.approx(expected, rel=0.02)
    bf16 = ResolvedPlan.single(ep=8, dp=8, zero=1, precision="bf16")
    assert layer_cost(model, bf16, 4096, acc, mcore, comm, moe=True).fwd_elem_s == pytest.approx(
        layer_cost(
            model, bf16, 4096, acc, mcore.model_copy(update={"fp8_pad_copies": "none"}), comm, moe=True
        ).fwd_elem_s
    )


def test_aligned_counts_within_float_rounding_are_aligned() -> None:
    # R / G computed in floats can land a hair below a multiple of 16 (128 x (1 - 1e-15) = 127.99999999999987):
    # perf.expert_gemm.padded_rows rounds it to 8 whole tiles (128 rows, no padding), so the copies must not run
    # either, on either side of the multiple; 100 rows are 6.25 tiles and still pad
    assert not pads("unaligned", "fp8", 128.0 * (1.0 - 1e-15), exact=True)
    assert not pads("unaligned", "fp8", 128.0 * (1.0 + 1e-15), exact=True)
    assert not pads("unaligned", "mxfp8", 96.0, exact=True)
    assert pads("unaligned", "fp8", 100.0, exact=True)
    assert pads("unaligned", "mxfp8", 112.0, exact=True)  # a multiple of 16 but not of 32
