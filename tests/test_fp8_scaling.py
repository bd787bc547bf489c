"""Per-tensor FP8 current scaling of the expert operands, one expert at a time (perf.fp8_scaling), by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.fixed_cost import KERNEL_GAP_S
from supercluster.perf.fp8_scaling import TINY_KERNEL_S, current_scaling_cost, current_scaling_s
from supercluster.specs import ResolvedPlan


def test_amax_bytes_and_kernels_by_hand() -> None:
    # Qwen3-30B-A3B on 8 GPUs (ep 8): 16 local experts, 32,768 routed rows (4,096 tokens x top-8), 2,048 per
    # expert (a multiple of 16: no padding), h = 2,048, expert width 768, gated (u = 2)
    c = current_scaling_cost("current", "fp8", 32768, 16, 2048, 768, 2, exact=True)
    # the amax pass reads each BF16 element once: forward FC1 and FC2 inputs, 2 B x 32,768 x (2,048 + 768)
    assert c.amax_fwd_bytes == 2 * 32768 * (2048 + 768) == 184_549_376
    # backward: the FC2 and FC1 output gradients, 2 B x 32,768 x (2,048 + 2 x 768)
    assert c.amax_bwd_bytes == 2 * 32768 * (2048 + 2 * 768) == 234_881_024
    # zero the amax, amax, scale and cast for each of 16 experts instead of one fused cast: 4 x 16 - 1 = 63 more
    # per operand, two operands each way
    assert c.extra_kernels_fwd == c.extra_kernels_bwd == 2 * 63 == 126
    # two of each expert's four are one-thread kernels (zero_amax_kernel, compute_scale_from_amax_kernel)
    assert c.tiny_kernels_fwd == c.tiny_kernels_bwd == 2 * 2 * 16 == 64


def test_unaligned_rows_are_padded_as_the_cast() -> None:
    # 100 rows per expert pad to 112 (FP8's 16-row alignment): the amax pass reads the padded rows
    c = current_scaling_cost("current", "fp8", 200, 2, 1024, 512, 1, exact=True)
    assert c.amax_fwd_bytes == 2 * (2 * 112) * (1024 + 512)
    assert c.extra_kernels_fwd == 2 * (4 * 2 - 1)
    assert c.tiny_kernels_fwd == 2 * 2 * 2


def test_nothing_under_delayed_scaling_bf16_or_mxfp8() -> None:
    zero = (0.0,) * 6
    for scaling, precision in (("delayed", "fp8"), ("current", "bf16"), ("current", "mxfp8")):
        c = current_scaling_cost(scaling, precision, 32768, 16, 2048, 768, 2, exact=True)
        got = (c.amax_fwd_bytes, c.amax_bwd_bytes, c.extra_kernels_fwd, c.extra_kernels_bwd)
        assert (*got, c.tiny_kernels_fwd, c.tiny_kernels_bwd) == zero
    with pytest.raises(SuperclusterError, match="valid: delayed, current"):
        current_scaling_cost("just-in-time", "fp8", 100, 1, 64, 64, 1, exact=True)


def test_seconds_are_bytes_at_the_routing_rate_plus_launch_gaps_and_tiny_kernels() -> None:
    acc = catalog.accelerator("h100-sxm-80gb")
    fwd, bwd = current_scaling_s("current", "fp8", 32768, 16, 2048, 768, 2, True, acc)
    # H100: 3.35 TB/s at min(card's memory-bound fraction, 0.75) (perf.moe_kernels.routing_s); 126 x 0.9 us of
    # launch gaps and 64 one-thread kernels of 1.309 - 0.385 = 0.924 us each
    rate = acc.hbm_tb_per_s * 1e12 * min(acc.efficiency.hbm_fraction, 0.75)
    assert fwd == pytest.approx(184_549_376 / rate + 126 * 0.9e-6 + 64 * 0.924e-6)
    assert bwd == pytest.approx(234_881_024 / rate + 126 * KERNEL_GAP_S + 64 * TINY_KERNEL_S)
    # 5.45 us per expert and operand besides the bytes: 4 x 0.9 + 2 x 0.924 (one kernel fewer per operand: the
    # fused cast the delayed path runs anyway)
    per_operand = (fwd - 184_549_376 / rate + KERNEL_GAP_S * 2) / (2 * 16)
    assert per_operand == pytest.approx(4 * 0.9e-6 + 2 * 0.924e-6)
    # about 0.2 ms forward: a few percent of such a layer, more the more experts a GPU holds
    assert 1.5e-4 < fwd < 3.0e-4


def test_tiny_kernel_time_is_the_h200_measurement() -> None:
    # calibration/h200-sxm-141gb-2026-11-30.moe-check.json, calibrate.overheads.device_gaps: per-kernel time of 200
    # no-work kernels replayed from a CUDA graph, less the graph's launch gap between kernels
    path = Path(__file__).resolve().parents[1] / "calibration" / "h200-sxm-141gb-2026-11-30.moe-check.json"
    over = json.loads(path.read_text())["overheads"]
    measured = over["tiny_graph_kernel_s"] - over["graph_gap_s_median"]
    assert abs(TINY_KERNEL_S / measured - 1.0) < 0.01
    # and the stream gap it sits beside is the 0.9 us of the CUDA Graphs blog within the H200's 0.99 us
    assert abs(KERNEL_GAP_S / over["stream_gap_s_median"] - 1.0) < 0.15


def test_recipes_of_the_stacks() -> None:
    assert catalog.software("megatron-bridge-2025").fp8_scaling == "current"
    # the Bridge variants inherit it
    assert catalog.software("megatron-bridge-droppad-2025").fp8_scaling == "current"
    assert catalog.software("megatron-bridge-deepep-2025").fp8_scaling == "current"
    # TE 2.0-2.2's GroupedLinear refused current scaling: the 2024-25 NeMo / Megatron-Core MoE runs are delayed
    assert catalog.software("nemo-2024").fp8_scaling == "delayed"
    assert catalog.software("megatron-core-2024").fp8_scaling == "delayed"


def test_layer_pays_it_on_moe_layers_only() -> None:
    from supercluster.perf.comm import CollectiveModel
    from supercluster.perf.layer import layer_cost

    model = catalog.model("qwen3-30b-a3b")
    system = catalog.system("dgx-h100-superpod", gpus=16)
    comm, acc = CollectiveModel(system), system.accelerator
    bridge = catalog.software("megatron-bridge-2025")
    delayed = bridge.model_copy(update={"fp8_scaling": "delayed"})

    def added(ep: int, moe: bool = True) -> float:
        plan = ResolvedPlan.single(ep=ep, dp=16, zero=1, precision="fp8")
        cs = layer_cost(model, plan, 4096, acc, bridge, comm, moe=moe)
        ds = layer_cost(model, plan, 4096, acc, delayed, comm, moe=moe)
        return (cs.fwd_elem_s + cs.bwd_elem_s) - (ds.fwd_elem_s + ds.bwd_elem_s)

    # ep 16: 8 local experts; ep 8: 16 of them, twice the per-expert kernels on the same rows
    assert added(16) > 0.0
    assert added(8) > added(16)
    # no expert, no per-expert quantization
    assert added(8, moe=False) == 0.0
