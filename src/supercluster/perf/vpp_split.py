"""Which virtual-pipeline sizes a stack can run: an exact split needs vpp to divide every rank's layer count.

Megatron-LM and Megatron-Core build each pipeline rank's ``num_layers_per_pipeline_rank`` decoder layers as ``vp_size``
equal model chunks and refuse a count that does not divide:

- Megatron-LM v2.5 / v2.6 (2021) megatron/model/transformer.py ParallelTransformer: "assert args.num_layers %
  mpu.get_pipeline_model_parallel_world_size() == 0, 'num_layers must be divisible by pipeline_model_parallel_size'"
  and, interleaved, "'num_layers_per_stage must be divisible by ' 'virtual_pipeline_model_parallel_size'" (the same
  two asserts at tag 23.04, transformer.py _get_num_layers and ParallelTransformer).
- Megatron-Core 0.9 and 0.10 megatron/training/arguments.py, with --num-layers-per-virtual-pipeline-stage: "assert
  args.num_layers % args.transformer_pipeline_model_parallel_size == 0" and "assert num_layers_per_pipeline_stage %
  args.num_layers_per_virtual_pipeline_stage == 0, 'number of layers per pipeline stage must be divisible number of
  layers per virtual pipeline stage'".
- Megatron-Core 0.11 and 0.12 megatron/core/transformer/transformer_block.py get_num_layers_to_build: the uniform
  branch adds one layer for each account_for_*_in_pipeline_split flag, then "assert num_layers %
  config.pipeline_model_parallel_size == 0"; the branch for num_layers_in_first/last_pipeline_stage asserts "With
  uneven pipelineing the left over layers must be divisible by left over stages" and takes the first (last) rank's
  count as given; then, interleaved, "assert num_layers_per_pipeline_rank % vp_size == 0,
  'num_layers_per_pipeline_rank should be divisible by vp_size'" on every rank.
- Megatron-Core 0.13 on (transformer_block.py at core_v0.13.0): "If we have a custom PP layout, straightforwardly
  return the number of decoders in the layout array": a recipe that gives ``pipeline_model_parallel_layout`` places
  any layer count on any chunk; without one the asserts above still hold.

So with ``SoftwareProfile.pp_split_exact`` a pipeline of ``pp`` ranks interleaved ``vpp`` ways needs, with ``n`` the
decoder layers plus the layers the split counts for the ends, ``n % pp == 0`` and ``(n / pp) % vpp == 0``, i.e.
``n % (pp * vpp) == 0``. The ends counted follow the profile's split (perf.pp_split): none under ``uniform``, the
profile's ``pp_accounted_layers`` under ``accounted`` (a profile whose accounted ends are explicit first/last counts,
anything but the two flags' one layer each, also needs the first rank's ``n / pp - first`` and the last rank's
``n / pp - last`` to divide by ``vpp``), and under ``balanced`` either none or the two flags' one layer each: the
balanced split prices the ends lighter, and the two account_for_* flags are the option a Megatron-Core recipe
interleaves such a split with (Llama 3.1 405B: (126 + 2) / pp 8 = 16 layers per rank, vpp 8). Explicit first/last
counts with unequal ends are not offered to a balanced profile (an assumption: they price as its split only by
chance). Uncertainty: the flags arrived in Megatron-Core 0.11 (transformer_block.py at core_v0.11.0; absent at
core_v0.9.0), so on 0.9-0.10 only the uniform arithmetic runs.

One chunk per rank (vpp 1) is refused only where the profile's split is ``uniform`` or ``accounted`` and ``pp`` does
not divide ``n`` (the same "num_layers % pipeline_model_parallel_size" asserts); a ``balanced`` profile's vpp-1 split
stands for the recipe's own first/last stage counts. Stacks that split freely (torchtitan, DeepSpeed's
PipelineModule, NeMo AutoModel, Megatron-Core recipes with a layout) have ``pp_split_exact`` false and keep the
planner's generic rule, ``pp * vpp <= layers + 2``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from supercluster.specs import SoftwareProfile

# the two account_for_*_in_pipeline_split flags each count one layer (perf.pp_split); other counts are explicit
# num_layers_in_first/last_pipeline_stage, whose ranks' own counts must divide by vpp too
_FLAG_LAYERS = (1, 1)
# splits whose every rank's count is fixed by the layers and pp (perf.pp_split): an exact stack asserts pp divides
# them even with one chunk per rank; a balanced split is the recipe's own first/last counts, free at vpp 1
UNIFORM_SPLITS = ("uniform", "accounted")


def splits(sw: SoftwareProfile) -> tuple[tuple[int, int], ...]:
    """The (first, last) layers each split the stack can interleave counts for the ends: none under ``uniform``,
    the profile's under ``accounted``; under ``balanced`` either (the recipe's choice: no flag, or both
    account_for_* flags, the Megatron-Core option whose ends run one decoder layer fewer, as the balanced split
    prices them)."""
    if sw.pp_split == "accounted":
        first, last = sw.pp_accounted_layers
        return ((first, last),)
    if sw.pp_split == "balanced":
        return ((0, 0), _FLAG_LAYERS)
    return ((0, 0),)


def rank_counts(layers: int, pp: int, ends: tuple[int, int]) -> tuple[int, ...] | None:
    """The distinct per-rank layer counts Megatron asserts vpp divides when the split counts ``ends`` layers for the
    first and the last rank; None when ``pp`` does not divide the layers so counted."""
    n = layers + sum(ends)
    if n % pp:
        return None
    per_rank = n // pp
    if ends not in ((0, 0), _FLAG_LAYERS):  # explicit first/last stage counts: every rank's own count
        return (per_rank, per_rank - ends[0], per_rank - ends[1])
    return (per_rank,)


def allows(sw: SoftwareProfile, layers: int, pp: int, vpp: int) -> bool:
    """Whether the stack runs ``pp`` ranks with ``vpp`` chunks each (module docstring)."""
    if not sw.pp_split_exact or (vpp == 1 and sw.pp_split not in UNIFORM_SPLITS):
        return True
    for ends in splits(sw):
        counts = rank_counts(layers, pp, ends)
        if counts is not None and all(c > 0 and c % vpp == 0 for c in counts):
            return True
    return False


def valid_vpps(sw: SoftwareProfile, layers: int, pp: int, limit: int) -> list[int]:
    """Every vpp from 1 to ``limit`` the stack runs at ``pp`` ranks, ascending (an exact split: the common divisors
    of the ranks' counts)."""
    return [v for v in range(1, limit + 1) if allows(sw, layers, pp, v)]


def _arithmetic(layers: int, pp: int, ends: tuple[int, int]) -> str:
    """One split's per-rank count, worked out: '56 / pp 8 = 7' or '(56 + 2) / pp 8 = 7.25'."""
    n = layers + sum(ends)
    counts = rank_counts(layers, pp, ends)
    head = f"{layers} / pp {pp}" if n == layers else f"({layers} + {n - layers}) / pp {pp}"
    if counts is None:
        return f"{head} = {n / pp:.4g}"
    return f"{head} = " + "/".join(str(c) for c in sorted(set(counts), reverse=True))


def refusal(sw: SoftwareProfile, layers: int, pp: int, vpp: int | None, limit: int = 16) -> str:
    """One line with the arithmetic: why the stack refuses ``vpp`` at ``pp`` (None: every vpp) and what it runs."""
    ways = " or ".join(_arithmetic(layers, pp, ends) for ends in splits(sw))
    valid = valid_vpps(sw, layers, pp, limit)
    if not valid:
        if vpp is None:  # every pp at which some vpp runs
            pps = [p for p in range(1, layers + 1) if valid_vpps(sw, layers, p, limit)]
            at = ""
        else:  # every pp at which the given vpp runs (interleaving needs pp > 1)
            pps = [p for p in range(1, layers + 1) if (vpp == 1 or p > 1) and allows(sw, layers, p, vpp)]
            at = f" at vpp {vpp}"
        return (
            f"pp({pp}) must divide the layers on {sw.id}, which asserts an exact split: {ways} layers per stage; "
            f"valid pp{at}: {', '.join(str(p) for p in pps) or 'none'}"
        )
    return (
        f"vpp({vpp}) must divide the layers per pipeline stage on {sw.id}, which asserts an exact split: {ways}; "
        f"valid vpp at pp {pp}: {', '.join(str(v) for v in valid)}"
    )


def space_rule(sw: SoftwareProfile, layers: int) -> Callable[[int, int], bool] | None:
    """The ``(pp, vpp) -> allowed`` test plan.space.enumerate_space filters with; None for a stack that splits
    freely (the planner's generic rule then holds). Memoised per (pp, vpp): the space asks once per block of the
    other knobs, some fifteen times per pair (the Grok-1 Colossus search of benchmarks/bench_plan.py: 2,602 calls,
    177 pairs)."""
    if not sw.pp_split_exact:
        return None
    return functools.lru_cache(maxsize=None)(lambda pp, vpp: allows(sw, layers, pp, vpp))
