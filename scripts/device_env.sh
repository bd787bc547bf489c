# Sourced by the device scripts (after set -euo pipefail): the device machine reaches no package index, so the
# project runs from src/ and the packages its image lacks (pydantic and its three helpers, Python 3.12 wheels)
# come from .whl/ (carry it).
if ! python3 -c "import pydantic" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# where a device script writes: $OUT on the lent machine, ./device-out elsewhere
out="${OUT:-device-out}"
mkdir -p "$out"
