"""FP8 quantization in kernels of its own (Transformer Engine) or fused by XLA (perf.fp8_casts), by hand."""

from __future__ import annotations

import csv

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.fp8_casts import separate_casts
from supercluster.perf.gemm import gemm_time_s, linear_gemms_s
from supercluster.specs import ResolvedPlan
from supercluster.validate.harness import dataset_csv


def test_only_fused_fp8_skips_the_overhead() -> None:
    assert separate_casts("kernels", "fp8")
    assert not separate_casts("fused", "fp8")
    # BF16 has no overhead to skip; MXFP8 and NVFP4 have no XLA-native path in these stacks: they keep theirs
    for precision in ("bf16", "mxfp8", "nvfp4"):
        assert separate_casts("fused", precision)
    with pytest.raises(SuperclusterError, match="valid: kernels, fused"):
        separate_casts("compiled", "fp8")


def test_fused_fp8_gemm_by_hand() -> None:
    acc = catalog.accelerator("h100-sxm-80gb")
    eff = acc.efficiency
    # Llama 3 70B gate+up projection at 16,384 tokens per GPU: m 16,384, n 2 x 28,672, k 8,192 (compute-bound)
    m, n, k = 16384.0, 57344.0, 8192.0
    # 2 m n k / (1,978.9 TFLOP/s x 0.63) x (1 + 192/m + 192/n + 192/k), and x 1.10 with the separate casts
    tile = 1.0 + 192.0 / m + 192.0 / n + 192.0 / k
    fused = 2.0 * m * n * k / (1978.9e12 * 0.63) * tile
    assert (eff.gemm_peak_fraction["fp8"], eff.gemm_tile_dim, eff.fp8_overhead_fraction) == (0.63, 192, 0.10)
    assert gemm_time_s(m, n, k, acc, "fp8", casts=False) == pytest.approx(fused, rel=1e-12)
    assert gemm_time_s(m, n, k, acc, "fp8") == pytest.approx(fused * 1.10, rel=1e-12)
    # 15,393 GFLOP at 1,246.8 TFLOP/s is 12.346 ms; x 1.0385 (tile factor) = 12.82 ms, 14.10 ms with the casts
    assert fused == pytest.approx(12.82e-3, rel=1e-3)
    # BF16 ignores the flag
    assert gemm_time_s(m, n, k, acc, "bf16", casts=False) == gemm_time_s(m, n, k, acc, "bf16")
    # the three GEMMs of a linear layer all follow it
    pairs = zip(linear_gemms_s(m, n, k, acc, "fp8"), linear_gemms_s(m, n, k, acc, "fp8", False), strict=True)
    for with_casts, without in pairs:
        assert with_casts == pytest.approx(without * 1.10, rel=1e-12)


def test_stacks() -> None:
    # MaxText quantization=fp8 is Flax's Fp8DotGeneralOp (XLA native); PaxML ENABLE_TE=1 runs Transformer Engine
    assert catalog.software("jax-fsdp-2024").fp8_casts == "fused"
    te = catalog.software("jax-fsdp-te-2024")
    assert te.fp8_casts == "kernels"
    # otherwise the same stack
    blank = {"id": "", "name": "", "source": ""}
    assert te.model_copy(update={**blank, "fp8_casts": "fused"}) == catalog.software("jax-fsdp-2024").model_copy(
        update=blank
    )
    for name in ("nemo-2024", "megatron-core-2024", "fsdp-2024", "megatron-bridge-2025"):
        assert catalog.software(name).fp8_casts == "kernels"


def test_layer_fp8_gemms_lose_the_overhead_only() -> None:
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("llama3-70b")
    system = catalog.system("dgx-h100-superpod", gpus=128)
    comm, acc = CollectiveModel(system), system.accelerator
    fused = catalog.software("jax-fsdp-2024")
    kernels = catalog.software("jax-fsdp-te-2024")

    def cost(sw: object, precision: str) -> object:
        plan = ResolvedPlan.single(dp=128, zero=3, micro_batch=2, precision=precision)
        return layer_cost(model, plan, 8192, acc, sw, comm, moe=False)

    f8, k8 = cost(fused, "fp8"), cost(kernels, "fp8")
    # every dense linear is compute-bound at 16,384 tokens: its time scales by 1 / 1.10
    assert f8.fwd_gemm_s == pytest.approx(k8.fwd_gemm_s / 1.10, rel=1e-9)
    assert f8.bwd_gemm_s == pytest.approx(k8.bwd_gemm_s / 1.10, rel=1e-9)
    # attention (BF16 cuDNN either way) and the element-wise work do not move
    assert (f8.fwd_attn_s, f8.bwd_attn_s, f8.fwd_elem_s) == (k8.fwd_attn_s, k8.bwd_attn_s, k8.fwd_elem_s)
    # BF16 layers are the same on both
    assert cost(fused, "bf16") == cost(kernels, "bf16")


def test_pax_te_rows_use_the_kernels_profile() -> None:
    # the PaxML rows' recipe sets ENABLE_TE=1 (dgxc-benchmarking paxml/configure.sh): not XLA's native FP8
    with dataset_csv("vendor").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"].startswith("dgxc-pax2403-")]
    assert len(rows) == 5
    assert {r["software"] for r in rows} == {"jax-fsdp-te-2024"}
    with dataset_csv("fsdp").open(newline="") as fh:
        maxtext = [r for r in csv.DictReader(fh) if r["id"].startswith("dgxc-maxtext-")]
    assert len(maxtext) == 22
    assert {r["software"] for r in maxtext} == {"jax-fsdp-2024"}
