"""DeepSpeed 0.6 ZeRO-3 as measured: its parameter all-gathers and gradient reduce-scatters do not hide behind the
compute (the stack's own micro-batch sweep), priced as serial.

The step model overlaps ZeRO-3's traffic with the compute (``perf.batch``: the gathers behind the forward passes, the
reduce-scatters behind the backward), leaving exposed only what outlasts its window. DeepSpeed's Azure post of
2022-07-26 (microsoft/DeepSpeed docs/_posts/2022-07-26-deepspeed-azure.md; DeepSpeed 0.6.2, PyTorch 1.10.2, NCCL
2.12.10, 80 GB A100 with one 200 Gb/s HDR link per GPU) measured its 175B model at sequence length 1,024 over
micro-batches of 1 to 16 sequences per GPU (Figure 5b, "Performance characteristics of 175B model on 512 and 1K
GPUs ... The colored columns signify different micro batch sizes"). Read off the bars at 128 GPUs (+-3): 95, 129,
170, 181 and 195 TFLOPs per GPU at 1, 2, 4, 8 and 16 sequences. Per step (Megatron's count, 1.449e15 FLOP per
sequence) that is 15.2, 22.5, 34.1, 64.0 and 118.9 s: a straight line of about 6.9 s per sequence plus a constant of
about 8 s that does not shrink as the compute grows 16-fold. An overlapped collective would vanish behind the
compute at 16 sequences; this one stays. The constant is the step's whole ZeRO-3 traffic as the model prices it at
128 ranks (two all-gather passes and one reduce-scatter pass of 175B fp16 values, about 7 s).

Priced that way (every ZeRO-3 all-gather and reduce-scatter serial with the compute) the model reads the sweep at
128 GPUs within +2 to +9% at every micro-batch; overlapped, it reads +74% at one sequence and +14% at 16.

Not identified: the code path. DeepSpeed 0.6.2 issues the gathers on a side stream and waits for them with
``wait_stream`` (partitioned_param_coordinator.py ``fetch_sub_module``), the reduce-scatters on
``__reduce_and_partition_stream`` (stage3.py, under ``overlap_comm``), and blocks the host only to keep at most two
gathers and two reduce buckets in flight (``__max_ongoing_fetch_events``, ``__max_param_reduce_events``), which by
itself would not serialise a pass; both collectives share the data-parallel group's one NCCL stream. So this is a
measured behaviour of the stack, switched on per profile (``SoftwareProfile.zero3_serial_comm``, catalog/data/
software.yaml), not a derived one. At 512-1,024 GPUs the same sweep's constant grows beyond the priced traffic
(about 20 s at 1,024 GPUs against 10 s priced): the collectives at that many ranks cost more than priced as well,
which is left out (scripts/zero3_serial_diagnosis.py tabulates it).

Accuracy at the time of landing (validate all, before and after; no constant fitted; after this branch's aws-p4d
fabric for BloombergGPT): all 767 predicted rows 7.616% -> 7.550% in sample, leave-one-source-out column 7.774% ->
7.708%; FP16 dense 6.67% -> 6.39%; BF16 dense 5.69% -> 5.60%; the 256-2,047 band's signed mean +1.11% -> +0.87%,
other bands unchanged; the published set unchanged (4.05% / 4.11%). The post's 1T/2T table 32.5% -> 23.9% (1T
+32.8% -> +19.9%, 2T +32.2% -> +27.9%), its 175B row +11.3% -> +4.7%; BloombergGPT (SageMaker's ZeRO-3 with MiCS,
filed on this profile) +82.6% -> +22.8%. No other row moves (only these profiles carry the switch).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def serial_gathers(gather_s: Any, serial_gather_s: Any, zero3: Any, serial: bool) -> tuple[Any, Any]:
    """(overlapped gather seconds, serial gather seconds) per step: where the stack runs its ZeRO-3 collectives
    serially (``serial``) every ZeRO-3 candidate's overlapped gathers join the serial ones::

        serial' = serial + overlapped,  overlapped' = 0        (ZeRO-3 candidates of such a stack)

    Others are returned unchanged."""
    if not serial:
        return gather_s, serial_gather_s
    z3 = np.asarray(zero3, dtype=bool)
    return np.where(z3, 0.0, gather_s), np.where(z3, np.asarray(serial_gather_s) + gather_s, serial_gather_s)
