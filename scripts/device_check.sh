#!/usr/bin/env bash
# One prepared run for a lent H100/H200 (issue 9): calibration profile + ground-truth GPT step, < 5 minutes.
# Usage on the device machine: bash scripts/device_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
out="${OUT:-device-out}"
mkdir -p "$out"
python3 -m pip install -q --no-deps -e . 2>/dev/null || python3 -m pip install -q -e .
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > "$out/nvidia-smi.csv" || true
PYTHONUNBUFFERED=1 supercluster calibrate --device cuda --budget-s 180 --ground-truth --json \
  -o "$out/calibration.yaml" > "$out/calibrate.json"
supercluster validate --calibration "$out/calibration.yaml" --json > "$out/validate-calibrated.json" || true
cat "$out/calibrate.json"
