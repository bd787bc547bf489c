"""The step model: FLOPs, GEMM efficiency, memory, collectives, pipeline, step time."""

from supercluster.perf.step import StepEstimate, estimate

__all__ = ["StepEstimate", "estimate"]
