"""scripts/weakscale_diagnosis.py (issue 14 item 3): the series arithmetic and the flow-level premise it reports."""

import pytest

from supercluster import catalog
from supercluster.fabric.flows import simulate


@pytest.fixture(scope="module")
def ws(load_script):
    return load_script("weakscale_diagnosis")


def test_line_recovers_slope_and_intercept(ws):
    """Steps built by hand as 0.182 s per micro-batch + 1.70 s at 16, 32, 64 and 128 micro-batches (4.612, 7.524,
    13.348, 24.996 s) give back 0.182 and 1.70."""
    a, b = ws.line([16, 32, 64, 128], [4.612, 7.524, 13.348, 24.996])
    assert a == pytest.approx(0.182, abs=1e-9)
    assert b == pytest.approx(1.70, abs=1e-9)


def test_series_growth_is_step_per_micro_batch_largest_over_smallest(ws):
    """Two rows of one series: 128 GPUs (predicted 1.00 s, measured 1.10 s, 4 micro-batches) and 512 GPUs (predicted
    0.26 s, measured 0.30 s, 1 micro-batch). Per micro-batch: measured 0.30 / (1.10 / 4) = 1.0909, predicted
    0.26 / (1.00 / 4) = 1.04. The data-parallel size is the only layout difference, so they form one series."""
    rows = [
        {"source": "s", "model": "m", "layout": "tp1 pp1 dp128 zero3", "gpus": 128, "speed_error_pct": 10.0,
         "step_time_s": 1.00, "measured_step_s": 1.10, "microbatches": 4},
        {"source": "s", "model": "m", "layout": "tp1 pp1 dp512 zero3", "gpus": 512, "speed_error_pct": 15.38,
         "step_time_s": 0.26, "measured_step_s": 0.30, "microbatches": 1},
    ]  # fmt: skip
    (s,) = ws.series_summary(rows)
    assert s["layout"] == "tp1 pp1 zero3" and s["gpus"] == [128, 512]
    assert s["measured_growth"] == pytest.approx(0.30 / (1.10 / 4))
    assert s["predicted_growth"] == pytest.approx(0.26 / (1.00 / 4))
    assert "measured_fit_s" not in s  # two micro-batch counts: no line


def test_ecmp_cannot_collide_below_one_leaf_per_rail():
    """The diagnosis's premise for the 128- and 256-GPU rows: on the DGX H100 SuperPOD preset every rail of 16 or 32
    nodes hangs off one leaf switch, so a data-parallel ring never leaves it and ECMP hashing has no uplink to
    collide on (fraction 1.0 even with scattered nodes); at 512 GPUs the scattered ring crosses the spine and the
    hashed flows collide (fraction below 1), while adaptive routing keeps the full rate."""
    for gpus in (128, 256):
        system = catalog.system("dgx-h100-superpod", gpus=gpus)
        r = simulate(system, gpus, "dp_ring", gpus // 8, 1, "ecmp", "scattered")
        assert r.busbw_fraction == pytest.approx(1.0)
    system = catalog.system("dgx-h100-superpod", gpus=512)
    assert simulate(system, 512, "dp_ring", 64, 1, "ecmp", "scattered").busbw_fraction < 0.5
    assert simulate(system, 512, "dp_ring", 64, 1, "adaptive", "scattered").busbw_fraction == pytest.approx(1.0)
