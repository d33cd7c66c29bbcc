"""The CI scripts do what ci/README.md says they do."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import multigrad as mg

ROOT = Path(__file__).resolve().parent.parent


def _cuda_available() -> bool:
    try:
        mg.get_device("cuda")
    except mg.DeviceError:
        return False
    return True


def test_the_cupy_cell_fails_where_there_is_no_gpu_instead_of_skipping_every_case():
    script = (ROOT / "ci" / "cell.sh").read_text()
    guard = re.search(r'^if \[ "\$backend" = cupy \]; then\n.*?^fi\n', script, re.S | re.M)
    assert guard, "ci/cell.sh has no guard for the cupy cell"
    # run the guard as the cell would, with this interpreter as its python
    shell = f'backend=cupy\npython() {{ "{sys.executable}" "$@"; }}\n{guard.group(0)}echo ran\n'
    done = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if _cuda_available():
        assert done.returncode == 0 and "ran" in done.stdout, done.stderr
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "needs a CUDA GPU" in done.stderr and "ran" not in done.stdout
