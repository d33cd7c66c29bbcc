#!/usr/bin/env bash
# The GPU cell, for a CUDA machine that cannot reach a package index.
#
# The machine has python, numpy, cupy, pytest and hypothesis; the wheels of array-api-compat and
# array-api-strict are handed over in .whl/ at the repository root. They are installed into
# /tmp/site, then the suite runs on the cupy backend (and the benchmarks' quick run, where
# benchmarks/ has one). Everything is bounded to finish within 8 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
site=/tmp/site
shopt -s nullglob
wheels=(.whl/*.whl)
if [ "${#wheels[@]}" -eq 0 ]; then
    echo "ci/gpu.sh: no wheels in .whl/ (array-api-compat and array-api-strict are needed)" >&2
    exit 2
fi
python -m pip install --no-index --no-deps --target "$site" "${wheels[@]}"
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"

python - <<'PY'
import cupy
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print(f"GPU: {name}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, CuPy {cupy.__version__}")
PY

status=0
# the cases on the CUDA device (marked gpu by the backend fixture); the CPU-only tests, such as
# the examples that need scikit-learn, ran in the CPU cells
timeout 360 python -m pytest -q -m gpu --device cuda || status=$?

# the benchmarks' quick run, if the repository has one yet
if [ -f benchmarks/__main__.py ]; then
    timeout 90 python -m benchmarks --quick --device cuda || status=$((status ? status : $?))
elif [ -f benchmarks/run.py ]; then
    timeout 90 python benchmarks/run.py --quick --device cuda || status=$((status ? status : $?))
else
    echo "ci/gpu.sh: benchmarks/ has no quick run yet; skipped"
fi
exit "$status"
