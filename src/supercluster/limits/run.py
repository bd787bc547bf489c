"""`supercluster limits`: best utilisation and time to train from 1e24 to 1e32 FLOP under a duration limit, with
supercluster's own step model and planner, and the paper's figures beside it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.fabric.topology import max_gpus
from supercluster.limits import analysis, sources
from supercluster.limits.frontier import (
    LIMITS_SPACE,
    MAX_TRIALS,
    PAST_WALL_STALL,
    PAST_WALL_TRIALS,
    STALL_STEPS,
    PointResult,
    frontier_point,
    row,
)
from supercluster.limits.workload import compute_job
from supercluster.plan import SpaceOptions
from supercluster.plan.space import TP_DOMAINS, cp_choices, tp_choices
from supercluster.specs import SystemSpec
from supercluster.specs.limits import LimitsQuestion
from supercluster.units import DAY_S

# First guess of the utilisation a job reaches, to start the GPU walk of the grid's first point (later points
# start from the previous one's answer). Only where the walk starts, not a result.
FIRST_GUESS_MFU = 0.4
WITHIN_FACTOR = 3.0


def grid(q: LimitsQuestion) -> list[float]:
    """``points_per_decade`` computes per factor of ten from min_flop, the last at or below max_flop."""
    return [q.min_flop * 10 ** (i / q.points_per_decade) for i in range(q.points())]


def choose_system(q: LimitsQuestion) -> SystemSpec:
    """The system named, else the accelerator's best-connected generic preset: the most scale-out bandwidth per
    GPU (the fabric's measured NIC bus bandwidth per GPU), then the most GPUs its fabric wires, then the name."""
    if q.system:
        sys_ = catalog.system(q.system)
        if q.accelerator != sys_.accelerator.id and q.accelerator != LimitsQuestion().accelerator:
            raise SuperclusterError(
                f"system {q.system} has {sys_.accelerator.id}, not {q.accelerator}; give one of --system or "
                "--accelerator"
            )
        if not catalog.loader.raw("systems", q.system).get("generic"):
            generic = [n for n in catalog.names("systems") if catalog.loader.raw("systems", n).get("generic")]
            raise SuperclusterError(
                f"system {q.system} is a named machine of fixed size; limits needs a generic one: {', '.join(generic)}"
            )
        return sys_
    generic = [n for n in catalog.names("systems") if catalog.loader.raw("systems", n).get("generic")]
    fits = []
    for name in generic:
        if catalog.loader.raw("systems", name).get("accelerator") == q.accelerator:
            spec = catalog.system(name)
            fits.append((-spec.fabric.nic_busbw_gb_per_s, -max_gpus(spec)[0], name, spec))
    if not fits:
        have = sorted({str(catalog.loader.raw("systems", n).get("accelerator")) for n in generic})
        raise SuperclusterError(
            f"no generic system has accelerator {q.accelerator}; accelerators with one: {', '.join(have)}"
        )
    return min(fits, key=lambda t: t[:3])[3]


@dataclass
class LimitsResult:
    question: LimitsQuestion
    system: SystemSpec
    software_id: str
    fabric_gpus: int
    fabric_why: str
    limit_days: float
    rows: list[dict[str, Any]]
    knee: analysis.Crossing
    wall: analysis.Crossing
    fabric: analysis.Crossing
    plateau_mfu: float | None
    per_sequence_gpus: dict[str, int]
    wall_s: float
    assumptions: list[dict[str, str]] = field(default_factory=list)

    def _point(self, c: analysis.Crossing) -> dict[str, Any] | None:
        return self.rows[c.index] if c.index is not None else None

    def comparison(self) -> list[dict[str, Any]]:
        """The paper's figures beside supercluster's, each with how far apart and why."""
        p = sources.paper()
        out = []
        for name, ours, theirs, summary, why in (
            ("utilisation knee", self.knee, p.utilisation_knee_flop, p.summary_knee_flop, self._knee_why()),
            ("latency wall", self.wall, p.latency_wall_flop, p.summary_wall_flop, self._wall_why()),
        ):
            apart = analysis.factor_apart(ours.flop, theirs)
            out.append(
                {
                    "figure": name,
                    "paper_flop": theirs,
                    "paper_summary_flop": summary,
                    "supercluster_flop": ours.flop,
                    "factor_apart": apart,
                    "within_factor_3": apart is not None and apart <= WITHIN_FACTOR,
                    "why": why,
                }
            )
        return out

    def _knee_why(self) -> str:
        r = self._point(self.knee)
        if r is None or self.knee.flop is None:
            return "MFU does not fall below 90% of its plateau anywhere on this grid"
        plateau = f"{(self.plateau_mfu or 0) * 100:.1f}%"
        where = "at or below the grid's start" if self.knee.below_grid else f"past {self.knee.flop:.2g} FLOP"
        return f"MFU falls below 90% of its {plateau} plateau {where}; at {r['compute_flop']:.2g} FLOP: " + str(
            r.get("binding_why", r.get("binding"))
        )

    def _wall_why(self) -> str:
        r = self._point(self.wall)
        if r is None or self.wall.flop is None:
            return f"every point of the grid finishes within {self.limit_days:.0f} days on some GPU count"
        fastest = r["min_days"]
        step = r.get("step_time_s")
        head = (
            f"at {r['compute_flop']:.2g} FLOP the fastest layout found needs "
            + (f"{fastest:,.0f} days" if fastest is not None else "more memory than any GPU count tried holds")
            + f" (limit {self.limit_days:.0f}): {r['steps']:.3g} steps of {r['tokens_per_step']:.3g} tokens leave "
            f"{r['step_time_budget_s']:.3g} s per step"
        )
        if step is not None:
            head += f", and its step takes {step:.3g} s; " + str(r.get("binding_why", ""))
        return head

    def terms(self) -> list[dict[str, str]]:
        """supercluster's side of the term-by-term comparison, in numbers from this run."""
        r = self._point(self.wall) or (self.rows[-1] if self.rows else None)
        if r is None:
            return []
        q = self.question
        rules = sources.rules()
        per_seq = self.per_sequence_gpus
        return [
            {
                "term": "model and tokens",
                "supercluster": (
                    f"Chinchilla-optimal: N = sqrt(C / {6 * rules.tokens_per_param:g}); at {r['compute_flop']:.2g} "
                    f"FLOP {r['params']:.3g} parameters ({r['n_layers']} layers of width {r['d_model']:,}, aspect "
                    f"ratio {q.aspect_ratio or rules.aspect_ratio:g}) on {r['train_tokens']:.3g} tokens"
                ),
            },
            {
                "term": "batch (critical batch size)",
                "supercluster": (
                    f"B = {rules.batch_coefficient_tokens:g} C^{rules.batch_exponent:g} tokens (DeepSeek LLM): "
                    f"{r['batch_tokens_law']:.3g} tokens = {r['global_batch']:,} sequences of {r['seq_len']:,} at "
                    f"{r['compute_flop']:.2g} FLOP, so {r['steps']:.3g} sequential steps"
                ),
            },
            {
                "term": "GPUs per sequence",
                "supercluster": (
                    f"at most tp {per_seq['tp']} (heads and {per_seq['tp_domains']} NVLink domains of "
                    f"{self.system.domain_gpus}) x cp {per_seq['cp']} (>= 1,024 tokens per rank): one sequence "
                    f"spans at most {per_seq['tp'] * per_seq['cp']:,} GPUs; pipeline stages add GPUs but not speed "
                    "once each replica holds one micro-batch"
                ),
            },
            {
                "term": "time per step",
                "supercluster": (
                    f"the limit allows {r['step_time_budget_s']:.3g} s per step; the fastest layout found takes "
                    + (f"{r['step_time_s']:.3g} s" if r.get("step_time_s") is not None else "no layout fits")
                ),
            },
            {
                "term": "fabric",
                "supercluster": (
                    f"{self.system.id}: {self.fabric_gpus:,} GPUs at most ({self.fabric_why}); rows past it are "
                    "priced as if the fabric grew (more tiers or planes) with the same per-hop latency"
                ),
            },
            {
                "term": "memory",
                "supercluster": (
                    f"{self.system.accelerator.hbm_gib:g} GiB per GPU; the {self.software_id} stack offers ZeRO "
                    f"stages {', '.join(str(z) for z in catalog.software(self.software_id).zero_stages)}"
                ),
            },
        ]

    def to_dict(self) -> dict[str, Any]:
        p = sources.paper()
        q = self.question
        return {
            "accelerator": self.system.accelerator.id,
            "system": self.system.id,
            "software": self.software_id,
            "months": q.months,
            "limit_days": self.limit_days,
            "min_flop": q.min_flop,
            "max_flop": q.max_flop,
            "points_per_decade": q.points_per_decade,
            "allow_fp8": q.allow_fp8,
            "utilisation_knee_flop": self.knee.flop,
            "latency_wall_flop": self.wall.flop,
            "fabric_wall_flop": self.fabric.flop,
            "knee": {**self.knee.to_dict(), "fraction_of_plateau": analysis.KNEE_FRACTION},
            "wall": self.wall.to_dict(),
            "fabric_wall": self.fabric.to_dict(),
            "plateau_mfu": self.plateau_mfu,
            "fabric_gpus": self.fabric_gpus,
            "per_sequence_gpus": self.per_sequence_gpus,
            "paper": {
                **p.model_dump(),
                "note": "figures as the catalog records them (limits.yaml, erdil-2024)",
            },
            "comparison": self.comparison(),
            "terms": self.terms(),
            "rows": self.rows,
            "assumptions": self.assumptions,
            "wall_s": self.wall_s,
            "trials": sum(int(r["trials"]) for r in self.rows),
        }


def _assumptions(q: LimitsQuestion) -> list[dict[str, str]]:
    rules = sources.rules()
    return [
        {
            "what": "tokens per parameter",
            "value": f"{rules.tokens_per_param:g}",
            "source": rules.tokens_per_param_source,
        },
        {
            "what": "batch",
            "value": f"{rules.batch_coefficient_tokens:g} C^{rules.batch_exponent:g} tokens",
            "source": rules.batch_source,
        },
        {
            "what": "aspect ratio",
            "value": f"{q.aspect_ratio or rules.aspect_ratio:g}" + (" (--aspect-ratio)" if q.aspect_ratio else ""),
            "source": rules.aspect_ratio_source,
        },
        {
            "what": "shape",
            "value": f"d_head {rules.head_dim}, d_ff {rules.ffn_multiple} d_model",
            "source": rules.shape_source,
        },
        {"what": "vocabulary and context", "value": rules.template_model, "source": rules.template_source},
        {
            "what": "software",
            "value": q.software or rules.software,
            "source": "--software" if q.software else rules.software_source,
        },
        {"what": "month", "value": f"{rules.months_day_count} days", "source": rules.months_source},
        {
            "what": "precision",
            "value": "FP8 allowed" if q.allow_fp8 else "BF16",
            "source": "MFU is against dense BF16 peak either way (supercluster.perf.step)",
        },
        {
            "what": "pipeline schedules",
            "value": "zero-bubble schedules only with micro-batches >= stages",
            "source": (
                "their bubble formulas (Qi et al. 2023, arXiv:2401.10241) assume the steady state of m >= p; with "
                "fewer micro-batches a layout is priced under 1F1B, whose (m + p - 1) slots hold for any m "
                "(supercluster.limits.frontier.schedule_valid)"
            ),
        },
    ]


def run_limits(q: LimitsQuestion, options: SpaceOptions = LIMITS_SPACE) -> LimitsResult:
    """Every compute of the grid planned with supercluster's planner; the knee, the wall and the fabric wall."""
    t0 = time.perf_counter()
    rules = sources.rules()
    system = choose_system(q)
    sw = catalog.software(q.software or rules.software)
    template = catalog.model(rules.template_model)
    seq = q.seq_len or template.seq_len
    aspect = q.aspect_ratio or rules.aspect_ratio
    limit_days = q.months * rules.months_day_count
    fabric_gpus, fabric_why = max_gpus(system)
    opts = SpaceOptions(**{**options.__dict__, "allow_fp8": q.allow_fp8})
    points: list[PointResult] = []
    rows: list[dict[str, Any]] = []
    peak = system.accelerator.peak_flops("bf16")
    for c in grid(q):
        job = compute_job(c, rules, template, seq, aspect)
        prev = points[-1] if points else None
        if prev is not None and prev.shown is not None:
            scale = (
                c / prev.job.compute_flop
                if prev.feasible
                else job.workload.global_batch / prev.job.workload.global_batch
            )
            guess = prev.shown.gpus * scale
        else:
            guess = c / (limit_days * DAY_S * peak * FIRST_GUESS_MFU)
        # two points in a row that no GPU count finishes in time: past the wall, fewer rungs per point
        past_wall = len(points) >= 2 and not points[-1].feasible and not points[-2].feasible
        trials, stall = (PAST_WALL_TRIALS, PAST_WALL_STALL) if past_wall else (MAX_TRIALS, STALL_STEPS)
        point = frontier_point(job, system, sw, limit_days, guess, opts, trials, stall)
        points.append(point)
        rows.append(row(point, fabric_gpus))
    flops = [r["compute_flop"] for r in rows]
    knee = analysis.utilisation_knee(flops, [r["mfu"] for r in rows], [r["feasible"] for r in rows])
    wall = analysis.latency_wall(flops, [p.min_days for p in points], limit_days)
    needed = [float(p.chosen.gpus) if p.chosen else math.inf for p in points]
    fabric = analysis.fabric_wall(flops, needed, fabric_gpus)
    feasible_mfu = [r["mfu"] for r in rows if r["feasible"] and r["mfu"] is not None]
    last = points[-1].job
    tps = tp_choices(last.model, system)
    per_seq = {"tp": max(tps), "cp": max(cp_choices(seq)), "tp_domains": TP_DOMAINS}
    return LimitsResult(
        question=q,
        system=system,
        software_id=sw.id,
        fabric_gpus=fabric_gpus,
        fabric_why=fabric_why,
        limit_days=limit_days,
        rows=rows,
        knee=knee,
        wall=wall,
        fabric=fabric,
        plateau_mfu=max(feasible_mfu) if feasible_mfu else None,
        per_sequence_gpus=per_seq,
        wall_s=time.perf_counter() - t0,
        assumptions=_assumptions(q),
    )
