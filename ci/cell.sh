#!/usr/bin/env bash
# Run one cell of the CI matrix (.github/workflows/ci.yml): ci/cell.sh {numpy|array-api-strict|cupy}
#
# Makes a virtual environment with ${PYTHON:-python3}, installs multigrad with the test extra
# (and CuPy for the cupy cell), and runs the suite with MULTIGRAD_TEST_DEVICE selecting the
# backend cases. Exits non-zero when a test fails.
set -euo pipefail

backend="${1:?usage: ci/cell.sh numpy|array-api-strict|cupy}"
case "$backend" in
    numpy) device=numpy; extras="test" ;;
    array-api-strict) device=strict; extras="test" ;;
    cupy) device=cuda; extras="test,${CUDA_EXTRA:-cuda12}" ;;
    *) echo "unknown backend '$backend': expected numpy, array-api-strict or cupy" >&2; exit 2 ;;
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
python -m pytest -q
