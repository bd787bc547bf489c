#!/usr/bin/env bash
# One prepared run for a lent H100/H200: calibration profile (BF16 and FP8 GEMMs, expert GEMMs as a loop and as
# one grouped GEMM, attention, memory bandwidth) + ground-truth GPT step + validate with the profile, < 6 minutes.
# The device machine reaches no package index: the project runs from src/, and the packages its image lacks
# (pydantic and its three helpers, Python 3.12 wheels) travel in .whl/ (carry it; see the device README).
# Usage on the device machine: bash scripts/device_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
sc() { python3 -c "from supercluster.cli import main; main()" "$@"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > "$out/nvidia-smi.csv" || true
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" \
  | tee "$out/torch.txt"
sc calibrate --device cuda --budget-s 200 --ground-truth --json -o "$out/calibration.yaml" > "$out/calibrate.json"
sc validate --calibration "$out/calibration.yaml" --json > "$out/validate-calibrated.json" || true
cat "$out/calibrate.json"
