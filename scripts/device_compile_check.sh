#!/usr/bin/env bash
# Eager against torch.compile on a Llama-style decoder, measured on the lent GPU and predicted by the step model
# with elementwise_fused false/true (the committed calibration profile of that card). Two sizes; < 5 minutes.
# Usage on the device machine: bash scripts/device_compile_check.sh PROFILE.yaml   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
python3 - "$1" "$out/compile_pair.json" <<'PY'
import json, sys
from supercluster.calibrate import groundtruth
from supercluster.calibrate.profile import load

prof = load(sys.argv[1])
runs = [
    groundtruth.run_llama_pair(prof),
    groundtruth.run_llama_pair(prof, layers=4, hidden=4096, heads=32, ffn=11008, vocab=32000, seq=4096, batch=2),
]
repeat = [groundtruth.run(prof).to_dict() for _ in range(2)]
out = {"profile": sys.argv[1], "device": prof.device, "llama_pairs": runs, "nanogpt_repeats": repeat}
open(sys.argv[2], "w").write(json.dumps(out, indent=1))
print(json.dumps(out, indent=1))
PY
