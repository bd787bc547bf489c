"""Price a collective once per group of candidates that send the same message over the same group of ranks.

The planner's gradient synchronisation prices every candidate's all-reduce, reduce-scatter and all-gather over
its data-parallel group with NCCL's cost model (fabric.collectives: every algorithm and protocol, as arrays). The
inputs of those calls (the first stage's parameters, the data- and expert-data-parallel groups, the job's GPUs)
depend only on the candidate's (inner key, pp) pair, its dp and its sites, while the candidates of one such group
differ in knobs the calls do not read (ZeRO stage, schedule, vpp, micro-batches per pass): a Grok-1 search on
98,304 GPUs prices about five times more candidates than distinct calls. :func:`by_group` runs the call on one
representative of each group and spreads its answer to the group.

The cost model is elementwise (every array operation of CollectiveModel.algorithms acts on each entry alone), so the
representative's entry is the very float the full array would hold there; results are bit-identical
(tests/test_speed_identical.py, tests/test_shape_memo.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from supercluster.fabric.collectives import Span

Collective = Callable[[Any, Span], Any]


def groups(code: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(representative index of each group, each candidate's group) of integer group codes; None where grouping
    would save little (fewer than two candidates per group on average, or a single group, whose one-entry arrays
    the cost model would price on its scalar path instead of the array path the search uses)."""
    n = len(code)
    if n < 4:
        return None
    uniq, inverse = np.unique(code, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(uniq) < 2 or 2 * len(uniq) > n:
        return None
    rep = np.zeros(len(uniq), dtype=np.int64)
    rep[inverse[::-1]] = np.arange(n)[::-1]  # the first candidate of each group
    return rep, inverse


def by_group(collective: Collective, grouping: tuple[np.ndarray, np.ndarray] | None) -> Collective:
    """``collective`` (e.g. ``comm.all_reduce``) as a call on arrays of every candidate that prices one
    representative per group (:func:`groups`) and gives each candidate its group's time; ``collective`` itself
    where there is no grouping."""
    if grouping is None:
        return collective
    rep, inverse = grouping

    def call(nbytes: Any, span: Span) -> Any:
        one = nbytes[rep] if np.ndim(nbytes) else nbytes
        picked = Span(_pick(span.n, rep), _pick(span.k, rep), _pick(span.extent, rep))
        out = np.asarray(collective(one, picked))
        return out[inverse] if out.ndim else out

    return call


def _pick(x: Any, rep: np.ndarray) -> Any:
    return x[rep] if np.ndim(x) else x
