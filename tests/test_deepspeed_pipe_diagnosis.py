"""scripts/deepspeed_pipe_diagnosis.py (issue 14, MT-NLG 530B): the replay of DeepSpeed's TrainSchedule by hand, and
the MT-NLG check on its bundled row."""

import pytest

from supercluster.errors import SuperclusterError
from supercluster.validate.harness import read_rows


@pytest.fixture(scope="module")
def diag(load_script):
    return load_script("deepspeed_pipe_diagnosis")


def test_commands_of_two_stages_one_micro_batch(diag):
    """TrainSchedule with 2 stages and 1 micro-batch runs 2 x (1 + 2 - 1) = 4 steps per stage. Stage 0: step 0
    forwards micro-batch 0; step 1 (a backward step of no valid micro-batch) sends that forward's output; step 2
    forwards nothing; step 3 receives the output gradient and runs the backward. Stage 1: step 1 receives the
    activation and forwards, step 2 runs the backward, step 3 (a forward step of no valid micro-batch) sends the
    input gradient back."""
    assert diag.stage_commands(0, 2, 1) == [("fwd", 0), ("send_act", 0), ("recv_grad", 0), ("bwd", 0)]
    assert diag.stage_commands(1, 2, 1) == [("recv_act", 0), ("fwd", 0), ("bwd", 0), ("send_grad", 0)]


def test_replay_by_hand(diag):
    """The commands above with F = 1, B = 2 and 0.5 s per transfer: stage 0 forwards 0 -> 1, the activation moves
    1 -> 1.5, stage 1 forwards 1.5 -> 2.5 and backwards 2.5 -> 4.5, the gradient moves 4.5 -> 5.0, stage 0
    backwards 5.0 -> 7.0."""
    assert diag.replay_train_schedule(2, 1, [1, 1], [2, 2], 0.5) == pytest.approx(7.0)


def test_replay_without_transfers_is_1f1b(diag):
    """No transfer time: (m + p - 1)(F + B), Narayanan et al. 2021 section 2.2.1. 4 stages, 8 micro-batches,
    F + B = 3: 11 x 3 = 33; 35 stages, 240 micro-batches, F + B = 4: 274 x 4 = 1,096."""
    assert diag.replay_train_schedule(4, 8, [1] * 4, [2] * 4, 0.0) == pytest.approx(33.0)
    assert diag.replay_train_schedule(35, 240, [1] * 35, [3] * 35, 0.0) == pytest.approx(1096.0)


def test_four_blocking_transfers_per_micro_batch(diag):
    """In the steady state each stage receives and sends an activation and a gradient per micro-batch, one after
    another: 20 more micro-batches on 4 stages with F + B = 3 and 0.1 s per transfer take 20 x (3 + 4 x 0.1) = 68 s
    more; the model's pipeline charges 2 transfers per micro-batch, 20 x (3 + 2 x 0.1) = 64 s."""
    t40 = diag.replay_train_schedule(4, 40, [1] * 4, [2] * 4, 0.1)
    t20 = diag.replay_train_schedule(4, 20, [1] * 4, [2] * 4, 0.1)
    assert t40 - t20 == pytest.approx(68.0)
    assert diag.model_pipeline_s(40, 4, 3.0, 0.1) - diag.model_pipeline_s(20, 4, 3.0, 0.1) == pytest.approx(64.0)


def test_replay_bounds(diag):
    with pytest.raises(SuperclusterError, match="out of range"):
        diag.replay_train_schedule(0, 4, [], [], 0.0)
    with pytest.raises(SuperclusterError, match="one forward and one backward"):
        diag.replay_train_schedule(2, 4, [1.0], [2.0, 2.0], 0.0)


def test_group_errors_by_hand(diag):
    """Two TP 8 micro-batch 1 rows at +10 and +6: mean +8, MAPE 8; one TP 4 row at -3: mean -3, MAPE 3."""
    groups = diag.group_errors([(8, 1, 10.0), (8, 1, 6.0), (4, 2, -3.0)])
    assert groups == [
        {"tp": 4, "micro_batch": 2, "rows": 1, "mean_speed_error_pct": -3.0, "mape_pct": 3.0},
        {"tp": 8, "micro_batch": 1, "rows": 2, "mean_speed_error_pct": 8.0, "mape_pct": 8.0},
    ]


def test_mtnlg_check_on_its_row(diag):
    """The 2,240-GPU MT-NLG row is a step_time_s row (60.1 s measured): the check's measured step is the CSV value,
    its 35 stages and 240 micro-batches are the layout's, and the replay of DeepSpeed's schedule at the model's own
    stage and transfer times adds less than 1% of the step to the model's pipeline, against a gap of over 10%."""
    _, rows = read_rows("all")
    (row,) = [r for r in rows if r["id"] == "mtnlg22-s24-530b-2240"]
    c = diag.schedule_check(row)
    assert c.measured_step_s == pytest.approx(60.1)
    assert (c.stages, c.microbatches) == (35, 240)
    assert 0.0 < c.schedule_extra_s < 0.01 * c.model_step_s
    assert c.gap_s > 0.10 * c.model_step_s
