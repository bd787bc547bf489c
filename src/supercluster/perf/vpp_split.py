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
decoder layers plus the layers the split counts for the ends (perf.pp_split: none under ``uniform``, the profile's
``pp_accounted_layers`` under ``accounted``): ``n % pp == 0`` and ``(n / pp) % vpp == 0``, i.e. ``n % (pp * vpp) ==
0``; a profile whose accounted ends are explicit first/last counts (anything but the two flags' one layer each) also
needs the first rank's ``n / pp - first`` and the last rank's ``n / pp - last`` to divide by ``vpp``. One chunk per
rank (vpp 1) is refused only where the profile's split is ``uniform`` or ``accounted`` and ``pp`` does not divide
``n`` (the same "num_layers % pipeline_model_parallel_size" asserts); a ``balanced`` profile's vpp-1 split stands
for the recipe's own first/last stage counts, which Megatron-Core 0.9 refuses to interleave (core_v0.9.0
transformer_block.py: "Uneven number of layer not compatible with interleaved pipeline schedule"), so its
interleaved layouts take the uniform arithmetic above. Stacks that
split freely (torchtitan, DeepSpeed's PipelineModule, NeMo AutoModel, Megatron-Core recipes with a layout) have
``pp_split_exact`` false and keep the planner's generic rule, ``pp * vpp <= layers + 2``.
"""

from __future__ import annotations

from collections.abc import Callable

from supercluster.specs import SoftwareProfile

# the two account_for_*_in_pipeline_split flags each count one layer (perf.pp_split); other counts are explicit
# num_layers_in_first/last_pipeline_stage, whose ranks' own counts must divide by vpp too
_FLAG_LAYERS = (1, 1)
# splits whose every rank's count is fixed by the layers and pp (perf.pp_split): an exact stack asserts pp divides
# them even with one chunk per rank; a balanced split is the recipe's own first/last counts, free at vpp 1
UNIFORM_SPLITS = ("uniform", "accounted")


def split_layers(sw: SoftwareProfile, layers: int) -> int:
    """Layers the stack's split divides over the ranks: the decoder layers plus the ends it counts as layers."""
    if sw.pp_split == "accounted":
        return layers + sum(sw.pp_accounted_layers)
    return layers


def rank_counts(sw: SoftwareProfile, layers: int, pp: int) -> tuple[int, ...] | None:
    """The distinct per-rank layer counts an exact split asserts vpp divides; None when ``pp`` does not divide the
    split's layers (no interleaving runs then)."""
    n = split_layers(sw, layers)
    if n % pp:
        return None
    per_rank = n // pp
    if sw.pp_split == "accounted" and tuple(sw.pp_accounted_layers) != _FLAG_LAYERS:
        first, last = sw.pp_accounted_layers
        return (per_rank, per_rank - first, per_rank - last)
    return (per_rank,)


def allows(sw: SoftwareProfile, layers: int, pp: int, vpp: int) -> bool:
    """Whether the stack runs ``pp`` ranks with ``vpp`` chunks each (module docstring)."""
    if not sw.pp_split_exact or (vpp == 1 and sw.pp_split not in UNIFORM_SPLITS):
        return True
    counts = rank_counts(sw, layers, pp)
    return counts is not None and all(c > 0 and c % vpp == 0 for c in counts)


def valid_vpps(sw: SoftwareProfile, layers: int, pp: int, limit: int) -> list[int]:
    """Every vpp from 1 to ``limit`` the stack runs at ``pp`` ranks, ascending (an exact split: the common divisors
    of the ranks' counts)."""
    return [v for v in range(1, limit + 1) if allows(sw, layers, pp, v)]


def refusal(sw: SoftwareProfile, layers: int, pp: int, vpp: int | None, limit: int = 16) -> str:
    """One line with the arithmetic: why the stack refuses ``vpp`` at ``pp`` (None: every vpp) and what it runs."""
    n = split_layers(sw, layers)
    counted = f"{layers} layers + {n - layers} counted for the ends" if n != layers else f"{layers} layers"
    valid = ", ".join(str(v) for v in valid_vpps(sw, layers, pp, limit))
    if n % pp:
        pps = [p for p in range(2, n + 1) if n % p == 0 and p <= layers]
        to = "" if sw.pp_split in UNIFORM_SPLITS else " to interleave"
        where = f"pp({pp}) must divide the {counted} ({n} % {pp} = {n % pp}){to}"
        tail = f"valid vpp at pp {pp}: {valid}" if valid else f"valid pp: 1, {', '.join(str(p) for p in pps)}"
        return f"{where} on {sw.id}, which asserts an exact split; {tail}"
    counts = rank_counts(sw, layers, pp) or ()
    per = "/".join(str(c) for c in sorted(set(counts), reverse=True))
    where = f"vpp({vpp}) must divide the {per} layers per pipeline stage ({counted} / pp {pp})"
    return f"{where} on {sw.id}, which asserts an exact split; valid vpp at pp {pp}: {valid}"


def space_rule(sw: SoftwareProfile, layers: int) -> Callable[[int, int], bool] | None:
    """The ``(pp, vpp) -> allowed`` test plan.space.enumerate_space filters with; None for a stack that splits
    freely (the planner's generic rule then holds)."""
    if not sw.pp_split_exact:
        return None
    return lambda pp, vpp: allows(sw, layers, pp, vpp)
