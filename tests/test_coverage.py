"""docs/coverage.md is current, and multigrad exports every function of the standard."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import multigrad as mg

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    spec = importlib.util.spec_from_file_location("_coverage_tool", ROOT / "tools" / "coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coverage = _load_tool()


def test_coverage_table_is_up_to_date():
    current = (ROOT / "docs" / "coverage.md").read_text()
    assert current == coverage.render(), (
        "docs/coverage.md is out of date: regenerate it with `python tools/coverage.py`")


def test_every_standard_function_is_exported():
    main, linalg = coverage.standard_functions()
    missing = [n for n in main if not hasattr(mg, n)]
    missing += [f"linalg.{n}" for n in linalg if not hasattr(mg.linalg, n)]
    assert not missing, f"multigrad lacks these array API functions: {missing}"


def test_network_functions_are_primitives_with_both_modes():
    for name in coverage.NETWORK_FUNCTIONS:
        prim = mg.autograd.REGISTRY.get(name)
        assert prim is not None, f"{name} is not a registered primitive"
        assert prim.vjp is not None and prim.jvp is not None, f"{name} lacks derivative rules"


def test_table_counts_what_it_lists():
    text = coverage.render()
    main, linalg = coverage.standard_functions()
    assert f"of {len(main) + len(linalg)} functions covered" in text
    assert len(main) > 100 and len(linalg) >= 23, "the standard's function list looks truncated"
    for name in ("sum", "matmul", "where", "cholesky", "softmax"):
        assert f"| `{name}` |" in text
    for excluded in ("float32", "Device", "set_array_api_strict_flags", "fft"):
        assert f"| `{excluded}` |" not in text


@pytest.mark.parametrize("flag", ["--check"])
def test_check_mode_reports_a_stale_table(tmp_path, monkeypatch, flag):
    monkeypatch.setattr(coverage, "OUTPUT", tmp_path / "coverage.md")
    (tmp_path / "coverage.md").write_text("stale\n")
    assert coverage.main([flag]) == 1
    assert coverage.main([]) == 0
    assert coverage.main([flag]) == 0
