"""Why a given layout ranks where it does, or why it does not fit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError
from supercluster.perf.batch import PRECISION, RECOMPUTE, SCHEDULE_NAMES
from supercluster.perf.step import StepEstimate, from_batch
from supercluster.perf.wan import SYNC_NAMES
from supercluster.plan.search import SearchResult
from supercluster.specs import PlanSpec
from supercluster.units import GIB

_TOKEN = re.compile(r"^(tp|pp|vpp|cp|ep|dp|zero|mb|micro_batch|sites)=?(\d+)$")
_SYNC = re.compile(r"^(allreduce|diloco|streaming-diloco)(?:-h(\d+))?$")
_INNER = re.compile(r"^h=?(\d+)$")
_NAMES = {"mb": "micro_batch", "micro_batch": "micro_batch"}
TERM_LABELS = {
    "compute_s": "compute",
    "recompute_s": "activation recompute",
    "tp_comm_exposed_s": "exposed tensor/context-parallel communication",
    "ep_comm_exposed_s": "exposed expert all-to-all",
    "pp_comm_exposed_s": "exposed pipeline send/receive",
    "pipeline_bubble_s": "pipeline bubble",
    "dp_comm_exposed_s": "exposed gradient synchronisation",
    "optimizer_s": "optimizer update",
    "wan_exposed_s": "exposed cross-site (WAN) synchronisation",
    "straggler_s": "waiting for the slowest GPU (stragglers)",
    "fixed_overhead_s": "fixed per-kernel and per-step costs (launches, host, syncs)",
}


def parse_layout(text: str) -> PlanSpec:
    """'tp8 pp16 vpp4 dp128 mb1 zero1 rc-none sp bf16' (or with '=' and commas) to a PlanSpec."""
    fields: dict[str, Any] = {}
    for raw in re.split(r"[\s,]+", text.strip().lower()):
        if not raw:
            continue
        tok = raw.replace("+sp", "").replace("tp=", "tp")
        if raw.endswith("+sp") or tok in ("sp", "sequence_parallel"):
            fields["sequence_parallel"] = True
            if tok in ("sp", "sequence_parallel"):
                continue
        if tok in ("nosp", "no-sp"):
            fields["sequence_parallel"] = False
            continue
        if tok in PRECISION:
            fields["precision"] = tok
            continue
        if tok in ("1f1b", "zb-h1", "zb-v", "dualpipe"):
            fields["schedule"] = tok
            continue
        sync = _SYNC.match(tok)
        if sync:
            fields["sync"] = sync.group(1)
            if sync.group(2):
                fields["diloco_inner_steps"] = int(sync.group(2))
            continue
        inner = _INNER.match(tok)
        if inner:
            fields["diloco_inner_steps"] = int(inner.group(1))
            continue
        rc = tok.removeprefix("rc-").removeprefix("recompute=").removeprefix("recompute-")
        if tok.startswith(("rc-", "recompute")) and rc in RECOMPUTE:
            fields["recompute"] = rc
            continue
        m = _TOKEN.match(tok)
        if not m:
            raise SuperclusterError(
                f"cannot read '{raw}' in layout '{text}'; write e.g. 'tp8 pp16 vpp4 cp1 dp128 zero1 mb1 rc-none bf16'"
            )
        fields[_NAMES.get(m.group(1), m.group(1))] = int(m.group(2))
    if not fields:
        raise SuperclusterError("empty layout; write e.g. 'tp8 pp16 dp128'")
    return PlanSpec(**fields)


@dataclass
class Explanation:
    layout: str
    fits: bool
    rank: int | None
    feasible: int
    percentile: float | None
    gap_pct: float | None
    reasons: list[str]
    estimate: StepEstimate
    best: StepEstimate | None
    gap_same_precision_pct: float | None = None  # against the best layout of the layout's own numeric format

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "fits": self.fits,
            "rank": self.rank,
            "feasible": self.feasible,
            "top_percent": self.percentile,
            "slower_than_best_pct": self.gap_pct,
            "slower_than_best_same_precision_pct": self.gap_same_precision_pct,
            "reasons": self.reasons,
            "estimate": self.estimate.to_dict(),
            "best": self.best.to_dict() if self.best else None,
        }


def _matching(result: SearchResult, want: PlanSpec) -> np.ndarray:
    c = result.batch.cand
    mask = np.ones(len(c), dtype=bool)
    cols = {
        "tp": c.tp,
        "pp": c.pp,
        "vpp": c.vpp,
        "cp": c.cp,
        "ep": c.ep,
        "dp": c.dp,
        "zero": c.zero,
        "micro_batch": c.mb,
        "sequence_parallel": c.sp,
    }
    for key, col in cols.items():
        value = getattr(want, key)
        if value is not None:
            mask &= col == value
    if want.recompute:
        mask &= c.rc == RECOMPUTE.index(want.recompute)
    if want.precision:
        mask &= c.prec == PRECISION.index(want.precision)
    if want.schedule and c.sched is not None:
        mask &= c.sched == SCHEDULE_NAMES.index(want.schedule)
    if want.sites and c.sites is not None:
        mask &= c.sites == want.sites
    if c.sync is not None:  # a blank sync is the synchronous all-reduce, as the fill reads it
        mask &= c.sync == SYNC_NAMES.index(want.sync or "allreduce")
    if want.diloco_inner_steps and c.hin is not None:
        mask &= c.hin == want.diloco_inner_steps
    return np.flatnonzero(mask)


def _memory_arithmetic(e: StepEstimate) -> str:
    m = e.memory
    parts = [
        ("weights", m.weights_bytes),
        ("gradients", m.grads_bytes),
        ("optimizer", m.optimizer_bytes),
        ("activations", m.activations_bytes),
        ("logits", m.logits_bytes),
        ("allowance", m.allowance_bytes),
    ]
    terms = " + ".join(f"{name} {v / GIB:.1f}" for name, v in parts if v > 0)
    return f"{terms} = {m.total_bytes / GIB:.1f} GiB > {m.capacity_bytes / GIB:.0f} GiB of HBM"


def _explain_unsearched_zero(result: SearchResult, layout: str, want: PlanSpec, stages: list[int]) -> Explanation:
    """A layout whose ZeRO stage the stack does not offer: priced as given, as `estimate` prices it (one rule for
    every command), ranked among the searched layouts, with the stack's own stages named."""
    from supercluster.plan.fill import resolve

    if result.software is None:
        raise SuperclusterError(f"layout '{layout}' asks for ZeRO {want.zero}; the stack offers {stages}")
    est = resolve(want, result.workload, result.system, result.software, result.gpus)
    best = result.top[0] if result.top else None
    note = (
        f"ZeRO {want.zero} is not among the stages {result.software.id} offers ({stages}), so the search did not "
        "try it; priced as given, as estimate prices it"
    )
    if not est.memory.fits:
        reasons = [note, "does not fit: " + _memory_arithmetic(est)]
        return Explanation(est.plan.label(), False, None, len(result.feasible_order), None, None, reasons, est, best)
    rank = result.rank_of(est.step_time_s)
    feasible = len(result.feasible_order)
    gap = (est.step_time_s / best.step_time_s - 1) * 100 if best else 0.0
    reasons = [note]
    if best:
        reasons.append(f"best: {best.plan.label()}")
    return Explanation(est.plan.label(), True, rank, feasible, rank / feasible * 100, gap, reasons, est, best)


def explain(result: SearchResult, layout: str) -> Explanation:
    want = parse_layout(layout)
    idx = _matching(result, want)
    if len(idx) == 0:
        searched_zero = sorted(int(z) for z in np.unique(result.batch.cand.zero))
        if want.zero is not None and want.zero not in searched_zero:
            return _explain_unsearched_zero(result, layout, want, searched_zero)
        raise SuperclusterError(
            f"layout '{layout}' is not a valid layout for {result.gpus} GPUs of this workload "
            f"(check that tp*pp*cp*dp = {result.gpus}, tp divides the heads, and the batch divides dp*micro_batch)"
        )
    batch = result.batch
    fits_mask = (batch.memory_bytes[idx] + result.headroom_bytes) <= batch.capacity_bytes
    if fits_mask.any():
        pool = idx[fits_mask]
        i = int(pool[np.argmin(batch.step_time_s[pool])])
    else:
        i = int(idx[np.argmin(batch.memory_bytes[idx])])
    est = from_batch(batch, i, result.workload, result.system, result.gpus)
    best = result.top[0] if result.top else None
    reasons: list[str] = []
    if not fits_mask.any():
        reasons.append("does not fit: " + _memory_arithmetic(est))
        return Explanation(est.plan.label(), False, None, len(result.feasible_order), None, None, reasons, est, best)
    rank = result.rank_of(est.step_time_s)
    feasible = len(result.feasible_order)
    gap = (est.step_time_s / best.step_time_s - 1) * 100 if best else 0.0
    if best and rank > 1:
        mine, theirs = est.step_terms(), best.step_terms()
        deltas = sorted(((mine[k] - theirs.get(k, 0.0), k) for k in mine), reverse=True)
        for delta, key in deltas[:3]:
            if delta > 0.005 * best.step_time_s:
                reasons.append(f"{TERM_LABELS[key]} costs {delta:.3g} s more per step than in the best layout")
        reasons.append(f"best: {best.plan.label()}")
    else:
        top_term = max(est.step_terms().items(), key=lambda kv: kv[1])
        reasons.append(
            f"this is the best layout found; its largest term is {TERM_LABELS[top_term[0]]} "
            f"({top_term[1] / est.step_time_s * 100:.0f}% of the step)"
        )
    reasons.append(
        f"memory {est.memory.total_bytes / GIB:.1f} of {est.memory.capacity_bytes / GIB:.0f} GiB "
        f"(headroom {est.memory.headroom_bytes / GIB:.1f} GiB)"
    )
    gap_same, note = _same_precision(result, est, best)
    if note:
        reasons.append(note)
    ex = Explanation(est.plan.label(), True, rank, feasible, rank / feasible * 100, gap, reasons, est, best)
    ex.gap_same_precision_pct = gap_same
    return ex


def _same_precision(result: SearchResult, est: StepEstimate, best: StepEstimate | None) -> tuple[float | None, str]:
    """The gap to the best layout of the same numeric format, and a note when the overall best uses another."""
    if best is None:
        return None, ""
    if best.plan.precision == est.plan.precision:
        return (est.step_time_s / best.step_time_s - 1) * 100, ""
    same = result.best_where(result.batch.cand.prec == PRECISION.index(est.plan.precision))
    if same is None:
        return None, ""
    gap = (est.step_time_s / same.step_time_s - 1) * 100
    return gap, (
        f"against the best {est.plan.precision.upper()} layout ({same.plan.label()}): {gap:+.1f}%; the overall "
        f"best multiplies in {best.plan.precision.upper()}, a different numeric format"
    )
