"""DeepSpeed ZeRO-3's parameter prefetch, replayed: which all-gathers run serially with the compute.

DeepSpeed 0.6's ZeRO-3 (``deepspeed/runtime/zero/partitioned_param_coordinator.py`` at v0.6.2) gathers the
parameters of one submodule at a time, in the order it recorded on the first step (the *trace*), and overlaps a
gather with the compute only when it was issued ahead, as a prefetch. ``fetch_sub_module`` does three things per
submodule:

1. it all-gathers the submodule's own parameters if they are not already there and waits for them ("kick off all
   gather for params in the immediately required submodule ... wait for parameters in the immediately needed
   submodule to become available"): a gather issued here runs serially with the compute;
2. it prefetches the next parameters of the trace, but only up to ``min(max_n_available_params -
   n_available_params, prefetch_bucket_sz)`` elements (``max_params_to_prefetch``; the loop ``while
   self.__param_queue and numel_prefetching < max_params_to_prefetch`` pops at least one parameter whenever the
   headroom is positive), where ``max_n_available_params`` is ``stage3_max_live_parameters`` and
   ``n_available_params`` counts every gathered (or in-flight) parameter not yet released;
3. after the submodule runs, ``release_sub_module`` frees its parameters unless they are used again within
   ``stage3_max_reuse_distance`` elements of the trace (``__params_to_release``: "examine all modules within
   `max_reuse_dist_in_numel` of the current step, if we see any of the candidate parameters to be released reoccur
   while doing this, remove them from the set of parameters to release").

So a submodule whose parameters nearly fill ``stage3_max_live_parameters`` leaves no headroom: the next submodule's
gather is not prefetched and runs on demand, serially. Microsoft's Azure recipes (Megatron-DeepSpeed
examples/azure/run-1t.sh and run-175b.sh, commit 62bc456, 2022-07-11) set ``"stage3_max_live_parameters": 3e9``,
``"stage3_max_reuse_distance": 3e9`` and ``"stage3_prefetch_bucket_size": 5e7``: a 2T model's fused QKV matrix
(3 x 32,768^2 = 3.2e9) and its FFN matrices (4 x 32,768^2 = 4.3e9) are each larger than the cap, a 1T model's FFN
matrices (2.6e9) fill 87% of it, and with full recompute the parameters kept for reuse between a layer's recompute
and its backward stay counted while the next ones would be prefetched.

:func:`replay` walks the trace of one step (forward; then per layer, last first, the recompute forward under full
recompute and the backward) with these three rules and returns the share of the gathered elements that were
fetched on demand and the gathered elements per parameter (the passes: 2 without reuse, up to 3 with full
recompute, fewer where the reuse distance keeps a module from its recompute to its backward). The step model
(:mod:`supercluster.perf.batch`) books the on-demand share of the all-gather time as serial with the compute and
overlaps the rest, as before. A prefetched gather is taken as hidden: whether one submodule's compute covers the
next one's gather is left to the step model's overlap window.

Two more behaviours of the same code, priced alongside (``batch``):

- One collective per submodule (:func:`calls_per_pass`): each parameterised submodule is gathered with its own
  ``all_gather_coalesced`` call and each reduce bucket is one reduce-scatter, so a pass pays NCCL's latency per
  call (``fsdp.per_unit_s``), as FSDP's units do; at 1,024 ranks a ring call's latency is milliseconds.
- With the optimizer offloaded to the host (``offload_optimizer``), ``__partition_grads`` copies each reduced
  gradient partition into the host's fp32 buffer with a blocking ``copy_`` inside the gradient hook, on the
  thread that launches the backward's kernels: the backward waits for every bucket's reduce-scatter, which then
  runs serially with the compute (``SoftwareProfile.zero3_offload_grad_copy_sync``).

Not priced, and why (read in the same code): every submodule's pre-forward and pre-backward hook, parameterised
or not, ends ``fetch_sub_module`` with ``torch.cuda.current_stream().wait_stream(self.__allgather_stream)``, so a
prefetched gather hides only behind the one submodule's compute between its issue and the next hook (depth one),
not behind the whole pass the step model's window allows. At the bundled rows' micro-batches (8,192 tokens and
more per GPU) each matrix multiply still covers the next matrix's gather; it matters at 1-4 sequences per GPU,
which the post's figures show (its Figures 5-7: TFLOPs/GPU 50-77 at one sequence per GPU against 157-204 at 8-32).

Accuracy at the time of landing (validate all, before and after; no constant fitted, every setting the recipes'):
all 749 predicted rows 7.66% -> 7.63% in sample, leave-one-source-out 8.09% -> 8.06%; the FP16 group 6.20% ->
5.92%; the 256-2,047 band's signed mean +0.68% -> +0.61%; the Azure post's 1T/2T table 44.0% -> 32.5% (1T +39.6%
-> +32.8%, 2T +48.4% -> +32.2%: the 2T's on-demand gathers took the gap between the two), its 175B row +11.5% ->
+11.3%; the published set unchanged (3.83% / 3.93%); no other row moves (only these profiles carry the fields).
Both offloaded rows still read a third too fast; the post's micro-batch sweeps (Figures 5b, 6 and 7) put the
step at about compute + a per-step cost that does not shrink with the micro-batch and grows with the GPU count
(175B at 1,024 sequence length: about 8 s at 128 GPUs, 20 s at 1,024), the size of the whole step's ZeRO-3
traffic as ``comm`` prices it, as if none of it overlapped; which code path serialises it beyond the above is
not identified, so it is not priced. (Later priced as measured, all of the traffic serial, with the code path still not
identified: perf.zero3_serial.)

Modules of a Megatron GPT layer with parameters (Megatron-DeepSpeed ``ParallelAttention.query_key_value``,
``.dense``, ``ParallelMLP.dense_h_to_4h``, ``.dense_4h_to_h``); the layer norms and biases are below
``stage3_param_persistence_threshold`` (1e5 elements) and persist, so they are never gathered.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Any

import numpy as np

from supercluster.specs import ModelSpec


def layer_modules(model: ModelSpec, tp: int = 1) -> tuple[float, ...]:
    """Parameters per GPU of the four parameterised submodules of one dense layer, in forward order: the fused QKV
    projection, the attention output projection, the FFN up projection (gate and up fused when gated) and the FFN
    down projection, each divided by the tensor-parallel degree."""
    out = float(model.heads * model.dhead * model.hidden)
    qkv = float(model.attention_params) - out
    down = float(model.hidden * model.ffn_hidden)
    up = float(model.dense_ffn_params) - down
    return tuple(p / tp for p in (qkv, out, up, down))


def _trace(modules: tuple[float, ...], layers: int, recompute: bool) -> list[tuple[int, float]]:
    """(parameter id, elements) of every submodule visit of one step: forward, then per layer (last first) the
    recompute forward (full recompute) and the backward in reverse module order."""
    k = len(modules)
    visits = [(layer * k + j, modules[j]) for layer in range(layers) for j in range(k)]
    for layer in reversed(range(layers)):
        if recompute:
            visits += [(layer * k + j, modules[j]) for j in range(k)]
        visits += [(layer * k + j, modules[j]) for j in reversed(range(k))]
    return visits


@lru_cache(maxsize=256)
def replay(
    modules: tuple[float, ...],
    layers: int,
    recompute: bool,
    max_live: float,
    prefetch_bucket: float,
    max_reuse: float,
) -> tuple[float, float]:
    """(on-demand share of the gathered elements, gathered elements per parameter) of one step of DeepSpeed 0.6
    ZeRO-3 over ``layers`` layers of ``modules`` (module docstring: fetch, prefetch under the live-parameter cap,
    release beyond the reuse distance)."""
    trace = _trace(modules, layers, recompute)
    size = {pid: n for pid, n in trace}
    available: set[int] = set()
    live = 0.0
    queue = deque(range(len(trace)))
    demand = gathered = 0.0
    prefix = [0.0]  # prefix[k]: elements of visits 0 .. k-1
    for _, n in trace:
        prefix.append(prefix[-1] + n)
    next_use: list[int | None] = [None] * len(trace)
    seen: dict[int, int] = {}
    for k in range(len(trace) - 1, -1, -1):
        next_use[k] = seen.get(trace[k][0])
        seen[trace[k][0]] = k
    for step, (pid, numel) in enumerate(trace):
        if pid not in available:  # not prefetched: gathered now, and waited for
            available.add(pid)
            live += numel
            demand += numel
            gathered += numel
        while queue and queue[0] <= step:  # the current submodule's own entries leave the queue
            queue.popleft()
        headroom = min(max_live - live, prefetch_bucket)
        taken = 0.0
        while queue and taken < headroom:
            nxt = trace[queue.popleft()][0]
            taken += size[nxt]
            if nxt not in available:
                available.add(nxt)
                live += size[nxt]
                gathered += size[nxt]
        # release unless used again within max_reuse elements of the trace ahead: the elements of the visits
        # strictly between this one and the parameter's next visit must not exceed it
        nxt_use = next_use[step]
        reused = nxt_use is not None and prefix[nxt_use] - prefix[step + 1] <= max_reuse
        if not reused:
            available.discard(pid)
            live -= numel
    params = float(sum(modules)) * layers
    return (demand / gathered if gathered else 0.0), (gathered / params if params else 0.0)


def shares(
    model: ModelSpec,
    tp: Any,
    layers: Any,
    full_recompute: Any,
    max_live: float,
    prefetch_bucket: float,
    max_reuse: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(on-demand share, gathered elements per parameter) for each candidate layout (arrays of the
    tensor-parallel degree, the first stage's layers and whether it recomputes fully), from :func:`replay` once per
    distinct triple. MoE models are left at the step model's default (no on-demand share, two passes): their
    experts' gathers run on their own groups and are not replayed here."""
    tp_a, layers_a, rc_a = np.broadcast_arrays(
        np.asarray(tp, dtype=np.int64), np.asarray(layers, dtype=float), np.asarray(full_recompute, dtype=bool)
    )
    share = np.zeros(tp_a.shape)
    passes = np.full(tp_a.shape, 2.0)
    if model.is_moe:
        return share, passes
    for key in set(zip(tp_a.ravel().tolist(), layers_a.ravel().tolist(), rc_a.ravel().tolist(), strict=True)):
        t, n, rc = key
        if n < 1:
            continue
        mask = (tp_a == t) & (layers_a == n) & (rc_a == rc)
        s, p = replay(layer_modules(model, int(t)), int(n), bool(rc), max_live, prefetch_bucket, max_reuse)
        share[mask], passes[mask] = s, p
    return share, passes


def calls_per_pass(model: ModelSpec, tp: Any, layers: Any, bucket: float) -> tuple[np.ndarray, np.ndarray]:
    """(all-gather calls, reduce-scatter calls) of one pass over ``layers`` dense layers under DeepSpeed ZeRO-3.

    Gathers: one ``all_gather_coalesced`` per parameterised submodule (``fetch_sub_module`` gathers
    ``iter_params(current_submodule)`` in one call), four per layer (:func:`layer_modules`). Reduce-scatters: the
    gradients fill a bucket of ``reduce_bucket_size`` elements, flushed before a gradient that would overflow it
    (stage3.py ``reduce_independent_p_g_buckets_and_remove_grads``: "if self.elements_in_ipg_bucket +
    param.ds_numel > self.reduce_bucket_size: self.__reduce_and_partition_ipg_grads()"), so a submodule at least
    as large as the bucket is one call of its own and smaller ones share calls::

        reduce-scatter calls per layer = sum_j min(1, n_j / bucket)"""
    tp_a, layers_a = np.broadcast_arrays(np.asarray(tp, dtype=np.int64), np.asarray(layers, dtype=float))
    per_layer = np.zeros(tp_a.shape)
    for t in set(tp_a.ravel().tolist()):
        per_layer[tp_a == t] = sum(min(1.0, n / bucket) for n in layer_modules(model, int(t)))
    return 4.0 * layers_a, per_layer * layers_a
