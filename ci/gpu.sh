#!/usr/bin/env bash
# The GPU cell, for a CUDA machine that cannot reach a package index.
#
# The machine has python3 (or $PYTHON), numpy, cupy, pytest and hypothesis; the wheels of
# array-api-compat and array-api-strict are handed over in .whl/ at the repository root. They
# are installed into /tmp/site, then the suite runs on the cupy backend, then the benchmarks'
# quick run, then vmap's benchmark at full size. Everything is bounded to finish within 8
# minutes. Where OUT names a folder, the benchmarks' results are written there.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}  # the python that has cupy (plain python3 on the GPU machines)
site=/tmp/site
shopt -s nullglob
wheels=(.whl/*.whl)
if [ "${#wheels[@]}" -eq 0 ]; then
    echo "ci/gpu.sh: no wheels in .whl/ (array-api-compat and array-api-strict are needed)" >&2
    exit 2
fi
"$PYTHON" -m pip install --no-index --no-deps --target "$site" "${wheels[@]}"
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" - <<'PY'
import cupy
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print(f"GPU: {name}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, CuPy {cupy.__version__}")
PY

status=0
# the cases on the CUDA device (marked gpu by the backend fixture); the CPU-only tests, such as
# the examples that need scikit-learn, ran in the CPU cells. With pytest-xdist, eight workers
# share the GPU (the cases are small and independent).
parallel=()
if "$PYTHON" -c "import xdist" 2>/dev/null; then parallel=(-n 8); fi
timeout 240 "$PYTHON" -m pytest -q -m gpu --device cuda "${parallel[@]}" -p no:cacheprovider \
    || status=$?

# the benchmarks' quick run
bench_out=()
if [ -n "${OUT:-}" ]; then bench_out=(--out "$OUT"); fi
timeout 150 "$PYTHON" -m benchmarks --quick --device cuda "${bench_out[@]}" \
    || status=$((status ? status : $?))
# vmap's targets at full size (issue 13: per-example gradients, batched Jacobians)
vmap_log=/dev/null
if [ -n "${OUT:-}" ]; then vmap_log="$OUT/bench_vmap.txt"; fi
timeout 80 "$PYTHON" benchmarks/bench_vmap.py --device cuda --rounds 5 | tee "$vmap_log" \
    || status=$((status ? status : $?))
exit "$status"
