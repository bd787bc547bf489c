"""Low-precision training formats: FP8, MXFP8 and NVFP4 (issue 5, item 3)."""

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.comm import CollectiveModel
from supercluster.perf.gemm import NVFP4_BF16_LAYER_FRACTION, gemm_time_s
from supercluster.perf.layer import head_cost, layer_cost
from supercluster.perf.memory import SAVED_INPUT_BYTES, WEIGHT_BYTES
from supercluster.plan.fill import resolve
from supercluster.specs import PlanSpec, ResolvedPlan, WorkloadSpec


def test_block_scaled_formats_need_blackwell():
    h100, b200 = catalog.accelerator("h100-sxm-80gb"), catalog.accelerator("b200")
    assert h100.supports("fp8") and not h100.supports("mxfp8") and not h100.supports("nvfp4")
    assert b200.supports("mxfp8") and b200.supports("nvfp4")
    assert b200.peak_flops("mxfp8") == b200.peak_flops("fp8")
    assert b200.peak_flops("nvfp4") == 2 * b200.peak_flops("fp8")  # FP4 dense 9,000 vs FP8 4,500 TFLOP/s
    system = catalog.system("dgx-h100-superpod", gpus=8)
    wl = WorkloadSpec(model=catalog.model("llama3-8b"), seq_len=8192, global_batch=64)
    with pytest.raises(SuperclusterError, match=r"does not multiply in mxfp8.*valid precisions: bf16, fp8"):
        resolve(PlanSpec(precision="mxfp8"), wl, system, catalog.software(system.software), 8)


def test_large_gemm_rates_follow_the_tensor_core_rate_and_the_quantization_cost():
    acc = catalog.accelerator("b200")
    eff = acc.efficiency
    n = 16384.0
    t = {p: gemm_time_s(n, n, n, acc, p) for p in ("bf16", "fp8", "mxfp8", "nvfp4")}
    # same fraction of a doubled peak, minus each format's quantization overhead
    assert t["bf16"] / t["fp8"] == pytest.approx(
        2 * eff.gemm_peak_fraction["fp8"] / eff.gemm_peak_fraction["bf16"] / (1 + eff.fp8_overhead_fraction)
    )
    assert t["mxfp8"] / t["fp8"] == pytest.approx((1 + eff.mxfp8_overhead_fraction) / (1 + eff.fp8_overhead_fraction))
    assert t["fp8"] / t["nvfp4"] == pytest.approx(
        2 * (1 + eff.fp8_overhead_fraction) / (1 + eff.nvfp4_overhead_fraction)
    )


def test_nvfp4_keeps_a_sixth_of_the_linear_layers_and_the_head_in_bf16(monkeypatch):
    import supercluster.perf.layer as layer

    model = catalog.model("llama3-70b")
    system = catalog.system("dgx-b200-superpod", gpus=8)
    acc, comm, sw = system.accelerator, CollectiveModel(system), catalog.software("megatron-core-2024")

    def gemm_s(p: str) -> float:
        c = layer_cost(model, ResolvedPlan.single(tp=8, precision=p), 8192, acc, sw, comm, moe=False)
        return c.fwd_gemm_s + c.bwd_gemm_s

    bf16, mixed = gemm_s("bf16"), gemm_s("nvfp4")
    monkeypatch.setattr(layer, "NVFP4_BF16_LAYER_FRACTION", 0.0)
    pure = gemm_s("nvfp4")
    # 84% of the linear GEMMs at the NVFP4 rate, 16% at the BF16 rate (arXiv:2509.25149)
    assert mixed == pytest.approx((1 - NVFP4_BF16_LAYER_FRACTION) * pure + NVFP4_BF16_LAYER_FRACTION * bf16)
    assert pure < mixed < bf16
    monkeypatch.undo()
    attn = {
        p: layer_cost(model, ResolvedPlan.single(tp=8, precision=p), 8192, acc, sw, comm, moe=False).fwd_attn_s
        for p in ("bf16", "nvfp4")
    }
    assert attn["nvfp4"] == pytest.approx(attn["bf16"])  # attention stays in BF16
    heads = {
        p: head_cost(model, ResolvedPlan.single(tp=8, precision=p), 8192, acc, comm, sw)[0]
        for p in ("bf16", "fp8", "nvfp4")
    }
    assert heads["fp8"] == pytest.approx(heads["bf16"]) and heads["nvfp4"] == pytest.approx(heads["bf16"])


def test_quantized_copies_and_saved_inputs_change_memory():
    # FP8 keeps one transposed copy; MXFP8 a row-wise and a column-wise copy with 1/32 scales; NVFP4 one 2D-scaled
    # 4-bit copy of its quantized layers
    assert WEIGHT_BYTES["mxfp8"] > WEIGHT_BYTES["fp8"] > WEIGHT_BYTES["nvfp4"] > WEIGHT_BYTES["bf16"]
    assert WEIGHT_BYTES["mxfp8"] == pytest.approx(2 + 2 * 33 / 32)
    assert (
        SAVED_INPUT_BYTES["bf16"] > SAVED_INPUT_BYTES["nvfp4"] and SAVED_INPUT_BYTES["fp8"] < SAVED_INPUT_BYTES["mxfp8"]
    )


# Megatron-Bridge performance summary, 25.11 container: the same runs in FP8 current scaling and in MXFP8,
# tokens/s/GPU. The MXFP8 overhead is fitted on the B200 pairs (scripts/fit_efficiency.py); GB200 is held out.
MXFP8_PAIRS = [
    ("dgx-b200-superpod", 8, "llama3-8b", 64 * 2, dict(tp=1, pp=1, cp=1, micro_batch=2), 30624, 29521),
    ("dgx-b200-superpod", 128, "llama3-405b", 64, dict(tp=4, pp=8, cp=2, vpp=8, micro_batch=1), 661, 624),
    ("gb200-nvl72-cluster", 8, "llama3-8b", 64 * 2, dict(tp=1, pp=1, cp=1, micro_batch=2), 31508, 29789),
]


@pytest.mark.parametrize(("system_name", "gpus", "model", "batch", "layout", "fp8_cs", "fp8_mx"), MXFP8_PAIRS)
def test_mxfp8_costs_what_megatron_bridge_measured(system_name, gpus, model, batch, layout, fp8_cs, fp8_mx):
    system = catalog.system(system_name, gpus=gpus)
    sw = catalog.software(system.software)
    wl = WorkloadSpec(model=catalog.model(model), seq_len=8192, global_batch=batch)
    tput = {
        p: resolve(PlanSpec(precision=p, zero=1, **layout), wl, system, sw, gpus).tokens_per_s_per_gpu
        for p in ("fp8", "mxfp8")
    }
    assert tput["mxfp8"] / tput["fp8"] == pytest.approx(fp8_mx / fp8_cs, abs=0.025)


def test_fp8_param_gather_drops_the_bf16_weights():
    # Megatron-Bridge's FP8 recipes set fp8_param_gather: the weights live in FP8 (1 B, plus the transposed copy),
    # not as BF16 with an FP8 cache (2 + 1 B); MXFP8 keeps its row-wise and column-wise copies only
    from supercluster.perf.batch import Candidates, evaluate

    system = catalog.system("dgx-b200-superpod", gpus=128)
    wl = WorkloadSpec(model=catalog.model("llama3-405b"), seq_len=8192, global_batch=64)
    plans = [
        ResolvedPlan.single(tp=4, pp=8, cp=2, vpp=8, dp=2, zero=1, sequence_parallel=True, precision=p)
        for p in ("bf16", "fp8", "mxfp8")
    ]
    # both on one (uniform) pipeline split: the balanced split weighs each stack's own stage times, so the two
    # stacks could put different layer counts on the busiest stage and the weights would differ for that reason
    mcore, bridge = (
        catalog.software(name).model_copy(update={"pp_split": "uniform"})
        for name in ("megatron-core-2024", "megatron-bridge-2025")
    )
    a = evaluate(wl, system, mcore, Candidates.from_plans(plans)).weights_bytes
    b = evaluate(wl, system, bridge, Candidates.from_plans(plans)).weights_bytes
    assert b[0] == pytest.approx(a[0])  # BF16 runs are unaffected
    assert b[1] == pytest.approx(a[1] * 2.0 / 3.0)
    assert b[2] == pytest.approx(a[2] * (2 * 33 / 32) / (2 + 2 * 33 / 32))
