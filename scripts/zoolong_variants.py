"""Refit-protocol variants for the long-context Hopper rows (task "zoolong", issue 14/15): each runs
scripts/refit_protocol.py in a fresh interpreter with switches the catalog and the modules already hold, and the
summary goes to benchmarks/results/zoolong_attention_2026-12-01.json beside scripts/zoolong_attention_diagnosis.py's
diagnosis.

Variants (environment of the child run; nothing in the catalog or the modules changes on disk):

- ``ZL_CLASS=1``: perf.attention_class in the step time (FlashAttention-2 stacks at 0.623 of the Hopper table, the
  cuDNN class at the table), so that a cuDNN-level Hopper table leaves the SDPA / flash-attn stacks where they are;
- ``ZL_RM=1``: perf.recompute_modules in the step time (Megatron-Core's ``--recompute-modules`` re-run priced: the
  ModelZoo long-context command's ``layernorm moe`` re-runs the MoE block's forward);
- ``ZL_N0=fwd,bwd``: the Hopper fixed cost per query tile (perf.attention_span, in keys; the unmasked pair of
  perf.cp_ring_span scaled alike), here fitted on the lent H200's cuDNN curve (calibration/
  h200-sxm-141gb-2026-11-30.attention-curve.json, batch 1, 32 heads, causal: forward 319 TFLOP/s at 2K and 654 at
  16K give n0 = 1,446 keys; backward 173 and 523 give 3,323) in place of the FlashAttention-3 paper's 232 / 592;
- refit_protocol's own ``--hopper-attention fwd,bwd``: every Hopper card's pair held (0.52 / 0.47: cuDNN in the
  FlashAttention-3 paper, Fig. 5-6, as attn_rejudge_2026-12-01.json).

Run: PYTHONPATH=src:scripts python scripts/zoolong_variants.py OUT.json (about 30 s per variant on one core), or
``--child ARGS`` (what the parent runs for each variant).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from supercluster.validate.harness import read_rows

VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "base": ({}, []),
    "recompute_modules": ({"ZL_RM": "1"}, []),
    "class_cudnn_0.52": ({"ZL_CLASS": "1"}, ["--hopper-attention", "0.52,0.47"]),
    "class_cudnn_0.52_recompute_modules": ({"ZL_CLASS": "1", "ZL_RM": "1"}, ["--hopper-attention", "0.52,0.47"]),
    "class_0.38_recompute_modules": ({"ZL_CLASS": "1", "ZL_RM": "1"}, ["--hopper-attention", "0.38,0.31"]),
    "n0_h200_cudnn_curve": ({"ZL_N0": "1446,3323"}, []),
}
TABLES = {
    "zoo_long": "NVIDIA Megatron-MoE-ModelZoo best_practice/qwen3/readme.md, H100 Long Context table",
    "liu_t5": "Liu et al. 2025 MoE Parallel Folding Table 5",
}


def child(args: list[str]) -> None:
    """Run refit_protocol.main with the switches of this process's environment (module docstring)."""
    import supercluster.perf.attention_class as ac
    import supercluster.perf.attention_span as asp
    import supercluster.perf.cp_ring_span as cr
    import supercluster.perf.recompute_modules as rm

    ac.IN_STEP_TIME = os.environ.get("ZL_CLASS") == "1"
    rm.IN_STEP_TIME = os.environ.get("ZL_RM") == "1"
    if os.environ.get("ZL_N0"):
        f, b = (float(x) for x in os.environ["ZL_N0"].split(","))
        cr.FWD_FULL_OVERHEAD_KEYS *= f / asp.FWD_TILE_OVERHEAD_KEYS
        cr.BWD_FULL_OVERHEAD_KEYS *= b / asp.BWD_TILE_OVERHEAD_KEYS
        asp.FWD_TILE_OVERHEAD_KEYS, asp.BWD_TILE_OVERHEAD_KEYS = f, b
    import refit_protocol

    sys.argv = ["refit_protocol.py", *args]
    refit_protocol.main()


def mape(rows: list[dict], key: str) -> float:
    vals = [abs(r[key]) for r in rows if r.get(key) is not None]
    return round(sum(vals) / len(vals), 3) if vals else float("nan")


def signed(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return round(sum(vals) / len(vals), 2) if vals else float("nan")


def summary(path: str, published: set[str], gpus: dict[str, int]) -> dict[str, object]:
    with open(path) as fh:
        rows = json.load(fh)["score"]["rows"]
    pub = [r for r in rows if r["id"] in published]
    big = [r for r in rows if gpus.get(r["id"], 0) >= 16384]
    out: dict[str, object] = {
        "all_in_sample": mape(rows, "in_sample"),
        "all_loso": mape(rows, "loso"),
        "published_in_sample": mape(pub, "in_sample"),
        "published_loso": mape(pub, "loso"),
        "band_16384_signed_catalog": signed(big, "catalog"),
    }
    for name, table in TABLES.items():
        sel = [r for r in rows if r["table"].startswith(table)]
        out[f"{name}_loso"] = mape(sel, "loso")
        out[f"{name}_signed_loso"] = signed(sel, "loso")
    return out


def main() -> None:
    if sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    published = {r["id"] for r in read_rows("published")[1]}
    gpus = {r["id"]: int(r["gpus"] or 0) for r in read_rows("all")[1]}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (env, args) in VARIANTS.items():
            out = os.path.join(tmp, f"{name}.json")
            cmd = [sys.executable, __file__, "--child", out, "--catalog-attention", *args]
            subprocess.run(cmd, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
            results[name] = {"env": env, "args": args, **summary(out, published, gpus)}
            print(name, results[name], flush=True)
    from zoolong_attention_diagnosis import merge_json

    merge_json(sys.argv[1], {"variants": results})


if __name__ == "__main__":
    main()
