"""Chrome trace-event JSON of one step (loads in Perfetto and chrome://tracing).

Format: the Trace Event Format ("JSON Object Format": {"traceEvents": [...]}; complete events
ph="X" with ts and dur in microseconds, metadata events ph="M" naming processes and threads),
https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU.
"""

from __future__ import annotations

from typing import Any

from supercluster.errors import SuperclusterError
from supercluster.perf.step import StepEstimate
from supercluster.perf.timeline import StepTimeline

US = 1e6
# About 150 bytes of JSON per event: 200,000 events are a 30 MB file that Perfetto still opens quickly.
MAX_TRACE_EVENTS = 200_000


def trace_events(est: StepEstimate) -> int:
    """Events the trace of this step would hold: a forward and a backward, each with its send, per micro-batch
    per model chunk per stage (one pass of a stack that accumulates outside the schedule)."""
    plan = est.plan
    m = est.microbatches
    if plan.local_batch is not None:
        m = plan.local_batch // plan.micro_batch
    return 4 * plan.pp * plan.vpp * m + 3 * plan.pp + 3


def check_trace_size(est: StepEstimate) -> None:
    n = trace_events(est)
    if n > MAX_TRACE_EVENTS:
        plan = est.plan
        raise SuperclusterError(
            f"the trace would hold about {n:,} events (4 x pp({plan.pp}) x vpp({plan.vpp}) x "
            f"{est.microbatches:,} micro-batches), over the limit of {MAX_TRACE_EVENTS:,}; narrow it: a smaller "
            "global batch, a larger micro_batch or more data-parallel GPUs in the scenario"
        )


def chrome_trace(tl: StepTimeline, title: str, layout: str) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for s in range(tl.stages):
        events.append({"name": "process_name", "ph": "M", "pid": s, "tid": 0, "args": {"name": f"pipeline stage {s}"}})
        events.append({"name": "thread_name", "ph": "M", "pid": s, "tid": 0, "args": {"name": "compute"}})
        events.append({"name": "thread_name", "ph": "M", "pid": s, "tid": 1, "args": {"name": "pp send/recv"}})
    for op in tl.ops:
        name = f"{'fwd' if op.kind == 'F' else 'bwd'} mb{op.microbatch} chunk{op.chunk}"
        events.append(
            {
                "name": name,
                "cat": "forward" if op.kind == "F" else "backward",
                "ph": "X",
                "ts": op.start_s * US,
                "dur": (op.end_s - op.start_s) * US,
                "pid": op.stage,
                "tid": 0,
                "args": {"microbatch": op.microbatch, "chunk": op.chunk},
            }
        )
        if tl.p2p_s > 0 and (
            (op.kind == "F" and not (op.stage == tl.stages - 1 and op.chunk == tl.chunks - 1))
            or (op.kind == "B" and not (op.stage == 0 and op.chunk == 0))
        ):
            events.append(
                {
                    "name": f"send {'act' if op.kind == 'F' else 'grad'} mb{op.microbatch}",
                    "cat": "p2p",
                    "ph": "X",
                    "ts": op.end_s * US,
                    "dur": tl.p2p_s * US,
                    "pid": op.stage,
                    "tid": 1,
                }
            )
    pid = tl.stages
    events.append(
        {
            "name": "process_name",
            "ph": "M",
            "pid": pid,
            "tid": 0,
            "args": {"name": "data parallel + optimizer (all stages)"},
        }
    )
    events.append(
        {
            "name": "gradient sync (exposed)",
            "cat": "dp",
            "ph": "X",
            "ts": tl.pipeline_s * US,
            "dur": tl.dp_s * US,
            "pid": pid,
            "tid": 0,
        }
    )
    events.append(
        {
            "name": "optimizer step",
            "cat": "optimizer",
            "ph": "X",
            "ts": (tl.pipeline_s + tl.dp_s) * US,
            "dur": tl.optimizer_s * US,
            "pid": pid,
            "tid": 0,
        }
    )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "title": title,
            "layout": layout,
            "simulated_step_s": tl.total_s,
            "analytical_step_s": tl.analytical_s,
            "relative_difference": tl.relative_error,
            "notes": tl.notes,
        },
    }
