"""The transform examples run as a user would run them (quick mode), and do what they claim."""

from __future__ import annotations

import importlib.util
import re

import pytest

from test_examples import run_example

DEVICES = ["cpu", "strict:device1"]


def _table(out: str) -> dict[int, list[float]]:
    """The rows of forward_vs_reverse's table: n -> [time, error] for forward, reverse, central."""
    rows = {}
    for line in out.splitlines():
        cells = re.fullmatch(r"\s*(\d+)((?:\s*\|\s*[0-9.]+ ms\s+[0-9.eE+-]+){3})\s*", line)
        if cells:
            numbers = re.findall(r"([0-9.]+) ms\s+([0-9.eE+-]+)", cells.group(2))
            rows[int(cells.group(1))] = [float(v) for pair in numbers for v in pair]
    return rows


@pytest.mark.parametrize("device", DEVICES)
def test_forward_vs_reverse_quick_run(device, tmp_path):
    plot = tmp_path / "forward_vs_reverse.png"
    out = run_example("forward_vs_reverse.py", "--quick", "--device", device, "--out",
                      str(tmp_path))
    rows = _table(out)
    assert sorted(rows) == [1, 4, 16, 64], f"unexpected table:\n{out}"
    for n, (_, forward, _, reverse, _, central) in rows.items():
        # both modes of automatic differentiation are exact up to rounding; differences are not
        assert forward < 1e-13 and reverse < 1e-13, f"n={n}: {forward}, {reverse}"
        assert central < 1e-6, f"n={n}: central differences off by {central}"
    if importlib.util.find_spec("matplotlib"):
        assert plot.stat().st_size > 0 and f"plot saved to {plot}" in out
    else:
        assert "pip install matplotlib" in out


def test_forward_vs_reverse_without_matplotlib_prints_how_to_install_it(tmp_path, monkeypatch):
    # a module named matplotlib that fails to import stands in for a missing installation
    (tmp_path / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    plot = tmp_path / "forward_vs_reverse.png"
    out = run_example("forward_vs_reverse.py", "--quick", "--out", str(tmp_path))
    assert "pip install matplotlib" in out and "pip install -e '.[examples]'" in out
    assert len(_table(out)) == 4 and not plot.exists()


@pytest.mark.parametrize("device", DEVICES)
def test_newton_quick_run_reaches_the_minimum(device):
    out = run_example("newton.py", "--quick", "--device", device)
    match = re.search(r"done: (\d+) Newton steps, (\d+) Hessian-vector products, \|grad\| "
                      r"([0-9.eE+-]+), max \|x - 1\| ([0-9.eE+-]+)", out)
    assert match, f"no closing line in:\n{out}"
    steps, products = int(match.group(1)), int(match.group(2))
    grad_norm, distance = float(match.group(3)), float(match.group(4))
    assert grad_norm < 1e-10 and distance < 1e-8
    assert steps >= 2 and products >= steps  # it really iterated, on Hessian-vector products
