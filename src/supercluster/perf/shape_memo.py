"""Per-layer pieces that repeat across layouts, kept by the inputs they read.

The planner prices hundreds of inner keys (tp, cp, micro-batch, sequence parallel, precision, ep, etp) per search,
and :func:`supercluster.perf.layer.layer_parts` works each one out from scratch. Many of its pieces read fewer
knobs than the key: a linear layer's three GEMMs (perf.gemm) read only their shape and precision, so layouts that
differ in sequence parallelism, or hold the same tokens per GPU (micro-batch 2 at cp 2 and 1 at cp 1), run the very
same GEMMs; the fused attention kernel's speed factors (perf.attention_span) read cp only. The memo is a context's
(perf.context: one model, sequence, card, stack and set of module switches, dropped with it), so the card and the
stack are fixed within it and only the shape is the key.

Every kept value is what the same pure function returns on the same inputs (Python's float arithmetic is
deterministic), so results are bit-identical with and without it (tests/test_speed_identical.py,
tests/test_shape_memo.py). Without a memo (``None``: a lone :func:`supercluster.perf.layer.layer_cost`) each piece
is computed directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supercluster.perf.expert_gemm import expert_linear_gemms_s
from supercluster.perf.gemm import linear_gemms_s
from supercluster.specs import Accelerator

Memo = dict[tuple[Any, ...], Any] | None


def kept(memo: Memo, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """``memo[key]``, computed by ``compute`` on first use (every time when there is no memo)."""
    if memo is None:
        return compute()
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = compute()
    return hit


def gemms(
    memo: Memo, m: float, n: float, k: float, acc: Accelerator, precision: str, casts: bool = True
) -> tuple[float, float, float]:
    """perf.gemm.linear_gemms_s of one (m, n, k, precision, casts) on the memo's card, kept (:func:`kept` written
    out: this and :func:`expert_gemms` run for every layer of every candidate, and a closure per call costs more
    than the lookup). ``casts``: whether the quantization overhead applies (perf.fp8_casts)."""
    if memo is None:
        return linear_gemms_s(m, n, k, acc, precision, casts)
    key = ("gemm", m, n, k, precision, casts)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = linear_gemms_s(m, n, k, acc, precision, casts)
    return hit  # type: ignore[no-any-return]


def expert_gemms(
    memo: Memo,
    impl: str,
    groups: float,
    rows: float,
    n: float,
    k: float,
    acc: Accelerator,
    precision: str,
    exact: bool,
) -> tuple[float, float, float]:
    """perf.expert_gemm.expert_linear_gemms_s of one (implementation, experts, rows, n, k, precision, exact), kept."""
    if memo is None:
        return expert_linear_gemms_s(impl, groups, rows, n, k, acc, precision, exact)
    key = ("expert_gemm", impl, groups, rows, n, k, precision, exact)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = expert_linear_gemms_s(impl, groups, rows, n, k, acc, precision, exact)
    return hit  # type: ignore[no-any-return]
