#!/usr/bin/env bash
# The grouped expert GEMM's forward, data gradient and weight gradient timed apart (torch._grouped_mm, 8 local
# experts, four published expert shapes, 64-4,096 tokens per expert), beside the step model's. < 1 minute.
# Usage on the device machine: bash scripts/device_expert_backward_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
python3 - "$out" "${1:-calibration/h200-sxm-141gb-2026-11-30.yaml}" <<'PY'
import json, sys
import torch
from supercluster.calibrate import expert_backward
from supercluster.calibrate.profile import load

out, prof = sys.argv[1], load(sys.argv[2])
kw = {}
if not torch.cuda.is_available():  # a dry run off the GPU: one small shape
    prof = prof.model_copy(update={"backend": "cpu"})
    kw = {"shapes": ((64, 32),), "tokens": (16, 32)}
rows = expert_backward.run(prof, **kw)
for r in rows:
    print(json.dumps(r), flush=True)
json.dump({"profile": sys.argv[2], "torch": torch.__version__, "rows": rows}, open(f"{out}/expert_backward.json", "w"), indent=1)
PY
