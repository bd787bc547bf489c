"""What the step model derives from the specs alone, kept between calls.

:func:`supercluster.perf.batch.evaluate` prices candidates against one (model, sequence length, system, software)
context. Two things in it depend on that context only, not on the candidates: the system's collective model
(:class:`supercluster.fabric.collectives.CollectiveModel`, with its memo of NCCL's choices) and the per-layer
costs of each inner key (:func:`supercluster.perf.batch.inner_terms`, one row per tp, cp, micro-batch, sequence
parallel, recompute, precision, ep, etp). One estimate used to rebuild both on every call, a quarter of its time.
The rows' pieces that depend on fewer knobs (a layer's costs before its recompute mode, a dense layer's without ep
and etp, the head and embedding by tp, micro-batch and cp) are kept beside them (``parts``), so the planner computes
each once for the rows that share it.

The specs are frozen pydantic models, so the same objects always hold the same values: a context is looked up
by the identity of its specs, and holds references to them so that no id is reused while its entry lives. The
cached values are the very numbers the uncached code computes (the same function on the same inputs), so
results are bit-identical (tests/test_speed_cache.py). The scalar module constants of the model's packages
(the switches the accuracy protocols in scripts/*_protocol.py flip, a test's monkeypatch) are part of the key
(:func:`switches`), so a flipped switch gets rows of its own; code that changes a table (a dict or an array
constant) in place at run time must call :func:`clear`.

Bounded: at most ``MAX_CONTEXTS`` contexts (least recently used dropped) and ``MAX_ROWS`` inner-key rows each
(the rows and their pieces are dropped when a context would exceed it; they are recomputed on demand).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from supercluster.perf.comm import CollectiveModel
from supercluster.specs import ModelSpec, SoftwareProfile, SystemSpec

MAX_CONTEXTS = 8
MAX_ROWS = 8192  # about 0.7 kB a row: at most ~45 MB in all


@dataclass(eq=False)
class Context:
    """The collective model and the inner-key rows of one (model, seq, system, software)."""

    model: ModelSpec
    seq: int
    system: SystemSpec
    sw: SoftwareProfile
    comm: CollectiveModel
    rows: dict[tuple[int, ...], tuple[float, ...]] = field(default_factory=dict)  # batch._inner_row
    parts: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # pieces of rows, batch.inner_terms' memo


_contexts: OrderedDict[tuple[Any, ...], Context] = OrderedDict()
_comms: OrderedDict[int, tuple[SystemSpec, CollectiveModel]] = OrderedDict()


def collective_model(system: SystemSpec) -> CollectiveModel:
    """The (shared, memoised) collective model of ``system``."""
    hit = _comms.get(id(system))
    if hit is not None and hit[0] is system:
        _comms.move_to_end(id(system))
        return hit[1]
    comm = CollectiveModel(system)
    _comms[id(system)] = (system, comm)
    if len(_comms) > MAX_CONTEXTS:
        _comms.popitem(last=False)
    return comm


def switches() -> tuple[Any, ...]:
    """Every scalar module constant of the step model's packages (supercluster.perf, supercluster.fabric) as it
    stands now: the switches the accuracy protocols flip (tp_overlap.ENABLED, interference.IN_STEP_TIME,
    interference.COMPUTE_SLOWDOWN, ...) and whatever a test monkeypatches, present or added later. Part of a
    context's key. The list of names is rebuilt when a module is imported."""
    global _refs, _refs_modules
    if len(sys.modules) != _refs_modules:
        _refs_modules = len(sys.modules)
        _refs = []
        for mod_name, module in list(sys.modules.items()):
            if module is None or not mod_name.startswith(_PACKAGES) or mod_name == __name__:
                continue
            names = [n for n, v in list(vars(module).items()) if n.isupper() and type(v) in (bool, int, float)]
            if names:  # one getter per module reads all its switches in one call
                _refs.append((module, attrgetter(*names)))
    return tuple([get(module) for module, get in _refs])


_PACKAGES = ("supercluster.perf.", "supercluster.fabric.")
_refs: list[tuple[Any, attrgetter]] = []
_refs_modules = -1


def context(model: ModelSpec, seq: int, system: SystemSpec, sw: SoftwareProfile) -> Context:
    """The context of these specs (under the switches as they stand), made on first use."""
    key = (id(model), seq, id(system), id(sw), switches())
    ctx = _contexts.get(key)
    if ctx is not None and ctx.model is model and ctx.system is system and ctx.sw is sw:
        _contexts.move_to_end(key)
        if len(ctx.rows) > MAX_ROWS:
            ctx.rows.clear()
            ctx.parts.clear()
        return ctx
    ctx = Context(model, seq, system, sw, collective_model(system))
    _contexts[key] = ctx
    if len(_contexts) > MAX_CONTEXTS:
        _contexts.popitem(last=False)
    return ctx


def clear() -> None:
    """Forget every context (after changing a module constant the step model reads)."""
    _contexts.clear()
    _comms.clear()
