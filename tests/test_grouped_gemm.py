"""Expert GEMMs by shape (perf.expert_gemm): the rate of a MoE layer's expert GEMMs against the dense rate, per
implementation, checked on published microbenchmarks (DeepGEMM's README tables, H800 FP8) and on the grouped-GEMM
points measured on an H200 (calibration/h200-sxm-141gb-2026-11-30.yaml)."""

import itertools
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from supercluster import catalog
from supercluster.calibrate.profile import accelerator_for, load
from supercluster.perf import expert_gemm as eg
from supercluster.perf.expert_gemm import (
    DEEPGEMM_ALIGN_ROWS,
    LOOP_LAUNCH_S,
    OVERLAP_P,
    dense_rate_fraction,
    expert_linear_gemms_s,
    grouped_gemm_s,
    padded_rows,
)
from supercluster.perf.gemm import OPERAND_BYTES, _constants, linear_gemms_s
from supercluster.specs import SoftwareProfile

H200 = Path(__file__).parent.parent / "calibration" / "h200-sxm-141gb-2026-11-30.yaml"

# DeepGEMM README @55ab91f (github.com/deepseek-ai/DeepGEMM), H800 SXM5, FP8 with fine-grained scaling, BF16 out.
# "Grouped GEMMs for MoE models (masked layout)": (groups, m per group, N, K, TFLOPS); 1,024 rows in every row.
DEEPGEMM_MASKED = (
    ((1, 1024, 4096, 7168, 1233), (2, 512, 4096, 7168, 1040), (4, 256, 4096, 7168, 932)),
    ((1, 1024, 7168, 2048, 925), (2, 512, 7168, 2048, 916), (4, 256, 7168, 2048, 815)),
)
# "Grouped GEMMs for MoE models (contiguous layout)": the same expert at 4 x 8192 and 8 x 4096 rows.
DEEPGEMM_CONTIGUOUS = (
    ((4, 8192, 4096, 7168, 1346), (8, 4096, 4096, 7168, 1346)),
    ((4, 8192, 7168, 2048, 1214), (8, 4096, 7168, 2048, 1214)),
)


def _tflops(groups, rows, n, k, seconds):
    return 2.0 * groups * rows * n * k / seconds / 1e12


def _card_at_dense_rate(acc, rows, n, k, tflops):
    """The card with its FP8 GEMM fraction set so that the model's one-group GEMM of ``rows`` runs at ``tflops`` (the
    dense rate DeepGEMM measured): solve (t_c^p + t_m^p)^(1/p) = t for t_c, then the fraction for t_c."""
    prec, _, d0, overhead, hbm = _constants(acc, "fp8")
    t = 2.0 * rows * n * k / (tflops * 1e12)
    t_m = (OPERAND_BYTES[prec] * (rows * k + k * n) + 2.0 * rows * n) / hbm
    t_c = (t**OVERLAP_P - t_m**OVERLAP_P) ** (1.0 / OVERLAP_P)
    sustained = 2.0 * rows * n * k / t_c * (1 + d0 / rows + d0 / n + d0 / k) * overhead
    fractions = {**acc.efficiency.gemm_peak_fraction, "fp8": sustained / acc.peak_flops("fp8")}
    eff = acc.efficiency.model_copy(update={"gemm_peak_fraction": fractions})
    return acc.model_copy(update={"efficiency": eff})


@pytest.mark.parametrize("curve", DEEPGEMM_MASKED, ids=["4096x7168", "7168x2048"])
def test_deepgemm_masked_curve_falls_below_the_dense_rate_as_the_model_does(curve):
    """The published curve: 1,024 rows split over 1, 2 and 4 experts. Each expert's weights are read once, so
    fewer rows per expert make the weights' stream a larger share and the rate falls (1233 -> 1040 -> 932 and
    925 -> 916 -> 815 TFLOP/s). From the one-group row (a dense GEMM: the card's rate as DeepGEMM ran it), the model
    must follow the 2- and 4-group rows within 12% and fall monotonically; the hard roofline could not."""
    acc = _card_at_dense_rate(catalog.accelerator("h800-sxm-80gb"), *curve[0][1:4], curve[0][4])
    rates = []
    for groups, rows, n, k, published in curve:
        fwd = expert_linear_gemms_s("deepgemm", groups, rows, n, k, acc, "fp8", exact=True)[0]
        rate = _tflops(groups, rows, n, k, fwd)
        assert rate == pytest.approx(published, rel=0.12), (groups, rows, rate, published)
        rates.append(rate)
    assert rates[0] > rates[1] > rates[2]
    assert rates[2] / rates[0] < 0.9  # published: 0.76 and 0.88
    # the hard roofline max(t_c, t_m) keeps the 4-group rate at the 1-group rate: 4 x 256 rows of 4096 x 7168 read
    # 4 x 29.4 MB of FP8 weights + 7.3 MB in + 8.4 MB out = 133 MB, 46.7 us at 3.35 TB/s x 0.85, below the 48.8 us
    # of math at the 1-group rate (2 x 1024 x 4096 x 7168 / 1233e12): max() stays 48.8 us
    _, _, _, _, hbm = _constants(acc, "fp8")
    if curve[0][2] == 4096:
        t_m = (4 * 256 * 7168 + 4 * 4096 * 7168 + 2.0 * 1024 * 4096) / hbm
        t_c = 2 * 1024 * 4096 * 7168 / 1233e12
        assert t_m == pytest.approx(46.7e-6, rel=0.01) and t_m < t_c == pytest.approx(48.8e-6, rel=0.01)


@pytest.mark.parametrize("pair", DEEPGEMM_CONTIGUOUS, ids=["4096x7168", "7168x2048"])
def test_deepgemm_contiguous_rows_in_the_thousands_run_at_the_dense_rate(pair):
    """Published: 4 x 8192 and 8 x 4096 rows run at the same rate (1346 and 1214 TFLOP/s). At thousands of rows per
    expert grouping costs nothing: the model keeps at least 97% of the dense rate for both, within 1% of each other."""
    acc = catalog.accelerator("h800-sxm-80gb")
    fractions = [dense_rate_fraction("deepgemm", g, rows, n, k, acc, "fp8") for g, rows, n, k, _ in pair]
    assert pair[0][4] == pair[1][4]
    assert min(fractions) >= 0.97 and max(fractions) <= 1.0
    assert fractions[0] == pytest.approx(fractions[1], rel=0.01)


def _fit_offset(pairs):
    """The timing loop's own cost per call (a host synchronisation, torch._grouped_mm's argument kernel): the one
    constant offset, least squares in log time, that the measurement adds to every point."""
    best = None
    for i in range(0, 121):
        c = i * 0.5e-6
        err = sum(math.log((model + c) / measured) ** 2 for model, measured in pairs)
        if best is None or err < best[0]:
            best = (err, c)
    return best[1]


def test_h200_grouped_points_follow_the_stacked_rows_and_the_weight_stream():
    """torch._grouped_mm measured on the H200 (8 experts, 32 to 8,192 tokens each, four expert shapes), against the
    model on the card's own calibrated dense constants: the grouped mechanism (stacked padded rows, every expert's
    weights streamed) tracks the 36 points within 15% MAPE; pricing each expert as its own dense GEMM (the per-expert
    path) misses them by more than 30%. A different card, kernel and precision from the DeepGEMM fit."""
    prof = load(H200)
    acc = accelerator_for(prof)
    points = [p for p in prof.expert_gemm if p.impl == "grouped"]
    assert len(points) == 36

    def mape(impl):
        model = [
            expert_linear_gemms_s(impl, p.experts, p.tokens_per_expert, p.ffn, p.hidden, acc, "bf16", True)[0]
            for p in points
        ]
        c = _fit_offset(list(zip(model, (p.seconds for p in points), strict=True)))
        assert 0 <= c < 40e-6
        return sum(abs((m + c) / p.seconds - 1) for m, p in zip(model, points, strict=True)) / len(points)

    assert mape("grouped") < 0.15
    assert mape("multistream") > 0.30


def test_h200_loop_is_paced_by_the_host_below_a_few_thousand_tokens():
    """The per-expert loop on the H200: 8 GEMMs take 115-124 us for the (2048, 768) expert from 32 to 2,048 tokens
    (flat: the host issues them; LOOP_LAUNCH_S = 118 / 8 us). Held out: the (2880, 2880) expert at 64-256 tokens,
    128-132 us measured; 8 x 14.8 = 118.4 us is within 12%."""
    prof = load(H200)
    loop = [p for p in prof.expert_gemm if p.impl == "loop"]
    small = [p for p in loop if (p.hidden, p.ffn) == (2048, 768) and p.tokens_per_expert <= 2048]
    assert len(small) == 7 and max(p.seconds for p in small) / min(p.seconds for p in small) < 1.1
    held = [p for p in loop if (p.hidden, p.ffn) == (2880, 2880) and 64 <= p.tokens_per_expert <= 256]
    assert len(held) == 3
    for p in held:
        assert p.experts * LOOP_LAUNCH_S == pytest.approx(p.seconds, rel=0.12)
    # the model's loop never runs an expert GEMM faster than the host issues it
    acc = catalog.accelerator("h100-sxm-80gb")
    fwd = expert_linear_gemms_s("loop", 8, 32, 768, 2048, acc, "bf16", True)[0]
    assert fwd == pytest.approx(8 * LOOP_LAUNCH_S)


@pytest.mark.parametrize("impl", eg.EXPERT_GEMMS)
@pytest.mark.parametrize("precision", ["bf16", "fp8"])
def test_expert_rate_falls_monotonically_below_the_dense_rate(impl, precision):
    """DeepSeek-V3's expert (hidden 7168, expert width 2048, gated up-projection 4096 wide), 8 local experts on an
    H100: as the tokens per expert shrink from 8,192 to 32 the expert GEMM's rate falls steadily below the dense rate
    of one GEMM of all the rows, to under half of it."""
    acc = catalog.accelerator("h100-sxm-80gb")
    tokens = [8192, 4096, 2048, 1024, 512, 256, 128, 64, 32]
    fractions = [dense_rate_fraction(impl, 8, m, 4096, 7168, acc, precision) for m in tokens]
    assert fractions[0] > 0.95
    assert all(f <= 1.0 + 1e-12 for f in fractions)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(fractions)), fractions
    assert fractions[-1] < 0.5


def test_padded_rows_by_hand():
    assert padded_rows(300, 128, exact=True) == 384  # ceil(300 / 128) = 3 tiles
    assert padded_rows(256, 128, exact=True) == 256
    assert padded_rows(300, 128, exact=False) == pytest.approx(128 * (300 / 128 + 0.5))  # 364: half a tile lost
    assert padded_rows(40, 128, exact=False) == 128  # at least one tile
    assert padded_rows(0, 128, exact=True) == 0.0


def test_grouped_gemm_by_hand():
    """4 experts of 256 rows, 4096 x 7168, FP8 on an H100: the stacked 1,024 rows' math and the four experts'
    weights, combined by the soft roofline."""
    acc = catalog.accelerator("h100-sxm-80gb")
    _, peak, d0, overhead, hbm = _constants(acc, "fp8")
    t_c = 2 * 1024 * 4096 * 7168 / peak * (1 + d0 / 1024 + d0 / 4096 + d0 / 7168) * overhead
    t_m = (1.0 * 4 * (256 * 7168 + 7168 * 4096) + 2.0 * 1024 * 4096) / hbm
    expect = (t_c**OVERLAP_P + t_m**OVERLAP_P) ** (1 / OVERLAP_P)
    assert grouped_gemm_s(4, 256, 4096, 7168, acc, "fp8", DEEPGEMM_ALIGN_ROWS) == pytest.approx(expect, rel=1e-12)
    assert expect > max(t_c, t_m)
    # the weight-gradient form: 4 outputs of 7168 x 4096 stacked, K loops of 256 rows
    t_cw = 2 * 4 * 7168 * 4096 * 256 / peak * (1 + d0 / (4 * 7168) + d0 / 4096 + d0 / 256) * overhead
    t_mw = (1.0 * 4 * 256 * (7168 + 4096) + 2.0 * 4 * 7168 * 4096) / hbm
    got = grouped_gemm_s(4, 256, 4096, 7168, acc, "fp8", DEEPGEMM_ALIGN_ROWS, grouped_k=True)
    assert got == pytest.approx((t_cw**OVERLAP_P + t_mw**OVERLAP_P) ** (1 / OVERLAP_P), rel=1e-12)


def test_multistream_prices_each_expert_at_its_own_shape():
    acc = catalog.accelerator("h100-sxm-80gb")
    one = linear_gemms_s(512, 1536, 4096, acc, "bf16")
    total = expert_linear_gemms_s("multistream", 16, 512, 1536, 4096, acc, "bf16", exact=False)
    assert total == pytest.approx(tuple(16 * t for t in one), rel=1e-12)


def test_catalog_stacks_name_their_expert_kernels():
    assert catalog.software("megatron-core-2024").expert_gemm == "multistream"
    assert catalog.software("megatron-bridge-2025").expert_gemm == "multistream"
    assert catalog.software("automodel-2025").expert_gemm == "multistream"
    assert catalog.software("deepseek-hai-2024").expert_gemm == "deepgemm"
    assert catalog.software("fsdp-2024").expert_gemm == "grouped"
    assert catalog.software("megatron-deepspeed-2022").expert_gemm == "loop"
    data = catalog.software("megatron-core-2024").model_dump()
    with pytest.raises(ValidationError):
        SoftwareProfile(**{**data, "expert_gemm": "cutlass"})


def test_layer_cost_follows_the_profile_kernel_for_a_fine_grained_moe():
    """Qwen3-30B-A3B (128 experts of width 768, top-8) without expert parallelism on one H100: 4,096 tokens route
    256 per expert. The per-expert Python loop is slowest, one grouped kernel fastest, and the model's FLOPs do not
    depend on the kernel."""
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost
    from supercluster.specs import ResolvedPlan

    model = catalog.model("qwen3-30b-a3b")
    system = catalog.system("dgx-h100-superpod")
    one = {"tp": 1, "pp": 1, "vpp": 1, "cp": 1, "ep": 1, "dp": 1, "zero": 0, "micro_batch": 1}
    plan = ResolvedPlan(**one, sequence_parallel=False, recompute="none", precision="bf16")
    base = catalog.software("megatron-core-2024")
    comm = CollectiveModel(system)
    costs = {}
    for impl in eg.EXPERT_GEMMS:
        sw = base.model_copy(update={"expert_gemm": impl})
        costs[impl] = layer_cost(model, plan, 4096, system.accelerator, sw, comm, True)
    assert costs["loop"].fwd_gemm_s > costs["multistream"].fwd_gemm_s > costs["grouped"].fwd_gemm_s
    assert len({c.model_flops for c in costs.values()}) == 1


# pytorch/ao torchao/prototype/moe_training/README.md, "Autograd function" tables (B200): bf16_fwd_bwd_us of one expert
# linear layer (forward, input and weight gradients) at total M 128,000 over G groups: (N, K): {G: microseconds}.
TORCHAO_B200_BF16 = {
    (8192, 5120): {1: 43140.2, 2: 39487.6, 4: 39189.2, 8: 37700.7},
    (2048, 7168): {1: 13064.8, 2: 14900.2, 4: 15823.6, 8: 14966.8},
}


def test_torch_grouped_mm_on_b200_runs_at_torchao_published_rate():
    """torch._grouped_mm in BF16 on a B200 (PyTorch PR #156203's SM100 GroupMM) ran 712-863 TFLOP/s in torchao's
    table; the model's grouped expert GEMM there is its SM100 ceiling and lands within 11% of every point, where the
    card's dense fraction alone priced 18-33% too fast. Hopper is untouched."""
    b200, h200 = catalog.accelerator("b200"), catalog.accelerator("h200-sxm-141gb")
    for (n, k), table in TORCHAO_B200_BF16.items():
        for groups, published_us in table.items():
            rows = 128_000 / groups
            priced = sum(expert_linear_gemms_s("grouped", groups, rows, n, k, b200, "bf16", True)) * 1e6
            assert abs(priced / published_us - 1) < 0.11, (n, k, groups, priced, published_us)
            floor = eg.sm100_grouped_floor_s("grouped", groups, rows, n, k, h200, "bf16")
            assert floor == 0.0
    assert eg.sm100_grouped_floor_s("multistream", 8, 16000, 2048, 7168, b200, "bf16") == 0.0


def test_sm100_grouped_ceiling_is_the_mean_of_the_published_points_and_stable_leaving_a_shape_out():
    """GROUPED_SM100_BF16_PEAK_FRACTION = mean published rate / BF16 peak (2,250 TFLOP/s on the B200); each shape's
    points alone give a fraction within 0.01 of it, and the other shape's points held out stay within 13%."""
    peak = catalog.accelerator("b200").peak_flops("bf16")

    def rates(shape):
        (n, k), table = shape, TORCHAO_B200_BF16[shape]
        return [3 * 2.0 * 128_000 * n * k / (us * 1e-6) for us in table.values()]

    everything = [r for s in TORCHAO_B200_BF16 for r in rates(s)]
    assert abs(sum(everything) / len(everything) / peak - eg.GROUPED_SM100_BF16_PEAK_FRACTION) < 0.001
    for held in TORCHAO_B200_BF16:
        kept = [r for s in TORCHAO_B200_BF16 if s != held for r in rates(s)]
        fraction = sum(kept) / len(kept) / peak
        assert abs(fraction - eg.GROUPED_SM100_BF16_PEAK_FRACTION) < 0.01
        assert all(abs(r / (fraction * peak) - 1) < 0.13 for r in rates(held))
