"""The numbers the speed work must not change, as digests: written once from the code before it, compared after.

    PYTHONPATH=src python tests/speed_golden.py   # rewrites tests/data/speed_golden.json (only on purpose)

Each search case is a (model, system, software, GPUs, sequence, batch) the planner ranks; its record holds a
SHA-256 of the bytes of every per-candidate array of the evaluated batch (step time, every time and memory term,
FLOPs), the feasible order, the stage splits, and the top layouts with their step times as exact hex floats. Each
estimate case is a bundled scenario's filled layout estimated alone (a cold context, then a warm one). Digests
of raw float64 bytes differ if any value differs in its last bit (tests/test_speed_identical.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from supercluster import catalog
from supercluster.perf import context, estimate
from supercluster.perf.batch import BatchResult
from supercluster.plan import resolve, search
from supercluster.specs import PlanSpec, WorkloadSpec

PATH = Path(__file__).parent / "data" / "speed_golden.json"

# (model, system, software or None for the system's own, gpus, seq, global batch): dense and MoE, MLA, FP8,
# Megatron, DeepEP, FSDP (eager and compiled), JAX, a 2021 stack without flash attention, AMD and Blackwell
SEARCHES: tuple[tuple[str, str, str | None, int, int, int, dict[str, object]], ...] = (
    ("llama3-405b", "dgx-h100-superpod", None, 16384, 8192, 2048, {}),
    ("grok-1", "colossus-100k", None, 2048, 8192, 2048, {"precision": "fp8"}),
    ("deepseek-v3", "dgx-h100-superpod", "megatron-core-deepep-2025", 512, 4096, 1024, {"ep": 16, "precision": "fp8"}),
    ("mixtral-8x7b", "dgx-h100-superpod", "fsdp-eager-2024", 256, 4096, 1024, {}),
    ("qwen3-30b-a3b", "dgx-b200-superpod", "automodel-2025", 512, 4096, 1024, {}),
    ("llama3-8b", "dgx-h100-superpod", "jax-fsdp-2024", 128, 8192, 512, {}),
    ("llama3-70b", "dgx-h100-superpod", "fsdp1-2023", 1024, 8192, 1024, {}),
    ("gpt3-175b", "dgx-a100-superpod", "megatron-lm-2021", 1024, 2048, 1536, {}),
    ("llama2-70b", "mi300x-cluster", None, 512, 4096, 1024, {}),
    ("nemotron4-340b", "gb200-nvl72-cluster", None, 6144, 4096, 768, {}),
)
SCENARIOS = ("llama3-405b-16k", "colossus-grok", "grok-3-class", "fairwater-two-site")


def digest(a: object) -> str:
    arr = np.ascontiguousarray(np.asarray(a))
    return hashlib.sha256(str(arr.dtype).encode() + arr.tobytes()).hexdigest()[:16]


def batch_record(batch: BatchResult) -> dict[str, str]:
    out = {}
    for f in fields(batch):
        if f.name == "cand":
            continue
        value = getattr(batch, f.name)
        text = repr(value).encode()  # the stage splits: a list of tuples
        out[f.name] = digest(value) if f.name != "stage_layers" else hashlib.sha256(text).hexdigest()[:16]
    out["memory_bytes"] = digest(batch.memory_bytes)
    return out


def search_record(case: tuple[str, str, str | None, int, int, int, dict[str, object]]) -> dict[str, object]:
    model, system_name, sw_name, gpus, seq, batch, fixed = case
    system = catalog.system(system_name, gpus=gpus if system_name.startswith("dgx") else None)
    sw = catalog.software(sw_name or system.software)
    wl = WorkloadSpec(model=catalog.model(model), seq_len=seq, global_batch=batch)
    context.clear()
    res = search(wl, system, sw, gpus, fixed=PlanSpec(**fixed), top_k=5)
    return {
        "case": list(case),
        "evaluated": res.stats.evaluated,
        "feasible": res.stats.feasible,
        "order": digest(res.feasible_order),
        "batch": batch_record(res.batch),
        "top": [[e.plan.label(), e.step_time_s.hex(), e.memory.total_bytes.hex(), e.mfu.hex()] for e in res.top],
    }


def estimate_record(name: str) -> dict[str, object]:
    scn = catalog.load(name)
    plan = resolve(scn.plan, scn.workload, scn.system, scn.software, scn.gpus).plan
    context.clear()
    cold = estimate(scn.workload, scn.system, scn.software, plan, scn.gpus).to_dict()
    warm = estimate(scn.workload, scn.system, scn.software, plan, scn.gpus).to_dict()
    text = json.dumps(cold, sort_keys=True, default=str, allow_nan=True)
    assert json.dumps(warm, sort_keys=True, default=str, allow_nan=True) == text
    return {"scenario": name, "digest": hashlib.sha256(text.encode()).hexdigest()[:16], "estimate": cold}


COLLECTIVE_SYSTEMS = ("dgx-a100-superpod", "dgx-h100-superpod", "gb200-nvl72-cluster", "colossus-100k", "frontier")


def collective_record(system_name: str, cases: int = 3000) -> str:
    """Digest of NCCL's modelled choice (CollectiveModel._scalar, the one-message path) over seeded random messages
    and groups: every size class (LL's cut-off included), groups inside and across scale-up domains and pods."""
    import random

    from supercluster.perf.comm import CollectiveModel

    rng = random.Random(14)
    model = CollectiveModel(catalog.system(system_name))
    out = []
    for _ in range(cases):
        op = rng.choice(["all_reduce", "all_gather", "reduce_scatter"])
        n = float(rng.choice([1, 2, 3, 4, 8, 16, 32, 64, 72, 128, 256, 1024, 4096, 16384, 98304, 1 << 20]))
        k = float(min(n, rng.choice([1, 2, 4, 8, 16, 36, 72, 64])))
        extent = n * rng.choice([1, 2, 4, 8, 16, 64])
        nbytes = rng.choice([0.0, 8.0, 1e3, 1e5, 1 << 20, (1 << 20) + 1, 3e7, 1e9, 2.5e10]) * rng.uniform(0.5, 2)
        out.append(model._scalar(op, nbytes, n, k, extent))
    return digest(np.array(out))


def record() -> dict[str, object]:
    return {
        "searches": [search_record(c) for c in SEARCHES],
        "estimates": [estimate_record(s) for s in SCENARIOS],
        "collectives": {name: collective_record(name) for name in COLLECTIVE_SYSTEMS},
    }


if __name__ == "__main__":
    PATH.write_text(json.dumps(record(), indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {PATH}")
