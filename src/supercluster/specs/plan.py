"""Execution plan: the parallel layout and its options. Blank fields are filled."""

from typing import Any, Literal

from pydantic import Field, field_validator

from supercluster.specs.base import Spec

Recompute = Literal["none", "selective", "full"]
# Megatron-Core's selective recompute modules (--recompute-modules; TransformerConfig.recompute_modules), priced
# by supercluster.perf.recompute_modules
RECOMPUTE_MODULES = ("core_attn", "layernorm", "mla_up_proj", "mlp", "moe", "moe_act", "shared_experts")


def _check_modules(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The modules as a sorted tuple without repeats; an unknown name is an error that lists the valid ones."""
    if value is None:
        return None
    unknown = [m for m in value if m not in RECOMPUTE_MODULES]
    if unknown:
        raise ValueError(f"unknown recompute module '{unknown[0]}'; valid: {', '.join(RECOMPUTE_MODULES)}")
    return tuple(sorted(set(value)))


TrainPrecision = Literal["bf16", "fp8", "mxfp8", "nvfp4"]
Schedule = Literal["1f1b", "zb-h1", "zb-v", "dualpipe"]
# How the sites of a multi-site job keep their replicas in step: a (hierarchical) gradient all-reduce every
# step, or DiLoCo's outer synchronisation every H inner steps (arXiv:2311.08105), whole or fragment by fragment
# behind the next inner steps (Streaming DiLoCo, arXiv:2501.18512).
Sync = Literal["allreduce", "diloco", "streaming-diloco"]

# The knobs a plan may leave blank and the estimator fills as a tuning engineer would.
FILLABLE = ("vpp", "zero", "sequence_parallel", "micro_batch", "recompute", "precision", "schedule")


class PlanSpec(Spec):
    tp: int | None = Field(default=None, ge=1, description="tensor parallel")
    pp: int | None = Field(default=None, ge=1, description="pipeline parallel")
    vpp: int | None = Field(default=None, ge=1, description="virtual stages per pipeline rank")
    cp: int | None = Field(default=None, ge=1, description="context parallel")
    ep: int | None = Field(default=None, ge=1, description="expert parallel (divides the DP group)")
    etp: int | None = Field(
        default=None,
        ge=1,
        description=(
            "expert tensor parallel: the ranks each expert is split over (Megatron-Core "
            "--expert-tensor-parallel-size); blank = tp. Below tp, a stack that folds expert parallelism "
            "(MoE Parallel Folding) lays its EP groups over tp * cp * dp / etp ranks"
        ),
    )
    dp: int | None = Field(default=None, ge=1, description="data parallel; blank = gpus/(tp*pp*cp)")
    zero: int | None = Field(default=None, ge=0, le=3, description="0 none, 1 optimizer, 2 +grads, 3 +params")
    sequence_parallel: bool | None = None
    micro_batch: int | None = Field(default=None, ge=1)
    recompute: Recompute | None = None
    recompute_fraction: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "share of a full recompute that is re-run when recompute is full (1: every layer; Megatron "
            "--recompute-num-layers k of a stage's L: k/L; torchtitan selective-layer AC every Nth block: 1/N; a "
            "policy that saves some matmul outputs: the share of the layer's forward FLOPs it re-runs), priced "
            "and held in memory as that share of layers fully recomputed and the rest not"
        ),
    )
    recompute_modules: tuple[str, ...] | None = Field(
        default=None,
        max_length=len(RECOMPUTE_MODULES),
        description=(
            "with recompute selective: the modules Megatron-Core re-runs (--recompute-modules: "
            + ", ".join(RECOMPUTE_MODULES)
            + "); blank = the selective recompute of Korthikanti et al. 2022 (the attention core where no fused "
            "kernel keeps it out of memory, plus MLA's up-projections and norms)"
        ),
    )
    precision: TrainPrecision | None = None
    schedule: Schedule | None = Field(default=None, description="pipeline schedule (1f1b covers interleaved)")
    local_batch: int | None = Field(
        default=None,
        ge=1,
        description=(
            "sequences per data-parallel rank in one pipeline pass, for stacks that accumulate gradients outside "
            "the pipeline schedule (torch.distributed.pipelining: NeMo AutoModel, torchtitan); blank = the whole "
            "step in one pass"
        ),
    )
    sites: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "sites of a multi-site system the job spans, each holding dp / sites whole model replicas (only data "
            "parallelism crosses the WAN); blank = the fewest sites that hold the job"
        ),
    )
    sync: Sync | None = Field(
        default=None,
        description=(
            "how the sites synchronise: allreduce (hierarchical gradient all-reduce every step), diloco (outer "
            "step every diloco_inner_steps, arXiv:2311.08105) or streaming-diloco (fragments, overlapped, FP4, "
            "arXiv:2501.18512); blank = allreduce"
        ),
    )
    diloco_inner_steps: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="inner steps H between outer synchronisations (DiLoCo); blank = the paper's (500; 100 streaming)",
    )

    @field_validator("recompute_modules")
    @classmethod
    def _modules(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_modules(value)


class ResolvedPlan(Spec):
    """A plan with every knob decided; what the step model consumes."""

    tp: int = Field(ge=1)
    pp: int = Field(ge=1)
    vpp: int = Field(ge=1)
    cp: int = Field(ge=1)
    ep: int = Field(ge=1)
    dp: int = Field(ge=1)
    zero: int = Field(ge=0, le=3)
    sequence_parallel: bool
    micro_batch: int = Field(ge=1)
    recompute: Recompute
    precision: TrainPrecision
    schedule: Schedule = "1f1b"
    recompute_fraction: float = Field(default=1.0, gt=0.0, le=1.0, description="share of a full recompute re-run")
    etp: int | None = Field(default=None, ge=1, description="expert tensor parallel (None: tp)")

    @property
    def expert_tp(self) -> int:
        """Ranks each expert is split over: etp when given, else tp."""
        return self.etp or self.tp

    @property
    def expert_ranks(self) -> int:
        """Ranks of one pipeline stage an expert-parallel group folds over: tp * cp * dp / expert_tp (cp * dp when
        experts are split like the attention, expert_tp = tp)."""
        return self.tp * self.cp * self.dp // self.expert_tp

    local_batch: int | None = Field(default=None, ge=1, description="sequences per DP rank per pipeline pass")
    sites: int = Field(default=1, ge=1, le=64, description="sites the job spans")
    sync: Sync = Field(default="allreduce", description="how the sites synchronise")
    diloco_inner_steps: int | None = Field(default=None, ge=1, le=100_000, description="inner steps H (DiLoCo)")
    recompute_modules: tuple[str, ...] = Field(
        default=(),
        max_length=len(RECOMPUTE_MODULES),
        description="Megatron-Core selective recompute modules (empty: the plain selective recompute)",
    )

    @field_validator("recompute_modules")
    @classmethod
    def _modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_modules(value) or ()

    @classmethod
    def single(cls, **knobs: Any) -> "ResolvedPlan":
        """One GPU, nothing sharded or recomputed, BF16, with ``knobs`` changed (for tools and tests)."""
        base: dict[str, Any] = dict(
            tp=1,
            pp=1,
            vpp=1,
            cp=1,
            ep=1,
            dp=1,
            zero=0,
            sequence_parallel=False,
            micro_batch=1,
            recompute="none",
            precision="bf16",
        )
        return cls(**(base | knobs))

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    def label(self) -> str:
        sp = "+sp" if self.sequence_parallel else ""
        return (
            f"tp{self.tp}{sp} pp{self.pp} vpp{self.vpp} cp{self.cp} ep{self.ep}"
            + (f" etp{self.etp}" if self.etp is not None and self.etp != self.tp else "")
            + f" dp{self.dp} "
            f"zero{self.zero} mb{self.micro_batch} rc-{self.recompute}"
            + (f"{self.recompute_fraction:.2g}" if self.recompute == "full" and self.recompute_fraction < 1 else "")
            + (f"[{'+'.join(self.recompute_modules)}]" if self.recompute_modules else "")
            + f" {self.precision}"
            + ("" if self.schedule == "1f1b" else f" {self.schedule}")
            + ("" if self.local_batch is None else f" lb{self.local_batch}")
            + self.sites_label()
        )

    def sites_label(self) -> str:
        """' sites2 diloco-h500' for a job across sites; empty on one site."""
        if self.sites == 1:
            return ""
        inner = f"-h{self.diloco_inner_steps}" if self.sync != "allreduce" and self.diloco_inner_steps else ""
        return f" sites{self.sites} {self.sync}{inner}"
