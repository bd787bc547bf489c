#!/usr/bin/env bash
# Fixed per-kernel costs (host dispatch per eager operator, device gap between back-to-back kernels, in a stream
# and in a CUDA graph) and a fine-grained MoE decoder (Qwen3-30B-A3B's layer, 4 layers) plus a coarse one
# (Mixtral-8x7B's layer, 2 layers) trained eagerly at micro-batch 1, 2 and 4, measured, profiled and predicted
# with the committed H200 profile. < 3 minutes on an H200.
# Usage on the device machine: bash scripts/device_moe_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > "$out/nvidia-smi.csv" || true
python3 - "$out" "${1:-calibration/h200-sxm-141gb-2026-11-30.yaml}" <<'PY'
import json, sys
import torch
from supercluster.calibrate import moe_groundtruth as mg, overheads
from supercluster.calibrate.profile import load

out, prof = sys.argv[1], load(sys.argv[2])
device = prof.backend if torch.cuda.is_available() else "cpu"
res = {"profile": sys.argv[2], "torch": torch.__version__, "overheads": overheads.measure(torch, device)}
print(json.dumps(res["overheads"]), flush=True)
json.dump(res, open(f"{out}/moe_check.json", "w"), indent=1)
shapes = {
    "qwen3-30b-a3b-4l": mg.MoeShape(),
    # Mixtral 8x7B (arXiv:2401.04088 Table 1): dim 4096, 32 heads, 8 KV heads, 8 experts of 14336, top-2
    "mixtral-8x7b-2l": mg.MoeShape(layers=2, hidden=4096, heads=32, kv_heads=8, head_dim=128, experts=8, topk=2,
                                   expert_ffn=14336, vocab=32000, seq=4096),
}
if device == "cpu":  # a dry run off the GPU: tiny shapes
    shapes = {"tiny": mg.MoeShape(layers=1, hidden=64, heads=4, kv_heads=2, head_dim=16, experts=8, topk=2,
                                  expert_ffn=32, vocab=256, seq=64)}
    prof = prof.model_copy(update={"backend": "cpu"})
for name, shape in shapes.items():
    try:
        res[name] = mg.run(prof, shape, kernels=30)
    except Exception as err:  # keep what was measured; say what failed
        res[name] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}
    print(name, json.dumps(res[name]), flush=True)
    json.dump(res, open(f"{out}/moe_check.json", "w"), indent=1)
PY
