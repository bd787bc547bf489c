"""DeepSpeed's pipeline engine (2021-22) against the step model: does its schedule explain why MT-NLG 530B reads
13.8-18.3% too fast (issue 14: "2021-22 era runs at 2,000-3,400 A100 [that] read 40% too fast")?

Three parts, each on the bundled rows as ``validate`` resolves them (harness.measured_estimate):

1. :func:`replay_train_schedule` replays DeepSpeed's ``TrainSchedule`` (microsoft/DeepSpeed
   deepspeed/runtime/pipe/schedule.py at 3293cf72a, 2022-01, the version of the MT-NLG era) command by command:
   ``2 * (micro_batches + stages - 1)`` steps per stage, even stages forward on even steps and odd stages on odd
   steps; a forward step receives the activation (``RecvActivation``) then sends the previous backward's input
   gradient (``SendGrad``); a backward step sends the previous forward's output (``SendActivation``) then receives
   the output gradient (``RecvGrad``). Each is a blocking call (deepspeed/runtime/pipe/p2p.py: ``send`` asserts
   ``async_op == False`` and calls ``dist.send``, or ``dist.broadcast`` over a two-rank group before PyTorch 1.8), so
   a transfer starts when both ends have reached it and holds both for its duration. The replay prices the MT-NLG
   layout (35 stages, 240/192/160 micro-batches) at the model's own stage times and transfer time: what DeepSpeed's
   schedule costs beyond the model's ``(m + p - 1) x t + fill`` (perf.pipeline, perf.batch).
2. The same 530B model on the same machine with Megatron-LM's own pipeline (Narayanan et al. 2021, Table 1: 105
   layers, hidden 20,480, TP 8, PP 35, interleaved over 3 chunks, 2,520 A100, 163 TFLOP/s per GPU) beside the three
   MT-NLG runs (DeepSpeed's engine, not interleaved, 126/121/113 TFLOP/s): the model's per-micro-batch and per-step
   terms and the measured step of each.
3. Every Megatron-DeepSpeed row (stacks ``megatron-deepspeed-2022*``: BLOOM's layout search and training, MT-NLG)
   by tensor-parallel size and micro-batch: rows, mean signed speed error, MAPE.

Findings (main at 64b18c6, 2026-12-01; no step-model change came out of them):

- The schedule is 1F1B and costs what the model says. With no transfer time the replay takes exactly
  ``(m + p - 1)(F + B)`` for any stage count (35 stages, 240 micro-batches, F = 1, B = 3: 1,096 = 274 x 4), and a
  slower last stage (+7%, the output head) costs ``m x t_last + (p - 1) x t_mean`` within 0.03 s of a 53 s step:
  the model's bubble (6.26 s at every MT-NLG size, 34 x 0.184 s) is DeepSpeed's. With a transfer time c each
  stage pays 4c per micro-batch in the steady state (two receives and two sends, one after another: 4 stages, 20 ->
  40 micro-batches, F + B = 3, c = 0.1 adds 20 x 3.4) against the model's 2c (Megatron's batched
  send_forward_recv_backward pairs). On MT-NLG (c = 0.81 ms: the 1/8-partitioned activation over HDR plus the
  receiver's TP all-gather) the replay at the model's stage times is 0.33 / 0.25 / 0.20 s longer than the model's
  pipeline: 0.6% of the step, against gaps of 7.3 / 6.6 / 6.9 s.
- Pricing those extra transfers for the Megatron-DeepSpeed stacks (tried on this branch, not kept) moves MT-NLG
  13.57% -> 12.84% but takes all rows 7.455% -> 7.512% (leave-one-source-out column 7.605% -> 7.661%), FP16 dense
  5.92% -> 6.24%, the BLOOM README and chronicles tables 5.02% -> 5.99% and 0.96% -> 2.58% (those rows already read
  slow). Counting only the network leg of the extra transfers (the receiver's TP all-gather is already in the
  model's two): all rows 7.503%, LOSO 7.652%, MT-NLG 13.15%. Neither lands under the accuracy protocol.
- Same model, same machine: Megatron-LM's interleaved run reads -3.0% (the model 55.8 s for 280 micro-batches,
  0.184 s per micro-batch on the slowest stage, bubble 2.2 s); DeepSpeed's reads +13.8% at 240 micro-batches. The
  measured MT-NLG line (older_tables_diagnosis: 0.197 s per micro-batch, 12.7 s per step) against the model's
  (0.191 s, 7.0 s): the per-micro-batch cost agrees within 3%, the per-step cost is 5.7 s short. DeepSpeed's engine
  does the data-parallel reduction after the last backward (``ReduceTiedGrads``, ``ReduceGrads``,
  ``OptimizerStep`` appended to the schedule's last step), as the model prices it (0.62-0.65 s: 1.89e9 fp32
  gradients per GPU over 8-12 ranks at 23.5 GB/s); the tied-embedding all-reduce (1.29e8 elements between two
  ranks) and the loss broadcast are milliseconds. No mechanism read in the engine (schedule.py, p2p.py, engine.py
  ``train_batch``, ``_exec_reduce_grads``) costs seconds once per step; the primary text (arXiv:2201.11990), which
  would give the micro-batch and the precision, was not reachable here (only cli99/llm-analysis's quote of section
  2.4). The micro-batch stays the open variable (older_tables_diagnosis: at 2 the model reads +10.4/+9.1/+9.9%).
- Megatron-DeepSpeed rows by TP and micro-batch (part 3, 105 rows): TP 8 reads +9.8% at micro-batch 1 (12 rows,
  MT-NLG's 3 among them), +7.2% at 2 (14), +0.4% at 4 (34); TP 4 -1.7% at 2 (25), -0.8% at 4 (11). Within BLOOM's
  02-25 sweep (one model) TP 8 PP 12 reads +1.1% at micro-batch 2 and -8.0% at 4, TP 8 PP 4 +7.4% and -1.4%, TP 4
  PP 12 -4.0% and -5.2%: at TP 8 the real runs gain about 9% per sequence from 2 to 4 sequences per micro-batch and
  the model almost nothing. Every TP 8 row but MT-NLG's ran on Jean Zay (its intra-node links priced at a third,
  scale_up_link_fraction), so that is a question for the TP collective's price there, not for DeepSpeed's
  pipeline; the engine's per-micro-batch work (four blocking transfers, above) is the same at TP 4 and TP 8.

Run (bounded: the 3 MT-NLG rows, the Narayanan 529.6B row and the Megatron-DeepSpeed rows, one resolve each, and
three replays of 35 stages; about 10 s):

    PYTHONPATH=src:scripts python scripts/deepspeed_pipe_diagnosis.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster.errors import SuperclusterError
from supercluster.validate import harness
from supercluster.validate.harness import read_rows

MTNLG_SOURCE = "MT-NLG"
NARAYANAN_530B = "narayanan21-t1-529.6b"
MEGATRON_DEEPSPEED = "megatron-deepspeed-2022"
# the replay's bounds: DeepSpeed runs had at most a few dozen stages; a step of more micro-batches than this is not
# a pipeline schedule this script is for
MAX_STAGES = 128
MAX_MICRO_BATCHES = 4096


def _step_micro_batch(step: int, stage: int, stages: int) -> tuple[int, bool]:
    """(micro-batch, is forward) of ``step`` on ``stage``: TrainSchedule._step_to_micro_batch and its four id rules
    (_even_step_forward_id, _odd_step_forward_id, _even_step_backward_id, _odd_step_backward_id)."""
    if step % 2 == 0 and stage % 2 == 0:
        return step // 2 - stage // 2, True
    if step % 2 == 1 and stage % 2 == 1:
        return (step - 1) // 2 - stage // 2, True
    if step % 2 == 0:  # odd stage, even step
        return step // 2 - stages + (stage + 1) // 2, False
    return (step - 1) // 2 - stages + 1 + stage // 2, False  # even stage, odd step


def stage_commands(stage: int, stages: int, micro_batches: int) -> list[tuple[str, int]]:
    """The commands of one stage in order, as TrainSchedule.steps yields them: ("recv_act" | "send_grad" |
    "send_act" | "recv_grad" | "fwd" | "bwd", micro-batch). The loads and the final reduce/step are not timed."""
    out: list[tuple[str, int]] = []
    prev = -1
    for step in range(2 * (micro_batches + stages - 1)):
        mb, forward = _step_micro_batch(step, stage, stages)
        valid, prev_valid = 0 <= mb < micro_batches, 0 <= prev < micro_batches
        if forward:
            if valid and stage > 0:
                out.append(("recv_act", mb))
            if prev_valid and stage > 0:
                out.append(("send_grad", prev))
        else:
            if prev_valid and stage < stages - 1:
                out.append(("send_act", prev))
            if valid and stage < stages - 1:
                out.append(("recv_grad", mb))
        if valid:
            out.append(("fwd" if forward else "bwd", mb))
        prev = mb
    return out


# each transfer command, the stage offset of its partner and the partner's matching command
_PEER = {"send_act": (1, "recv_act"), "recv_act": (-1, "send_act"), "send_grad": (-1, "recv_grad"),
         "recv_grad": (1, "send_grad")}  # fmt: skip


def replay_train_schedule(
    stages: int, micro_batches: int, fwd_s: Sequence[float], bwd_s: Sequence[float], transfer_s: float
) -> float:
    """Seconds from the first forward to the last backward of DeepSpeed's TrainSchedule with blocking transfers.

    ``fwd_s`` and ``bwd_s`` are each stage's forward and backward per micro-batch (the backward with its recompute);
    every transfer takes ``transfer_s`` and starts when both ends have reached it (p2p.send / p2p.recv are blocking:
    deepspeed/runtime/pipe/p2p.py, "assert async_op == False"), holding both ends. With ``transfer_s`` = 0 this is
    1F1B's (m + p - 1)(F + B) for equal stages (Narayanan et al. 2021, arXiv:2104.04473, section 2.2.1)."""
    if not 1 <= stages <= MAX_STAGES or not 1 <= micro_batches <= MAX_MICRO_BATCHES:
        raise SuperclusterError(
            f"replay of {stages} stages x {micro_batches} micro-batches is out of range; valid: 1-{MAX_STAGES} "
            f"stages, 1-{MAX_MICRO_BATCHES} micro-batches"
        )
    if len(fwd_s) != stages or len(bwd_s) != stages or transfer_s < 0:
        raise SuperclusterError(
            f"replay needs one forward and one backward time per stage ({stages}) and a transfer time >= 0"
        )
    progs = [stage_commands(s, stages, micro_batches) for s in range(stages)]
    pc = [0] * stages
    clock = [0.0] * stages
    while True:
        moved = False
        for s in range(stages):
            while pc[s] < len(progs[s]):
                op, mb = progs[s][pc[s]]
                if op in ("fwd", "bwd"):
                    clock[s] += fwd_s[s] if op == "fwd" else bwd_s[s]
                    pc[s] += 1
                    moved = True
                    continue
                offset, want = _PEER[op]
                peer = s + offset
                if pc[peer] < len(progs[peer]) and progs[peer][pc[peer]] == (want, mb):
                    done = max(clock[s], clock[peer]) + transfer_s
                    clock[s] = clock[peer] = done
                    pc[s] += 1
                    pc[peer] += 1
                    moved = True
                    continue
                break
        if all(pc[s] == len(progs[s]) for s in range(stages)):
            return max(clock)
        if not moved:  # the schedule's pairing makes every transfer meet its partner; a stall is a replay bug
            raise RuntimeError(f"replay stalled at commands {pc}")


@dataclass(frozen=True)
class ScheduleCheck:
    """One pipelined row: the model's pipeline terms and the replay of DeepSpeed's schedule at the model's times."""

    row_id: str
    layout: str
    speed_error_pct: float  # + = the model too fast
    microbatches: int
    stages: int
    model_step_s: float
    measured_step_s: float
    stage_s: float  # the model's mean stage time per micro-batch, compute only (forward + backward + recompute)
    transfer_s: float  # one pipeline transfer as the model prices it (network + the receiver's TP all-gather)
    model_pipeline_s: float  # (m + p - 1) x (stage + 2 transfers) + 2 (p - 1) transfers: the model's 1F1B
    replay_s: float  # DeepSpeed's TrainSchedule at the same stage and transfer times
    schedule_extra_s: float  # replay - model pipeline: what DeepSpeed's schedule adds

    @property
    def gap_s(self) -> float:
        return self.measured_step_s - self.model_step_s


def measured_step(model_step_s: float, speed_error_pct: float) -> float:
    """Measured step from a row's speed error (+ = model too fast): model step x (1 + error / 100)."""
    return model_step_s * (1.0 + speed_error_pct / 100.0)


def model_pipeline_s(m: int, p: int, stage_s: float, transfer_s: float) -> float:
    """The step model's pipeline for equal stages without interleaving (perf.batch: p2p_per_mb = 2 transfers on
    every stage, bubble (p - 1) x the stage time, fill 2 (p - 1) transfers)."""
    return (m + p - 1) * (stage_s + 2.0 * transfer_s) + 2.0 * (p - 1) * transfer_s


def schedule_check(row: dict[str, str]) -> ScheduleCheck | None:
    """The row's model pipeline against the replay of DeepSpeed's schedule (None when unpriced or not pipelined)."""
    res = harness.predict_row(row)
    if res.speed_error_pct is None:
        return None
    _, est = harness.measured_estimate(row)
    plan, m = est.plan, est.microbatches
    if plan.pp < 2 or plan.vpp != 1:
        return None
    transfer = est.pp_comm_s / (2.0 * m)
    fill = 2.0 * (plan.pp - 1) * transfer
    stage = (est.bubble_s - fill) / (plan.pp - 1) - 2.0 * transfer
    fwd = stage / 4.0  # full recompute: backward = recompute forward + twice the forward; the replay needs only F + B
    replay = replay_train_schedule(plan.pp, m, [fwd] * plan.pp, [stage - fwd] * plan.pp, transfer)
    model = model_pipeline_s(m, plan.pp, stage, transfer)
    return ScheduleCheck(
        row_id=row["id"],
        layout=plan.label(),
        speed_error_pct=res.speed_error_pct,
        microbatches=m,
        stages=plan.pp,
        model_step_s=est.step_time_s,
        measured_step_s=measured_step(est.step_time_s, res.speed_error_pct),
        stage_s=stage,
        transfer_s=transfer,
        model_pipeline_s=model,
        replay_s=replay,
        schedule_extra_s=replay - model,
    )


def group_errors(results: Sequence[tuple[int, int, float]]) -> list[dict[str, float]]:
    """(tp, micro-batch, speed error %) triples grouped by (tp, micro-batch): rows, mean signed error, MAPE."""
    groups: dict[tuple[int, int], list[float]] = defaultdict(list)
    for tp, mb, err in results:
        groups[(tp, mb)].append(err)
    return [
        {
            "tp": tp,
            "micro_batch": mb,
            "rows": len(errs),
            "mean_speed_error_pct": sum(errs) / len(errs),
            "mape_pct": sum(abs(e) for e in errs) / len(errs),
        }
        for (tp, mb), errs in sorted(groups.items())
    ]


def megatron_deepspeed_errors(rows: list[dict[str, str]]) -> list[tuple[int, int, float]]:
    """(tp, micro-batch, speed error %) of every priced Megatron-DeepSpeed row."""
    out = []
    for row in rows:
        if not (row.get("software") or "").startswith(MEGATRON_DEEPSPEED):
            continue
        res = harness.predict_row(row)
        if res.speed_error_pct is None:
            continue
        _, est = harness.measured_estimate(row)
        out.append((est.plan.tp, est.plan.micro_batch, res.speed_error_pct))
    return out


def short_id(row_id: str) -> str:
    """'mtnlg22-s24-530b-2240' -> 'mtnlg 2240'; 'narayanan21-t1-529.6b' -> 'narayanan 529.6b'."""
    if row_id.startswith("mtnlg"):
        return "mtnlg " + row_id.rsplit("-", 1)[-1]
    if row_id.startswith("narayanan"):
        return "narayanan " + row_id.rsplit("-", 1)[-1]
    return row_id


def render_checks(checks: list[ScheduleCheck]) -> Table:
    table = Table(title="DeepSpeed TrainSchedule replayed at the model's times (s)")
    table.add_column("row", no_wrap=True)
    for col in ("m", "err%", "gap", "stage", "xfer", "model", "replay", "extra"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in checks:
        table.add_row(
            short_id(c.row_id),
            str(c.microbatches),
            f"{c.speed_error_pct:+.1f}",
            f"{c.gap_s:+.2f}",
            f"{c.stage_s:.3f}",
            f"{c.transfer_s * 1e3:.2f}",
            f"{c.model_pipeline_s:.2f}",
            f"{c.replay_s:.2f}",
            f"{c.schedule_extra_s:+.2f}",
        )
    return table


def render_same_model(rows: list[dict[str, object]]) -> Table:
    table = Table(title="530B on DGX A100: Megatron-LM vs DeepSpeed's engine (s)")
    table.add_column("row", no_wrap=True)
    for col in ("layout", "m", "err%", "model", "meas", "bubble", "dp"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            short_id(str(r["row_id"])),
            str(r["layout"]),
            str(r["microbatches"]),
            f"{r['speed_error_pct']:+.1f}",
            f"{r['model_step_s']:.1f}",
            f"{r['measured_step_s']:.1f}",
            f"{r['bubble_s']:.2f}",
            f"{r['dp_comm_s']:.2f}",
        )
    return table


def render_groups(groups: list[dict[str, float]]) -> Table:
    table = Table(title="Megatron-DeepSpeed by TP, micro-batch")
    for col in ("tp", "mb", "rows", "signed %", "MAPE %"):
        table.add_column(col, justify="right", no_wrap=True)
    for g in groups:
        table.add_row(
            str(g["tp"]),
            str(g["micro_batch"]),
            str(g["rows"]),
            f"{g['mean_speed_error_pct']:+.1f}",
            f"{g['mape_pct']:.1f}",
        )
    return table


def same_model_rows(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    """The Narayanan 529.6B row and the MT-NLG rows: layout, micro-batches, error, model and measured step, bubble
    and data-parallel term."""
    out: list[dict[str, object]] = []
    for row in rows:
        if row["id"] != NARAYANAN_530B and MTNLG_SOURCE not in row.get("source", ""):
            continue
        res = harness.predict_row(row)
        if res.speed_error_pct is None:
            continue
        _, est = harness.measured_estimate(row)
        out.append(
            {
                "row_id": row["id"],
                "layout": f"pp{est.plan.pp} v{est.plan.vpp}",
                "microbatches": est.microbatches,
                "speed_error_pct": res.speed_error_pct,
                "model_step_s": est.step_time_s,
                "measured_step_s": measured_step(est.step_time_s, res.speed_error_pct),
                "bubble_s": est.bubble_s,
                "dp_comm_s": est.dp_comm_s,
            }
        )
    return out


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    _, rows = read_rows("all")
    mtnlg = [c for c in (schedule_check(r) for r in rows if MTNLG_SOURCE in r.get("source", "")) if c is not None]
    same = same_model_rows(rows)
    groups = group_errors(megatron_deepspeed_errors(rows))
    doc = {
        "mtnlg_schedule": [asdict(c) | {"gap_s": c.gap_s} for c in mtnlg],
        "same_model_530b": same,
        "megatron_deepspeed_by_tp_mb": groups,
    }
    legend = (
        "gap: measured - model step (+ = model too fast); stage: the model's mean stage compute per micro-batch; "
        "xfer: one transfer (ms); model: the model's pipeline, (m+p-1)(stage+2 xfer)+2(p-1) xfer; replay: "
        "DeepSpeed's TrainSchedule with blocking transfers; extra: replay - model"
    )
    emit(args, doc, [render_checks(mtnlg), render_same_model(same), render_groups(groups), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
