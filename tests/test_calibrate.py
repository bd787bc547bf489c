"""Calibration: measured on the CPU at tiny sizes, so CI proves the pipeline without a GPU."""

import json
import subprocess
import sys

import pytest

from supercluster import api
from supercluster.calibrate.profile import GemmPoint, fit_efficiency, load
from supercluster.errors import SuperclusterError

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cpu_profile(tmp_path_factory):
    from supercluster.calibrate import measure

    prof = measure.run(device="cpu", budget_s=30, quick=True)
    return prof, prof.save(tmp_path_factory.mktemp("cal") / "cpu.yaml")


def test_cpu_profile_is_valid_and_reloads(cpu_profile):
    prof, path = cpu_profile
    again = load(path)
    assert again == prof
    assert prof.backend == "cpu" and prof.accelerator is None and prof.libraries["torch"].startswith("2.13")
    assert len(prof.gemm) > 10 and prof.attention and any(b.kernel == "copy" for b in prof.bandwidth)
    e = prof.efficiency
    assert 0 < e.gemm_peak_fraction["bf16"] <= 1 and e.gemm_tile_dim > 0
    assert any("no accelerator" in n for n in prof.notes)


def test_estimator_accepts_the_profile(cpu_profile):
    _, path = cpu_profile
    base = api.estimate(api.build_scenario("llama3-405b-16k"))
    cal = api.estimate(api.build_scenario("llama3-405b-16k", calibration=str(path)))
    assert cal.step.step_time_s > 0 and cal.step.step_time_s != base.step.step_time_s
    assert any(a.what == "calibration" and "testing" in a.why for a in cal.scenario.assumptions)


def test_budget_bounds_the_run():
    from supercluster.calibrate import measure

    prof = measure.run(device="cpu", budget_s=0.05, quick=True)
    assert any("budget spent" in n for n in prof.notes)


def test_fit_recovers_a_known_gemm_model():
    peak, e_true, d0_true = 100.0, 0.8, 128.0
    pts = []
    for m, n, k in [(256, 256, 256), (1024, 1024, 1024), (4096, 1024, 512), (8192, 8192, 8192), (512, 4096, 4096)]:
        t = 2 * m * n * k / (peak * 1e12 * e_true) * (1 + d0_true / m + d0_true / n + d0_true / k)
        pts.append(GemmPoint(m=m, n=n, k=k, dtype="bfloat16", seconds=t))
    from supercluster import catalog

    eff = fit_efficiency(pts, [], [], peak, 1.0, catalog.accelerator("h100-sxm-80gb").efficiency, "test")
    assert eff.gemm_tile_dim == d0_true
    assert eff.gemm_peak_fraction["bf16"] == pytest.approx(e_true, rel=1e-6)


def test_ground_truth_pipeline_on_cpu(cpu_profile):
    from supercluster.calibrate import groundtruth

    prof, _ = cpu_profile
    gt = groundtruth.run(prof, layers=2, hidden=64, heads=4, vocab=256, seq=64, batch=2, steps=2)
    assert gt.measured_step_s > 0 and gt.predicted_step_s > 0
    assert abs(gt.error_pct) < 1000


def test_bad_profiles_and_mismatches_are_refused(tmp_path, cpu_profile):
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: x\n")
    with pytest.raises(SuperclusterError, match="invalid calibration profile"):
        load(bad)
    with pytest.raises(SuperclusterError, match="not found"):
        load(tmp_path / "none.yaml")
    prof, _ = cpu_profile
    a100 = prof.model_copy(update={"accelerator": "a100-sxm-80gb"}).save(tmp_path / "a100.yaml")
    with pytest.raises(SuperclusterError, match="measured on a100-sxm-80gb; the system uses h100-sxm-80gb"):
        api.build_scenario("llama3-405b-16k", calibration=str(a100))


def test_calibrate_cli_and_flags(cpu_profile, tmp_path):
    cli = [sys.executable, "-m", "supercluster.cli"]
    out = subprocess.run(
        [*cli, "calibrate", "--device", "cpu", "--quick", "--budget-s", "10", "--json", "-o", str(tmp_path / "p.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gemm_points"] > 0
    _, path = cpu_profile
    est = subprocess.run(
        [*cli, "estimate", "--scenario", "llama3-405b-16k", "--calibration", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert est.returncode == 0 and json.loads(est.stdout)["step_time_s"] > 0
    val = subprocess.run([*cli, "validate", "--calibration", str(path)], capture_output=True, text=True, timeout=60)
    assert val.returncode == 2 and "matches no published run" in val.stderr
    if not torch.cuda.is_available():
        gpu = subprocess.run([*cli, "calibrate", "--device", "cuda"], capture_output=True, text=True, timeout=60)
        assert gpu.returncode == 2 and "no CUDA/ROCm accelerator" in gpu.stderr
