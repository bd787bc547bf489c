"""One bundled row priced as ``validate`` prices it, with its layer's parts: the start every per-term diagnosis script
shares (scripts/older_tables_diagnosis.py, scripts/gptoss_breakdown.py).

Scripts import it as a sibling (``from row_layer import priced_layer``).
"""

from __future__ import annotations

from dataclasses import dataclass

from supercluster.perf.comm import CollectiveModel
from supercluster.perf.context import context
from supercluster.perf.layer import LayerParts, layer_parts
from supercluster.perf.step import StepEstimate
from supercluster.validate import harness
from supercluster.validate.harness import RowResult
from supercluster.validate.rows import RowSpecs


@dataclass(frozen=True)
class PricedLayer:
    """A row's validation result, its specs, its step estimate at the layout validation read the error at
    (harness.measured_estimate), and one layer and micro-batch at that layout (perf.layer.layer_parts) with the
    collective model it was priced on."""

    result: RowResult
    speed_error_pct: float  # + = the model too fast
    specs: RowSpecs
    est: StepEstimate
    parts: LayerParts
    comm: CollectiveModel


def priced_layer(row: dict[str, str]) -> PricedLayer | None:
    """``row`` priced at its measured layout with one of its layers (MoE where the model is), or None when the
    harness cannot price it or it has no speed error."""
    res = harness.predict_row(row)
    if res.predicted is None or res.speed_error_pct is None:
        return None
    specs, est = harness.measured_estimate(row)
    model, system, seq = specs.model, specs.system, specs.workload.seq
    comm = context(model, seq, system, specs.software).comm
    parts = layer_parts(model, est.plan, seq, system.accelerator, specs.software, comm, model.is_moe, None)
    return PricedLayer(res, res.speed_error_pct, specs, est, parts, comm)
