"""The output layer's weight gradient deferred to the pipeline drain (Megatron-Core ``defer_embedding_wgrad_compute``).

Mechanism. With pipeline parallelism the last stage carries the output layer (vocab x hidden / tp) on top of its
transformer layers, and its backward runs two GEMMs per micro-batch: the data gradient, which the previous stage
waits for, and the weight gradient, which nothing waits for until the optimizer step. Megatron-Core can hold the
weight-gradient GEMM back: ``defer_embedding_wgrad_compute`` "defers the embedding WGRAD GEMMs while pipeline flush
is taking place enabling us to hide pipeline flush latency", and ``wgrad_deferral_limit`` "tunes the number of
micro-batches for which the embedding weight gradient compute needs to be deferred to pipeline flush ... Defaults to
0, which means all micro-batches are deferred" (NVIDIA/Megatron-LM megatron/core/model_parallel_config.py). The
output layer's backward stores the gradient instead of running the GEMM while fewer than ``limit`` are stored
(megatron/core/tensor_parallel/layers.py: "if wgrad_deferral_limit == 0 or len(grad_output_buffer) <
wgrad_deferral_limit: grad_output_buffer.append(grad_output); wgrad_compute = False"), and the schedule runs the
stored GEMMs after the stage's last backward (megatron/core/pipeline_parallel/schedules.py
finish_embedding_wgrad_compute, before finalize_model_grads), while the earlier stages still drain their backward
passes: the last stage finishes its backward first and would otherwise wait there.

Price. The last stage's work per step loses ``d = min(limit or m, m)`` weight-gradient GEMMs of the output layer
(each ``2 t h v / tp`` FLOPs on its t tokens, perf.gemm), and gets back whatever of them does not fit in its drain
idle, the backward part of the schedule's bubble ((p - 1) / v backward chunks, perf.pipeline.schedule_bubble):

    hidden = min(d * t_wgrad, drain_idle)

so the last stage's time per micro-batch falls by ``hidden / m``. Where another stage is the slowest, nothing
changes (the step waits for that stage). Without pipeline parallelism Megatron-Core refuses the option ("Cannot
defer embedding wgrad compute when pipeline model parallel is not used", same config file), so it is 0 there.

Which stacks defer, and how many (``SoftwareProfile.embedding_wgrad_deferral``): the NeMo recipes of the Llama 3
rows: NVIDIA/dgxc-benchmarking llama3.1/llama3.1_70b.yaml at v24.11.1 "defer_embedding_wgrad_compute: true",
"wgrad_deferral_limit: 22"; llama3.1_405b.yaml "wgrad_deferral_limit: 50"; NeMo 2.0's llama3_70b / llama31_405b
performance recipes pass the same pairs to MegatronCommOverlapCallback; Megatron-Bridge's CommOverlapConfig in its
Llama recipes "defer_embedding_wgrad_compute=True, wgrad_deferral_limit=22". The 8B recipes run without pipeline
parallelism (llama3.1_8b.yaml "defer_embedding_wgrad_compute: false").

Whether the term is in the step time is :data:`IN_STEP_TIME`. Verdict of the accuracy protocol (scripts/
refit_protocol.py --catalog-attention, on the model with Megatron-Core's fused cross-entropy; the run with the term
is benchmarks/results/refit_protocol_embedding_wgrad.json, the one without
benchmarks/results/refit_protocol_fused_ce.json):
all rows in sample 7.609% -> 7.609%, leave-one-source-out 7.814% -> 7.812%; the published set's leave-one-source-out
4.056% -> 4.005% (in sample 3.981% -> 3.931%). The DGX Cloud Llama 3.1 70B FP8 rows at PP 8 move by about +1.1 points
of speed (signed -13.6 -> -12.5 at 64 GPUs), the PP 4 70B and 405B rows by +0.3 to +0.6; the one table that worsens
by more than half a point is the Nemotron-4 340B report's Table 2 (13.1% -> 14.4%, rows already too fast, whose
NeMo recipe defers as well: dgxc-benchmarking nemotron/nemotron4-340b-synth.yaml "wgrad_deferral_limit: 22"). Lands.
"""

from __future__ import annotations

import numpy as np

from supercluster.perf.gemm import gemm_time_s
from supercluster.specs import Accelerator, ModelSpec, ResolvedPlan

IN_STEP_TIME = True


def head_wgrad_s(model: ModelSpec, plan: ResolvedPlan, seq: int, acc: Accelerator) -> float:
    """One micro-batch's output-layer weight-gradient GEMM on the last stage: (hidden x tokens) @ (tokens x vocab/tp)
    in BF16 (the output layer is a plain BF16 linear, perf.layer.head_cost)."""
    tok = plan.micro_batch * seq / plan.cp
    return gemm_time_s(model.hidden, model.vocab / plan.tp, tok, acc, "bf16")


def hidden_s(wgrad_s, microbatches, limit: int | None, drain_idle_s):
    """Seconds of the last stage's work per step that the deferral moves into its drain idle (arrays or scalars):
    min(d * wgrad_s, drain_idle_s) with d = the deferred micro-batches (``limit`` 0: all; None: no deferral)."""
    if limit is None:
        return 0.0 * np.asarray(wgrad_s, dtype=float)
    m = np.asarray(microbatches, dtype=float)
    deferred = m if limit == 0 else np.minimum(float(limit), m)
    return np.minimum(deferred * wgrad_s, np.maximum(drain_idle_s, 0.0))
