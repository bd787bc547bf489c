"""The parallel-layout search space, enumerated straight into candidate arrays.

Axes: tp (divides heads and kv heads; up to 4 scale-up domains, crossing the
network at its real cost), cp (powers of two leaving >= 1,024 tokens per rank,
even chunks for causal balancing), pp (any divisor of the GPUs left, uneven
first/last stages allowed), dp (what remains), ep (MoE: divides the experts and
dp*cp), micro-batch, vpp (interleaving: pp*vpp <= layers + 2, the embedding
and the output head each allowed a chunk of their own, or, on a stack that
asserts an exact split, a divisor of every rank's layers, perf.vpp_split;
micro-batches a multiple of pp), ZeRO 0-3, recompute none/selective/full, sequence parallelism,
and FP8 where the accelerator has it.

Pruned before evaluation, because they are dominated: sequence parallelism
off when tp > 1 (same traffic, more memory and elementwise work), and
selective recompute under flash attention where the stack's selective keeps
all but the kernel's own state (the memory of none, and never faster: it may
still re-run work, perf.selective_policy; perf.selective_memory.saves_memory
names the stacks whose selective does save memory, which keep it). Counted in
the statistics as generated but not evaluated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from supercluster.perf import recompute_modules, selective_memory
from supercluster.perf.batch import PRECISION, RECOMPUTE, SCHEDULE_NAMES, Candidates
from supercluster.perf.pipeline import EMBEDDING_HEAD_CHUNKS
from supercluster.specs import ModelSpec, PlanSpec, SystemSpec, WorkloadSpec
from supercluster.specs.system import SelectiveReruns

MICRO_BATCHES = (1, 2, 4, 8, 16)
VPP_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
# Search bounds, not physics: below ~1K tokens per rank ring attention is latency-bound and no published
# run uses it; tensor parallelism past 4 scale-up domains pays the network on every layer and never ranks.
MIN_TOKENS_PER_CP_RANK = 1024
TP_DOMAINS = 4


@dataclass(frozen=True)
class SpaceOptions:
    """Knobs of the search itself.

    The search tries BF16 and, where the card has it and ``allow_fp8``, FP8 (per-tensor scaling). MXFP8 and
    NVFP4 are priced only when the plan asks for them: MXFP8 buys numerics, not speed, over FP8, and NVFP4
    changes the training recipe itself (arXiv:2509.25149), so neither is a layout choice to make silently.
    """

    allow_fp8: bool = True
    zero_stages: tuple[int, ...] = (0, 1, 2, 3)
    recompute: tuple[str, ...] = RECOMPUTE
    micro_batches: tuple[int, ...] = MICRO_BATCHES
    vpp_choices: tuple[int, ...] = VPP_CHOICES


@dataclass
class Space:
    candidates: Candidates
    generated: int


def divisors(n: int) -> list[int]:
    """Every divisor of ``n``, ascending (trial division up to sqrt(n))."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def tp_choices(model: ModelSpec, system: SystemSpec) -> list[int]:
    limit = min(model.heads, TP_DOMAINS * system.domain_gpus)
    return [t for t in range(1, limit + 1) if model.heads % t == 0 and model.kv % t == 0]


def cp_choices(seq: int) -> list[int]:
    out, c = [], 1
    while seq % c == 0 and (c == 1 or (seq // c >= MIN_TOKENS_PER_CP_RANK and (seq // c) % 2 == 0)):
        out.append(c)
        c *= 2
    return out


def product(columns: tuple[list[Any], ...]) -> np.ndarray:
    """The rows of itertools.product(*columns), in its order (the last column fastest), as an int64 array with a
    column per list: the same array np.array(list(itertools.product(...))) makes, without the Python tuples."""
    sizes = [len(c) for c in columns]
    out = np.empty((len(columns), math.prod(sizes)), dtype=np.int64)  # a contiguous row per column, returned as .T
    for j, col in enumerate(columns):
        # column j holds each value for prod(sizes[j + 1:]) rows in a row, the whole run prod(sizes[:j]) times
        run = np.repeat(np.asarray(col, dtype=np.int64), math.prod(sizes[j + 1 :]))
        out[j].reshape(math.prod(sizes[:j]), run.size)[:] = run
    return out.T


def enumerate_space(
    workload: WorkloadSpec,
    system: SystemSpec,
    gpus: int,
    fixed: PlanSpec,
    options: SpaceOptions = SpaceOptions(),
    flash_attention: bool = True,
    schedules: tuple[str, ...] = ("1f1b",),
    stack_zero: tuple[int, ...] = (0, 1, 2, 3),
    ep_folded: bool = False,
    stack_sp: bool = True,
    stack_vpp: bool = True,
    stack_selective: bool = True,
    selective_reruns: SelectiveReruns = "unfused-core",
    vpp_allows: Callable[[int, int], bool] | None = None,
) -> Space:
    """Every valid layout that agrees with the fixed knobs of ``fixed``.

    With flash attention the score matrix is never stored, so selective recompute saves nothing over none
    and may still re-run work (perf.selective_policy): it is pruned unless asked for, or unless the stack's
    selective (``selective_reruns``) keeps less than the rest of the layer (perf.selective_memory.saves_memory:
    DeepSeek's MLA norms and up-projections, torchtitan's op policy). ``stack_sp`` /
    ``stack_vpp`` / ``stack_selective`` false: the stack has no sequence parallelism / no interleaved schedule /
    no selective recompute (SoftwareProfile), so a blank knob is filled without it. ``vpp_allows(pp, vpp)``: the
    stack asserts an exact interleaved split (perf.vpp_split.allows; None: it splits freely), so only the vpps that
    divide the ranks' layer counts are tried, every one up to the largest of ``options.vpp_choices``.
    """
    model, seq, gb = workload.model, workload.seq, workload.global_batch
    acc = system.accelerator
    tps = [fixed.tp] if fixed.tp else tp_choices(model, system)
    cps = [fixed.cp] if fixed.cp else cp_choices(seq)
    precs: list[str]
    if fixed.precision:
        precs = [fixed.precision]
    else:
        precs = ["bf16"] + (["fp8"] if options.allow_fp8 and acc.supports("fp8") else [])
    rcs = [fixed.recompute] if fixed.recompute else list(options.recompute)
    scheds = [fixed.schedule] if fixed.schedule else list(schedules)
    if not fixed.recompute and not stack_selective and "selective" in rcs and len(rcs) > 1:
        rcs.remove("selective")
    rc_total = len(rcs)
    # (unless the stack's selective discards more than the kernel's own state: perf.selective_memory)
    if (
        not fixed.recompute
        and flash_attention
        and not selective_memory.saves_memory(selective_reruns, model.is_mla)
        and "selective" in rcs
        and "none" in rcs
    ):
        rcs.remove("selective")
    # only the sharding the stack has (SoftwareProfile.zero_stages); if the search's own list shares none of it,
    # the stack's list
    offered = [z for z in options.zero_stages if z in stack_zero] or list(stack_zero)
    zeros = [fixed.zero] if fixed.zero is not None else offered
    # the categorical knobs as the integer codes Candidates holds
    rc_codes = [RECOMPUTE.index(r) for r in rcs]
    prec_codes = [PRECISION.index(p) for p in precs]
    sched_codes = [SCHEDULE_NAMES.index(sc) for sc in scheds]
    generated = 0
    blocks: list[np.ndarray] = []  # the knob combinations of each (tp, cp, pp) that pass the checks
    block_knobs: list[tuple[int, ...]] = []  # and that block's (tp, pp, cp, dp, lb, etp)
    for tp, cp in itertools.product(tps, cps):
        if gpus % (tp * cp):
            continue
        rest = gpus // (tp * cp)
        pps = [fixed.pp] if fixed.pp else [p for p in divisors(rest) if p <= model.layers]
        for pp in pps:
            if rest % pp:
                continue
            dp = rest // pp
            if (fixed.dp and fixed.dp != dp) or gb % dp:
                continue
            per_replica = gb // dp
            lb = fixed.local_batch or 0  # sequences per pipeline pass (0: the whole step in one pass)
            if lb and per_replica % lb:
                continue
            mbs = (
                [fixed.micro_batch] if fixed.micro_batch else [b for b in options.micro_batches if per_replica % b == 0]
            )
            if lb:
                mbs = [b for b in mbs if lb % b == 0]
            # an expert group tiles the ranks its experts are not split over: dp * cp, and tp / etp more when a
            # folding stack splits experts over fewer ranks than the attention (etp < tp)
            etp = fixed.etp or tp
            if fixed.etp is None and ep_folded and fixed.ep and (dp * cp) % fixed.ep:
                # the given ep tiles the ranks only if experts are split over fewer ranks than the attention:
                # the widest expert TP that makes it fit, as a Megatron-Core recipe would set it
                fits = [e for e in sorted(divisors(tp), reverse=True) if (dp * cp * (tp // e)) % fixed.ep == 0]
                etp = fits[0] if fits else tp
            if tp % etp or (etp != tp and not ep_folded):
                continue
            expert_ranks = dp * cp * (tp // etp)
            if fixed.ep:
                if expert_ranks % fixed.ep:
                    continue
                eps = [fixed.ep]
            elif model.is_moe:
                eps = [e for e in divisors(model.moe_experts) if expert_ranks % e == 0]
            else:
                eps = [1]
            sps = [fixed.sequence_parallel] if fixed.sequence_parallel is not None else [tp > 1 and stack_sp]
            sp_variants = 1 if fixed.sequence_parallel is not None or tp == 1 or not stack_sp else 2
            if fixed.vpp:
                vpps = [fixed.vpp] if vpp_allows is None or vpp_allows(pp, fixed.vpp) else []
            elif not stack_vpp:
                vpps = [1]
            elif vpp_allows is not None:  # an exact split: every vpp up to the search's largest that divides
                vpps = [v for v in range(1, max(options.vpp_choices) + 1) if (v == 1 or pp > 1) and vpp_allows(pp, v)]
            else:
                chunks = model.layers + EMBEDDING_HEAD_CHUNKS
                vpps = [v for v in options.vpp_choices if v == 1 or (pp > 1 and pp * v <= chunks)]
            arr = product((mbs, vpps, zeros, rc_codes, prec_codes, eps, sps, sched_codes))
            generated += len(arr) * sp_variants * rc_total // len(rcs)
            if len(arr) == 0:
                continue
            blocks.append(arr)  # the rows the schedule checks below keep, all blocks at once
            block_knobs.append((tp, pp, cp, dp, lb, etp, lb or per_replica))
    if blocks:
        # the checks of each row against its block's knobs, as arrays over every block's rows (the same integer
        # arithmetic row by row as a pass per block; the rows stay in their blocks' order)
        arr = np.concatenate(blocks)
        knobs = np.repeat(np.array(block_knobs, dtype=np.int64), [len(b) for b in blocks], axis=0)
        tp_k, pp_k, per_pass = knobs[:, 0], knobs[:, 1], knobs[:, 6]
        m = per_pass // arr[:, 0]  # micro-batches per pipeline pass
        ok = (arr[:, 1] == 1) | (m % pp_k == 0)
        ok &= ~((arr[:, 6] == 1) & (tp_k == 1))
        sc = arr[:, 7]
        ok &= (sc == 0) | (pp_k > 1)
        ok &= ~((sc == 1) & (arr[:, 1] != 1))  # ZB-H1: one chunk
        ok &= ~((sc == 2) & (arr[:, 1] != 2))  # ZB-V: two chunks in a V
        ok &= ~((sc == 3) & ((arr[:, 1] != 1) | (pp_k % 2 == 1) | (m < pp_k)))  # DualPipe
        arr, knobs = arr[ok], knobs[ok]
    if not blocks or len(arr) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Space(
            Candidates(
                empty,
                empty,
                empty,
                empty,
                empty,
                empty,
                empty,
                empty,
                empty.astype(bool),
                empty.astype(np.int8),
                empty.astype(np.int8),
            ),
            generated,
        )
    # each block's own columns concatenated, the knobs a block shares repeated over its rows: one array per field
    cols = np.ascontiguousarray(arr.T)
    tp_col, pp_col, cp_col, dp_col, lb_col, etp_col, _ = np.ascontiguousarray(knobs.T)
    merged = Candidates(
        tp=tp_col,
        pp=pp_col,
        vpp=cols[1],
        cp=cp_col,
        ep=cols[5],
        dp=dp_col,
        zero=cols[2],
        mb=cols[0],
        sp=cols[6].astype(bool),
        rc=cols[3].astype(np.int8),
        prec=cols[4].astype(np.int8),
        sched=cols[7].astype(np.int8),
        lb=lb_col,
        etp=etp_col,
    )
    if fixed.recompute_fraction is not None and merged.rcf is not None:
        # a given share applies to full recompute; the fill may still choose none or selective instead
        merged.rcf[merged.rc == 2] = fixed.recompute_fraction
    if fixed.recompute_modules and merged.rcm is not None:
        # the given modules are what the (given) selective recompute re-runs (perf.recompute_modules)
        merged.rcm[merged.rc == RECOMPUTE.index("selective")] = recompute_modules.mask_of(fixed.recompute_modules)
    return Space(merged, generated)
