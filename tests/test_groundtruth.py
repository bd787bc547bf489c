"""The CPU ground truth of `calibrate`: steps interleaved with re-timed microbenchmarks cancel a drifting host.

The estimator's logic is tested on a fake host whose speed drifts (no timing involved); one small real run
checks the pipeline (tiny shapes, seconds)."""

import itertools
import random
import statistics

import pytest

from supercluster import catalog
from supercluster.calibrate import groundtruth, measure
from supercluster.calibrate.groundtruth import TimedBlock, interleave, median_ratio, tick_positions
from supercluster.calibrate.profile import AttentionPoint, BandwidthPoint, CalibrationProfile, GemmPoint
from supercluster.errors import SuperclusterError

STEP_WORK_S = 0.3  # the training step at full speed
POINT_WORK_S = 0.05  # one microbenchmark point at full speed
BIAS = 0.9  # the step model's own error at one machine state: it predicts 10% fast


class FakeHost:
    """A host whose speed changes with time: work of w seconds at full speed takes w * slowdown(now)."""

    def __init__(self, slowdown):
        self.now, self.slowdown = 0.0, slowdown

    def run(self, work_s):
        dt = work_s * self.slowdown(self.now)
        self.now += dt
        return dt

    def step(self):
        return self.run(STEP_WORK_S)

    def sweep(self, points, tick=lambda: None, ticks=0):
        """Time ``points`` microbenchmarks (ticking among them) and predict from them: the prediction is
        proportional to the measured times (test_prediction_scales_with_the_measured_times)."""
        at = tick_positions(points, ticks) if ticks else set()
        measured = 0.0
        for i in range(points):
            if i in at:
                tick()
            measured += self.run(POINT_WORK_S)
        return BIAS * STEP_WORK_S * measured / (points * POINT_WORK_S)


def old_error_pct(host):
    """The previous estimator: a 15 s profile sweep, then 5 warm-up and 15 timed steps, their median."""
    predicted = host.sweep(300)
    for _ in range(5):
        host.step()
    return (predicted / statistics.median(host.step() for _ in range(15)) - 1) * 100


def interleaved_error_pct(host, blocks=6):
    done = interleave(host.step, lambda tick, n: host.sweep(20, tick, n), blocks, 4)
    return (median_ratio(done) - 1) * 100


def test_interleaving_cancels_a_linear_drift():
    # 1% slower per second (three ground truths in one process drifted 0.294 -> 0.313 -> 0.329 s)
    def drift(t):
        return 1 + 0.01 * t

    old = old_error_pct(FakeHost(drift))
    new = interleaved_error_pct(FakeHost(drift))
    # the old estimator's sweep ran about 7.5 s (slowdown 1.08) before the middle of its steps (18 s, 1.18):
    # 0.9 * 1.08 / 1.18 - 1 = -18%, 8 points beyond the model's own -10%
    assert old == pytest.approx(-18, abs=1.5)
    assert new == pytest.approx(-10, abs=0.3)


def test_interleaving_survives_a_job_starting_midway():
    """Another process takes a share of the cores during the run: everything 30% slower from then on."""

    def starts_at(t0):
        return lambda t: 1.0 if t < t0 else 1.3

    # the old estimator, the job starting between its 15 s sweep and its steps: 0.9 / 1.3 - 1 = -31%
    assert old_error_pct(FakeHost(starts_at(16.0))) == pytest.approx((BIAS / 1.3 - 1) * 100, abs=0.5)
    # the interleaved one, the job starting inside its fourth block (blocks of 2.2 s): that block's ratio is
    # off, the median of six ignores it
    assert interleaved_error_pct(FakeHost(starts_at(7.0))) == pytest.approx(-10, abs=0.3)


def bursty(seed):
    """Other processes come and go: each second the host runs at full speed (half the time), 1.5x or 2x slower."""
    rng = random.Random(seed)
    levels = [rng.choice((1.0, 1.0, 1.5, 2.0)) for _ in range(100)]
    return lambda t: levels[int(t) % len(levels)]


def test_consecutive_runs_agree_within_ten_points_on_a_bursty_host():
    """What issue 17 asks: two consecutive runs agree within 10 points. On 20 bursty hosts (seeded, so the
    outcome is fixed) the interleaved errors of consecutive seeds agree within 10 points in 17 of 19 pairs and
    span 20 points; the old estimator's agree in 7 and span 53."""
    old = [old_error_pct(FakeHost(bursty(seed))) for seed in range(20)]
    new = [interleaved_error_pct(FakeHost(bursty(seed))) for seed in range(20)]

    def agreeing(errors):
        return sum(abs(a - b) <= 10 for a, b in itertools.pairwise(errors))

    assert agreeing(new) >= 17 and agreeing(old) <= 7
    assert max(new) - min(new) < 21 < 50 < max(old) - min(old)
    # the model's own -10%, moved by bursts that hit a block's sweep and its steps unevenly
    assert statistics.median(new) == pytest.approx(-6.2, abs=0.5)


def test_tick_positions_by_hand():
    # floor((i + 0.5) * 10 / 4) for i = 0..3: floor(1.25, 3.75, 6.25, 8.75)
    assert tick_positions(10, 4) == {1, 3, 6, 8}
    assert tick_positions(3, 5) == {0, 1, 2}  # more ticks than points: one per point, the rest after
    with pytest.raises(ValueError, match="points >= 1"):
        tick_positions(0, 1)


def test_median_ratio_and_blocks_by_hand():
    blocks = [TimedBlock(1.0, 0.8), TimedBlock(1.0, 0.9), TimedBlock(2.0, 2.0), TimedBlock(1.0, 1.3)]
    assert median_ratio(blocks) == pytest.approx(0.95)  # (0.9 + 1.0) / 2
    gt = groundtruth.GroundTruth("d", {}, 1, 16, 1.0, 0.95, blocks=blocks, threads=1)
    assert gt.error_pct == pytest.approx(-5.0)
    assert gt.to_dict()["block_errors_pct"] == pytest.approx([-20, -10, 0, 30])
    with pytest.raises(ValueError):
        median_ratio([])


def test_interleave_deadline_and_missing_ticks():
    host = FakeHost(lambda t: 1.0)
    # the clock passes the deadline after the first block: no second one starts
    done = interleave(host.step, lambda tick, n: host.sweep(20, tick, n), 5, 4, deadline=0.0, clock=lambda: 1.0)
    assert len(done) == 1
    done = interleave(host.step, lambda tick, n: host.sweep(20, tick, n), 5, 4, 0.0, lambda: 1.0, min_blocks=3)
    assert len(done) == 3
    # a predict that never ticks: the block's steps are timed after it, all four of them
    calls = []
    done = interleave(lambda: calls.append(1) or 0.3, lambda tick, n: 0.27, 2, 4)
    assert len(calls) == 8 and [b.ratio for b in done] == pytest.approx([0.9, 0.9])
    with pytest.raises(ValueError, match="steps_per_block >= 1"):
        interleave(host.step, lambda tick, n: 1.0, 1, 0)


def _profile(scale=1.0):
    """A profile with made-up but plausible CPU timings (about 20 GFLOP/s), every time multiplied by scale."""
    gemm = [
        GemmPoint(m=m, n=n, k=k, dtype="float32", seconds=scale * 2 * m * n * k / 2e10 * (1 + 16 / min(m, n, k)))
        for m, n, k in measure.gemm_shapes([64, 128], [256], [1, 2])
    ]
    attention = [
        AttentionPoint(batch=1, heads=2, seq=32, head_dim=16, fwd_seconds=scale * 2e-5, bwd_seconds=scale * 5e-5)
    ]
    elems = 1 << 14
    bandwidth = [
        BandwidthPoint(kernel=kname, bytes=2 * elems * 4, seconds=scale * s)
        for kname, s in (("copy", 2e-5), ("gelu", 6e-5), ("layernorm", 8e-5))
    ]
    base = CalibrationProfile(
        device="fake CPU",
        backend="cpu",
        date="2026-11-30",
        dtype="float32",
        peak_tflops=1.0,
        peak_source="placeholder, replaced by refit",
        memory_gib=1.0,
        memory_tb_per_s=1.0,
        efficiency=catalog.accelerator("h100-sxm-80gb").efficiency,
    )
    return measure.refit(base, gemm, attention, bandwidth)


def test_prediction_scales_with_the_measured_times():
    """Why measuring both under one machine state cancels drift: a host 30% slower (every point 1.3x) fits a
    profile that predicts a step 1.3x longer, so the ratio predicted/measured does not move."""
    wl, plan = groundtruth._nanogpt(2, 256, 4, 512, 256, 8)
    base = groundtruth.predict_step_s(_profile(), wl, plan)
    for f in (0.7, 1.3):
        assert groundtruth.predict_step_s(_profile(f), wl, plan) / base == pytest.approx(f, rel=1e-3)


def test_bad_ground_truth_settings_are_refused():
    prof = _profile()
    bad = ({"blocks": 0}, {"blocks": 51}, {"threads": 0}, {"steps_per_block": 0}, {"warmup": -1}, {"budget_s": 0})
    for kwargs in bad:
        with pytest.raises(SuperclusterError, match="ground truth"):
            groundtruth.run_interleaved(prof, **kwargs)
    with pytest.raises(SuperclusterError, match="0 points"):
        groundtruth.run_interleaved(prof.model_copy(update={"gemm": [], "attention": [], "bandwidth": []}))


def test_interleaved_pipeline_on_cpu():
    torch = pytest.importorskip("torch")
    prof = _profile()
    calls = []
    again = measure.remeasure(prof, measure.Timer(torch, "cpu", float("inf"), 0.0, 1), lambda m, f: calls.append(m))
    assert len(calls) == measure.sweep_points(prof) == len(again.gemm) + len(again.attention) + len(again.bandwidth)
    assert [(g.m, g.n, g.k) for g in again.gemm] == [(g.m, g.n, g.k) for g in prof.gemm]
    before = torch.get_num_threads()
    small = dict(layers=1, hidden=32, heads=2, vocab=64, seq=16, batch=2, steps_per_block=2, warmup=1, point_samples=1)
    gt = groundtruth.run_interleaved(prof, blocks=2, **small)
    assert torch.get_num_threads() == before and gt.threads == 1
    assert len(gt.blocks) == 2 and gt.steps == 4
    assert gt.measured_step_s > 0 and gt.predicted_step_s > 0
    assert gt.error_pct == pytest.approx((median_ratio(gt.blocks) - 1) * 100)
    assert len(gt.to_dict()["block_errors_pct"]) == 2
    assert len(groundtruth.run_interleaved(prof, blocks=4, budget_s=1e-9, **small).blocks) == 3


def test_the_cpu_ground_truth_counts_cpu_time():
    """On a CPU the steps and points are timed on time.process_time: a sleeping callable (the core given to other
    processes) costs wall time and almost no CPU time."""
    import time

    torch = pytest.importorskip("torch")
    cpu = measure.Timer(torch, "cpu", float("inf"), 0.0, 3, clock=time.process_time)
    wall = measure.Timer(torch, "cpu", float("inf"), 0.0, 3)
    assert cpu.median_s(lambda: time.sleep(0.02)) < 0.005 < 0.02 <= wall.median_s(lambda: time.sleep(0.02))
    small = dict(layers=1, hidden=32, heads=2, vocab=64, seq=16, batch=2, steps_per_block=2, warmup=1, point_samples=1)
    assert groundtruth.run_interleaved(_profile(), blocks=1, **small).clock == "cpu"
