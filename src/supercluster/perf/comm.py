"""The step model's view of collectives: the fabric model's NCCL-style tuner (supercluster.fabric.collectives).

Kept as its own module so the step model's interface stays narrow: Span, span_of and CollectiveModel.
"""

from supercluster.fabric.collectives import CollectiveModel, Span, span_of

__all__ = ["CollectiveModel", "Span", "span_of"]
