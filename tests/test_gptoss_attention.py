"""GPT-OSS attention on Blackwell against NVIDIA's own GPT-OSS attention benchmark (issue 15): the step model's
rate for the 128-token window layers at head dim 64, relative to its causal head-dim-128 reference on the same card,
against cuDNN's measured ratio. Evidence that attention is not what leaves GPT-OSS +14..+53% too fast there
(scripts/gptoss_breakdown.py)."""

from __future__ import annotations

import pytest

from supercluster import catalog
from supercluster.perf.attention_span import span_speed, tile_overheads
from supercluster.perf.layer import attention_dim_factor

# NVIDIA/cudnn-frontend benchmark/sdpa_benchmark_training, cuDNN 9.26 (backend 92600), BF16, "top_left" causal,
# batch 2, TFLOP/s of the kernels' useful FLOPs, forward / backward (not deterministic):
# results/gpt_oss/gb200/gpt_oss_20260724_040709.csv, GPT-OSS shape, head dim 64, sliding_window_size 128,
# sequence 4096: "cudnn,bfloat16,...,4096,4096,128,128,64,64,fwd,False,0.209,162.000" and "...bwd,False,0.461,184.000";
# results/llama3.1/gb200/llama3.1_20260724_040930.csv, head dim 128, sequence 4096 (mean causal span 2,048 keys, the
# catalog's reference span): "...,4096,4096,64,8,128,128,fwd,False,0.391,1407.000" and "...bwd,False,1.173,1172.000".
WINDOW_D64 = (162.0, 184.0)
CAUSAL_D128_REF = (1407.0, 1172.0)


def model_window_ratio(card: str) -> tuple[float, float]:
    """The model's (forward, backward) rate of a GPT-OSS window layer over its rate at the reference span and head
    dim 128 on ``card``: the head-dim factor times the span factors (perf.layer.attention_dim_factor,
    perf.attention_span.span_speed) of a model whose every layer is windowed."""
    acc = catalog.accelerator(card)
    eff = acc.efficiency
    model = catalog.model("gpt-oss-120b").model_copy(update={"sliding_window_fraction": 1.0})
    n0 = tile_overheads(eff.attention_fwd_tile_overhead_keys, eff.attention_bwd_tile_overhead_keys)
    sp = span_speed(model, 4096, 1, eff.attention_reference_span, n0, ring=False)
    dim = attention_dim_factor(model.qk_dim)
    return dim * sp.fwd, dim * sp.bwd


def test_gb200_window_layers_priced_near_cudnn() -> None:
    fwd, bwd = model_window_ratio("gb200")
    meas_f = WINDOW_D64[0] / CAUSAL_D128_REF[0]  # 0.1151
    meas_b = WINDOW_D64[1] / CAUSAL_D128_REF[1]  # 0.1570
    # hand arithmetic: window span 2 x 128 x (1 - 127 / 8192) = 252.0, kernel span 126.0 keys; forward
    # 126 / (126 + 629) = 0.1669 over 2048 / (2048 + 629) = 0.7650 -> 0.2182; backward 126 / 921 = 0.1368 over
    # 2048 / 2843 = 0.7204 -> 0.1899; times the head-dim-64 factor 408 / 609 = 0.670
    assert fwd == pytest.approx(0.670 * 0.2182, rel=0.01)
    assert bwd == pytest.approx(0.670 * 0.1899, rel=0.01)
    assert fwd / meas_f == pytest.approx(1.27, abs=0.03)  # the model's window forward about 27% too fast
    assert bwd / meas_b == pytest.approx(0.81, abs=0.03)  # its backward about 19% too slow
    # a forward plus a backward (2.5x the forward's FLOPs): time per unit of work, model over cuDNN
    model_time = 1.0 / fwd + 2.5 / bwd
    meas_time = 1.0 / meas_f + 2.5 / meas_b
    assert model_time / meas_time == pytest.approx(1.08, abs=0.03)  # the model 8% slower, not faster


def test_breakdown_parts_add_up() -> None:
    """scripts/gptoss_breakdown.py: the parts add up to the layer and the gap times micro-batches and layers is the
    measured step less the model's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import gptoss_breakdown

    from supercluster.validate.harness import read_rows

    _, rows = read_rows("all")
    row = next(r for r in gptoss_breakdown.gptoss_rows(rows) if r["id"] == "mb260401-b200-gpt-oss-120b-64-bf16")
    s = gptoss_breakdown.split(row)
    assert s is not None
    parts = s.dense_gemm_ms + s.expert_gemm_ms + s.attention_ms + s.elementwise_ms
    assert parts == pytest.approx(s.layer_ms, rel=1e-9)
    # 1280 x 4096 tokens over 64 GPUs at 13,568 tokens/s/GPU: 6.038 s per step; 5 micro-batches of 4 x 4096 per GPU
    assert s.measured_step_s == pytest.approx(1280 * 4096 / 64 / 13568, rel=1e-9)
    assert s.gap_per_layer_ms * 5 * 36 / 1e3 == pytest.approx(s.measured_step_s - s.model_step_s, rel=1e-9)
    assert s.expert_gemm_ms > s.dense_gemm_ms > 0
