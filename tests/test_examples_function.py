"""examples/custom_function.py runs in quick mode on the CPU and on a fake GPU device."""

from __future__ import annotations

import re

import pytest

from test_examples import run_example


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_custom_function_example(device):
    out = run_example("custom_function.py", "--quick", "--device", device)
    assert "gradcheck passed" in out
    error = float(re.search(r"second derivative max error ([0-9.eE+-]+)", out).group(1))
    assert error < 1e-12
    match = re.search(r"initial loss ([0-9.eE+-]+), final loss ([0-9.eE+-]+)", out)
    assert match, f"no closing loss line in:\n{out}"
    assert float(match.group(2)) < 0.5 * float(match.group(1))
