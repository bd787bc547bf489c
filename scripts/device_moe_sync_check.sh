#!/usr/bin/env bash
# When does a fine-grained MoE step become host-bound? The Qwen3-30B-A3B-style decoder of device_moe_check.sh
# (4 layers, 128 experts of 768, top-8) at 1,024 / 2,048 / 4,096 tokens, micro-batch 1, with and without a
# device-to-host copy of the expert counts in every MoE layer (Megatron-Core's all-to-all dispatcher sizes its
# all-to-all that way). < 2 minutes on an H200.
# Usage on the device machine: bash scripts/device_moe_sync_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
python3 - "$out" "${1:-calibration/h200-sxm-141gb-2026-11-30.yaml}" <<'PY'
import dataclasses, json, sys
import torch
from supercluster.calibrate import moe_groundtruth as mg
from supercluster.calibrate.profile import load

out, prof = sys.argv[1], load(sys.argv[2])
base = mg.MoeShape()
if not torch.cuda.is_available():  # a dry run off the GPU: tiny shapes
    prof = prof.model_copy(update={"backend": "cpu"})
    base = mg.MoeShape(layers=1, hidden=64, heads=4, kv_heads=2, head_dim=16, experts=8, topk=2, expert_ffn=32,
                       vocab=256, seq=64)
res = {"profile": sys.argv[2], "torch": torch.__version__, "runs": []}
for seq in (1024, 2048, 4096):
    for sync in (False, True):
        shape = dataclasses.replace(base, seq=seq if torch.cuda.is_available() else base.seq, host_sync=sync)
        try:
            r = mg.run(prof, shape, batches=(1,), steps=9, warmup=3)
        except Exception as err:
            r = {"shape": shape.__dict__, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}
        res["runs"].append(r)
        print(json.dumps(r), flush=True)
        json.dump(res, open(f"{out}/moe_sync_check.json", "w"), indent=1)
PY
