#!/usr/bin/env bash
# Run one cell of the CI matrix (.github/workflows/ci.yml):
#   ci/cell.sh {numpy|array-api-strict|cupy|torch-cpu|jax-cpu|dask}
#
# Makes a virtual environment with ${PYTHON:-python3}, installs multigrad with the test extra
# (and CuPy for the cupy cell, the backends extra for the named backends), and runs the suite
# with MULTIGRAD_TEST_DEVICE selecting the backend cases. A named-backend cell runs only the
# backend cases on that backend (MULTIGRAD_TEST_BACKEND), in float64, with the named-backend
# and Dask tests; the rest of the suite runs in the numpy cell. Exits non-zero when a test fails.
set -euo pipefail

backend="${1:?usage: ci/cell.sh numpy|array-api-strict|cupy|torch-cpu|jax-cpu|dask}"
named=""
case "$backend" in
    numpy) device=numpy; extras="test" ;;
    array-api-strict) device=strict; extras="test" ;;
    cupy) device=cuda; extras="test,${CUDA_EXTRA:-cuda12}" ;;
    torch-cpu) device=float64; named="torch:cpu"; extras="test,backends" ;;
    jax-cpu) device=float64; named="jax:cpu"; extras="test,backends" ;;
    dask) device=float64; named="dask"; extras="test,backends" ;;
    *) echo "unknown backend '$backend': expected numpy, array-api-strict, cupy, torch-cpu," \
            "jax-cpu or dask" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
venv="${TMPDIR:-/tmp}/multigrad-cell-$backend"
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
echo "cell: $(python --version) x $backend (MULTIGRAD_TEST_DEVICE=$device)"
python -m pip install --quiet -e ".[$extras]"
export MULTIGRAD_TEST_DEVICE="$device"
if [ "$backend" = cupy ]; then
    # a GPU cell without a GPU would skip every CUDA case and pass: fail it instead
    python -c 'import multigrad as mg; print("cell: GPU", mg.get_device("cuda"))' || {
        echo "cell: the cupy cell needs a CUDA GPU that CuPy can use (see the error above)" >&2
        exit 1
    }
fi
if [ -n "$named" ]; then
    # known failures, with reasons, are listed in tests/backend_known_failures.py
    export MULTIGRAD_TEST_BACKEND="$named"
    python -m pytest -q -k "${named//:/-} or test_backend_named or test_dask"
else
    python -m pytest -q
fi
