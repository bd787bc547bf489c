"""harness.measured_estimate: the one resolve predict_row and the diagnosis scripts share."""

import pytest

from supercluster.validate import harness


def test_a_step_time_row_is_predicted_from_the_shared_estimate():
    """A step-time row's prediction is the estimate's step and its layout the estimate's, so a script that splits
    the row from measured_estimate splits the step whose error validate reports. MegaScale-MoE's Megatron-LM
    baseline on 240 GPUs leaves micro-batch and recompute blank: the planner's fastest fill takes mb4 with full
    recompute, fill_rule.measured the recipe's mb1 without recompute, and the shared estimate is the latter."""
    _, rows = harness.read_rows("all")
    row = next(r for r in rows if r["id"] == "msmoe25-t3-megatron-352b-240")
    result = harness.predict_row(row)
    specs, est = harness.measured_estimate(row)
    assert result.status == "ok" and result.metric == "step_time_s"
    assert result.predicted == pytest.approx(est.step_time_s, rel=1e-12)
    assert result.layout == est.plan.label()
    assert specs.system.gpus == 240
    assert " mb1 rc-none " in est.plan.label()
