"""Profiles measured on real accelerators (calibration/*.yaml, committed with their card and date)."""

from pathlib import Path

import pytest

from supercluster.calibrate.profile import accelerator_for, fit_efficiency, load
from supercluster.perf.gemm import gemm_time_s

PROFILES = sorted((Path(__file__).parent.parent / "calibration").glob("*-20??-??-??.yaml"))
H200 = Path(__file__).parent.parent / "calibration" / "h200-sxm-141gb-2026-11-30.yaml"


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_measured_profile_loads_and_refits(path):
    prof = load(path)
    assert prof.backend == "cuda" and prof.accelerator, "a committed profile names its catalog card"
    assert path.stem.startswith(prof.accelerator) and prof.date in path.stem
    again = fit_efficiency(
        prof.gemm,
        prof.attention,
        prof.bandwidth,
        prof.peak_tflops,
        prof.memory_tb_per_s,
        prof.efficiency,
        prof.efficiency.source,
        gemm_fp8=prof.gemm_fp8,
        peak_fp8_tflops=accelerator_for(prof).peak_tflops.get("fp8", 0.0),
    )
    # the stored table is the fit of the stored points
    assert again.gemm_tile_dim == prof.efficiency.gemm_tile_dim
    for prec, fraction in prof.efficiency.gemm_peak_fraction.items():
        assert again.gemm_peak_fraction[prec] == pytest.approx(fraction, rel=1e-9)
    assert again.attention_fwd_fraction == pytest.approx(prof.efficiency.attention_fwd_fraction, rel=1e-9)
    assert 0.5 < prof.efficiency.gemm_peak_fraction["bf16"] <= 1.0


def test_h200_expert_gemms_fall_below_the_dense_rate_and_the_model_follows():
    """Measured on an H200 (2026-11-30): 8 local experts' up-projection, one grouped GEMM (torch._grouped_mm).
    Below ~512 tokens per expert the rate falls roughly in proportion to the tokens (the weights are re-read for
    few rows), for every expert shape; the tile-penalty GEMM model must fall with it, within a factor of 2.5."""
    prof = load(H200)
    acc = accelerator_for(prof)
    grouped = [p for p in prof.expert_gemm if p.impl == "grouped"]
    assert len(grouped) >= 30
    for hidden, ffn in {(p.hidden, p.ffn) for p in grouped}:
        curve = sorted((p for p in grouped if (p.hidden, p.ffn) == (hidden, ffn)), key=lambda p: p.tokens_per_expert)
        dense = max(p.tflops for p in curve)
        assert curve[0].tokens_per_expert == 32 and curve[0].tflops < 0.2 * dense
        for p in curve:
            model_s = p.experts * gemm_time_s(p.tokens_per_expert, p.ffn, p.hidden, acc)
            assert 1 / 2.5 < model_s / p.seconds < 2.5, (hidden, ffn, p.tokens_per_expert, model_s / p.seconds)
        model_rate = [
            2
            * p.experts
            * p.tokens_per_expert
            * p.hidden
            * p.ffn
            / (p.experts * gemm_time_s(p.tokens_per_expert, p.ffn, p.hidden, acc))
            for p in curve
        ]
        assert model_rate[0] < 0.2 * max(model_rate)


def test_h200_eager_and_compiled_llama_steps_match_the_elementwise_model():
    """Measured on the H200 (2026-11-30, scripts/device_compile_check.sh): a Llama-style decoder eager and under
    torch.compile, at two sizes. The step model, from the card's profile and elementwise_fused false/true, must put
    each step within 10% and the compile speedup within 10% (measured 1.30x and 1.15x)."""
    import json

    data = json.loads((H200.parent / "h200-sxm-141gb-2026-11-30.compile-pair.json").read_text())
    assert len(data["llama_pairs"]) == 2
    for pair in data["llama_pairs"]:
        assert pair["predicted_eager_s"] == pytest.approx(pair["measured_eager_s"], rel=0.10)
        assert pair["predicted_fused_s"] == pytest.approx(pair["measured_compiled_s"], rel=0.10)
        assert pair["predicted_compile_speedup"] == pytest.approx(pair["measured_compile_speedup"], rel=0.10)
        assert pair["predicted_compile_speedup"] > 1.05


def test_h200_attention_curve_is_what_long_context_pricing_must_reach():
    """Measured on the H200 (2026-11-30, scripts/device_attention_check.sh): causal attention, 32 heads of 128.
    cuDNN's kernel reaches about 0.55-0.66 of the BF16 peak from 16K tokens on, twice PyTorch's flash (FA2)
    backend; short sequences run far below (the per-tile work does not fill the GPU). Recorded for the
    long-context MoE rows, which the step model prices too slow."""
    import json

    rows = json.loads((H200.parent / "h200-sxm-141gb-2026-11-30.attention-curve.json").read_text())["rows"]
    peak = 989.4
    by = {(r["backend"], r["seq"]): r for r in rows if "error" not in r}
    assert len(by) == 14
    for seq in (16384, 32768, 65536, 131072):
        assert 0.5 < by["cudnn", seq]["fwd_tflops"] / peak < 0.7
        assert by["cudnn", seq]["fwd_tflops"] > 1.5 * by["flash", seq]["fwd_tflops"]
    assert by["cudnn", 2048]["fwd_tflops"] < 0.6 * by["cudnn", 16384]["fwd_tflops"]
