"""The MoE ground truth and the fixed-cost measurements (calibrate.moe_groundtruth, calibrate.overheads), and the
H200 run of both committed on 2026-11-30 (calibration/h200-sxm-141gb-2026-11-30.moe-check.json)."""

import json
from pathlib import Path

import pytest

from supercluster.calibrate import moe_groundtruth, overheads
from supercluster.calibrate.profile import load
from supercluster.perf import autocast, fixed_cost

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "calibration" / "h200-sxm-141gb-2026-11-30.yaml"
CHECK = ROOT / "calibration" / "h200-sxm-141gb-2026-11-30.moe-check.json"
TINY = moe_groundtruth.MoeShape(
    layers=1, hidden=32, heads=4, kv_heads=2, head_dim=8, experts=4, topk=2, expert_ffn=16, vocab=64, seq=16
)


def test_padded_layout_by_hand():
    # copies routed to experts 2, 0, 2, 1 of 3: counts 1, 1, 2 -> groups of 16, 16 and the rest of a
    # ceil((4 + 3 x 16) / 16) x 16 = 64-row buffer; sorted copies (0, 1, 2, 2) land at rows 0, 16, 32, 33
    rows, ends, buffer_rows = moe_groundtruth.padded_layout(torch, torch.tensor([2, 0, 2, 1]), 3)
    assert buffer_rows == 64
    assert ends.tolist() == [16, 32, 64]
    assert rows.tolist() == [0, 16, 32, 33]


def test_the_moe_layer_equals_a_loop_over_experts():
    torch.manual_seed(0)
    model = moe_groundtruth._decoder(torch, TINY)
    moe = model.blocks[0].moe
    x = torch.randn(2, TINY.seq, TINY.hidden)
    got = moe(x)
    tokens = x.reshape(-1, TINY.hidden)
    probs = torch.softmax(moe.router(tokens), dim=-1)
    w, ids = probs.topk(TINY.topk, dim=-1)
    w = w / w.sum(-1, keepdim=True)
    want = torch.zeros_like(tokens)
    for t in range(tokens.shape[0]):
        for j in range(TINY.topk):
            e = int(ids[t, j])
            g, u = (tokens[t] @ moe.w13[e].T).chunk(2)
            want[t] += w[t, j] * ((torch.nn.functional.silu(g) * u) @ moe.w2[e].T)
    assert torch.allclose(got.reshape(-1, TINY.hidden), want, atol=1e-4)


def test_busy_time_and_gaps_by_hand(tmp_path):
    trace = {
        "traceEvents": [
            {"cat": "kernel", "name": "b", "ts": 10.0, "dur": 5.0},
            {"cat": "kernel", "name": "a", "ts": 0.0, "dur": 4.0},
            {"cat": "kernel", "name": "a", "ts": 12.0, "dur": 6.0},  # overlaps b (another stream)
            {"cat": "cpu_op", "name": "aten::mul", "ts": 0.0, "dur": 30.0},
        ]
    }
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    events = overheads.kernel_events(str(path))
    spans = [(s, e) for s, e, _ in events]
    # busy: [0, 4] and [10, 18] = 12 us; gaps: 10 - 4 = 6 us, then an overlap (0)
    assert overheads.busy_s(spans) == pytest.approx(12e-6)
    assert overheads.gaps_s(spans) == pytest.approx([6e-6, 0.0])
    top = overheads.top_kernels(events)
    assert [(k["name"], k["launches"]) for k in top] == [("a", 2), ("b", 1)]
    assert top[0]["device_s"] == pytest.approx(10e-6)


def test_cpu_run_measures_and_predicts():
    prof = load(PROFILE).model_copy(update={"backend": "cpu"})
    res = moe_groundtruth.run(prof, TINY, batches=(1,), steps=1, warmup=1)
    row = res["rows"][0]
    assert row["measured_step_s"] > 0 and row["predicted_step_s"] > 0
    assert overheads.host_dispatch_s(torch, "cpu", ops=200) > 0


def test_h200_measured_gaps_agree_with_the_fixed_cost_constants():
    """The device gap the step model charges per kernel (0.9 us, from NVIDIA's CUDA Graphs blog) is what the H200
    measured between back-to-back kernels of one stream (0.99 us), and the eager host time per operator it assumes
    (10 us) is within 20% of the 8.6 us measured with autograd recording."""
    meas = json.loads(CHECK.read_text())["overheads"]
    assert meas["stream_gap_s_median"] == pytest.approx(fixed_cost.KERNEL_GAP_S, rel=0.2)
    assert meas["graph_gap_s_median"] < meas["stream_gap_s_median"]  # graphs shorten the gap, as the blog says
    assert meas["host_dispatch_autograd_s"] == pytest.approx(fixed_cost.EAGER_HOST_S, rel=0.2)


def _errors(bytes_per_param):
    prof = load(PROFILE)
    data = json.loads(CHECK.read_text())
    errors = []
    for name in ("qwen3-30b-a3b-4l", "mixtral-8x7b-2l"):
        shape = moe_groundtruth.MoeShape(**data[name]["shape"])
        for row in data[name]["rows"]:
            pred = moe_groundtruth.predict_step_s(
                prof, shape, row["batch"], autocast_cast_bytes_per_param=bytes_per_param
            )
            errors.append(pred / row["measured_step_s"] - 1.0)
    return errors


def test_h200_moe_steps_with_the_autocast_casts():
    """Six measured eager MoE steps on an H200: the step model reads them 13-19% too fast without autocast's weight
    casts and within 17% (mean absolute under 11%) with them; the steps are not host-bound (their kernels keep the
    GPU busy for the whole step), so the fixed-cost term's host side is not what they miss."""
    without, with_casts = _errors(0.0), _errors(autocast.FP32_PARAMS_UNDER_AUTOCAST_BYTES)
    assert all(-0.20 < e < -0.12 for e in without)
    assert all(abs(w) < abs(o) for w, o in zip(with_casts, without, strict=True))
    assert max(abs(e) for e in with_casts) < 0.17
    assert sum(abs(e) for e in with_casts) / len(with_casts) < 0.11
    data = json.loads(CHECK.read_text())
    busy = [r["gpu_busy_fraction"] for n in ("qwen3-30b-a3b-4l", "mixtral-8x7b-2l") for r in data[n]["rows"]]
    assert min(busy) > 0.95


BACKWARD = ROOT / "calibration" / "h200-sxm-141gb-2026-11-30.expert-backward.json"


def test_h200_grouped_expert_gemms_forward_and_backward():
    """torch._grouped_mm on an H200, 8 local experts at 4,096 tokens each (four published expert shapes): each
    measured forward runs 0.85-1.02x the step model's, and the model's backward (data plus weight gradient) is short by
    8-22%: the grouped kernel runs its backward layouts slower than its forward, which perf.expert_gemm prices alike.
    The bounds hold the measured gap, so a change to the expert GEMM model that widens it fails here."""
    rows = [r for r in json.loads(BACKWARD.read_text())["rows"] if r["tokens_per_expert"] == 4096]
    assert len(rows) == 4
    for r in rows:
        assert 0.8 < r["fwd_s"] / r["predicted_fwd_s"] < 1.1
        bwd = (r["dgrad_s"] + r["wgrad_s"]) / (r["predicted_dgrad_s"] + r["predicted_wgrad_s"])
        assert 1.0 < bwd < 1.25


def test_expert_backward_runs_on_cpu():
    from supercluster.calibrate import expert_backward

    prof = load(PROFILE).model_copy(update={"backend": "cpu"})
    rows = expert_backward.run(prof, shapes=((64, 32),), tokens=(16,))
    assert rows[0]["fwd_s"] > 0 and rows[0]["wgrad_s"] > 0 and rows[0]["predicted_wgrad_s"] > 0
