"""``examples/sklearn_gradients.py`` (gradients through scikit-learn's ``Ridge.fit``), and the
examples' rough edges: where plots go, ``--help``, a missing matplotlib, a missing device."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from test_examples import ROOT, run_example
from test_examples_nn import number, require_extra


def test_sklearn_gradients_descends_through_ridge_fit(tmp_path):
    # (tests/test_sklearn_array_api.py runs Ridge on strict:device1)
    require_extra("sklearn", "scipy", "matplotlib")
    out = run_example("sklearn_gradients.py", "--quick", "--out", str(tmp_path))
    # the gradient through scikit-learn's own fit agrees with a central difference
    assert number(r"relative difference ([0-9.eE+-]+)", out) < 1e-6
    first, last = re.search(r"validation loss ([0-9.]+) -> ([0-9.]+)", out).groups()
    assert float(last) < float(first)
    alpha0, alpha1 = re.search(r"alpha ([0-9.eE+-]+) -> ([0-9.eE+-]+)", out).groups()
    assert float(alpha1) > float(alpha0)  # the loss falls as alpha grows from 0.01
    assert (tmp_path / "sklearn_gradients.png").stat().st_size > 0


def _run(script: str, *args: str, env_path: str | None = None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env_path, str(ROOT),
                                                      env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_forward_vs_reverse_writes_under_examples_output_and_helps_in_whole_sentences():
    # (tests/test_examples_transforms.py runs it, with --out a folder, as for the others)
    done = _run("forward_vs_reverse.py", "--help")
    assert done.returncode == 0
    help_text = " ".join(done.stdout.split())
    assert ("The full gradient of f: R^n -> R three ways, as n grows: forward mode, reverse "
            "mode, and central differences.") in help_text
    assert "folder for the plot (default: examples/output/forward_vs_reverse)" in help_text


# (the scripts with a parser of their own, and one built by _common.example_parser)
@pytest.mark.parametrize("script", ["train_mlp.py", "newton.py", "layered_network.py"])
def test_help_describes_the_example_in_a_whole_first_paragraph(script):
    done = _run(script, "--help")
    assert done.returncode == 0, done.stderr
    description = " ".join(done.stdout.split("\n\n")[1].split())
    assert description.endswith((".", ":", ")")), f"{script}: --help says {description!r}"


def test_layered_network_without_matplotlib_still_prints_its_gradient_check(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    done = _run("layered_network.py", "--quick", "--out", str(tmp_path / "out"),
                env_path=str(fake))
    assert done.returncode == 0, done.stderr
    assert number(r"max gradient difference ([0-9.eE+-]+)", done.stdout) < 1e-12
    assert "no plot: matplotlib is not installed" in done.stdout
    assert "pip install -e '.[examples]'" in done.stdout


@pytest.mark.parametrize("script", ["train_mlp.py", "mlp_digits.py"])
def test_a_device_this_machine_lacks_is_a_one_line_error(script):
    # cuda:99: without CuPy "needs CuPy", with it "does not exist"; never a traceback
    done = _run(script, "--quick", "--device", "cuda:99")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert re.search(r"error: argument --device: device 'cuda(:99)?' (needs CuPy|does not "
                     r"exist)", done.stderr), done.stderr


def test_a_strict_device_without_array_api_strict_says_how_to_install_it(tmp_path):
    (tmp_path / "array_api_strict.py").write_text("raise ImportError('not installed here')\n")
    done = _run("train_mlp.py", "--quick", "--device", "strict:device1",
                env_path=str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("device 'strict:device1' needs array-api-strict, which is not installed: "
            "python -m pip install array-api-strict") in done.stderr


def test_the_ecosystem_guide_python_blocks_run():
    """docs/ecosystem.md's code, in a fresh interpreter (it sets SCIPY_ARRAY_API and the
    default dtype, as a user's script would)."""
    text = (ROOT / "docs" / "ecosystem.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3, "the guide's examples are gone"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("SCIPY_ARRAY_API", None)  # the guide sets it itself
    done = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["strict:device1", "[17.19732915", "4.9348022",
                                   "0.64493407]"], done.stdout
