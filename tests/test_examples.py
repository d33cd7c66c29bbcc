"""The examples run, as a user would run them, and do what they claim."""

from __future__ import annotations

import doctest
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_example(script: str, *args: str) -> str:
    """Run ``examples/<script>`` in a fresh interpreter from the checkout; return its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{script} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_train_mlp_quick_run_lowers_the_loss(device):
    out = run_example("train_mlp.py", "--quick", "--device", device)
    assert f"on {device}" in out
    match = re.search(r"initial loss ([0-9.eE+-]+), final loss ([0-9.eE+-]+)", out)
    assert match, f"no closing loss line in:\n{out}"
    initial, final = float(match.group(1)), float(match.group(2))
    assert final < 0.5 * initial, f"loss went from {initial} to {final} only"
    assert len(re.findall(r"^step ", out, flags=re.M)) >= 5, "the loss should print regularly"


# -- the README and CI say the same thing ------------------------------------------------------

README = ROOT / "README.md"
TEST_COMMAND = "python -m pip install -e '.[test]' && python -m pytest -q"
RUN_COMMAND = "python -m pip install -e . && python examples/train_mlp.py"


def test_readme_commands_exist_and_ci_runs_the_test_command_verbatim():
    text = README.read_text()
    assert f"    {TEST_COMMAND}\n" in text
    assert f"    {RUN_COMMAND}\n" in text
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert any(line.startswith(TEST_COMMAND) for line in ci_lines), (
        ".ci/run must run the README's test command verbatim")


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


_NUMBER = re.compile(r"-?\d+\.?\d*(?:e[-+]?\d+)?")


class _NumbersClose(doctest.OutputChecker):
    """Output as printed, except that numbers agree to 1e-7 relative (the last digit NumPy
    prints may differ between platforms' math libraries)."""

    def check_output(self, want, got, optionflags):
        if super().check_output(want, got, optionflags):
            return True
        if _NUMBER.sub("#", " ".join(want.split())) != _NUMBER.sub("#", " ".join(got.split())):
            return False
        return all(math.isclose(float(a), float(b), rel_tol=1e-7, abs_tol=1e-12)
                   for a, b in zip(_NUMBER.findall(want), _NUMBER.findall(got)))


def test_readme_interactive_examples_print_what_they_show():
    text = README.read_text()
    blocks = re.findall(r"```pycon\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3, "README.md's interactive examples are gone"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(
        checker=_NumbersClose(), optionflags=doctest.NORMALIZE_WHITESPACE)
    for k, block in enumerate(blocks):
        test = parser.get_doctest(block, {"__name__": "readme_example"}, f"README block {k}",
                                  "README.md", 0)
        out = io.StringIO()
        result = runner.run(test, out=out.write)
        assert result.failed == 0, out.getvalue()
