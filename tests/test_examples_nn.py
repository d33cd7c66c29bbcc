"""The examples that train models run in quick mode, on the CPU and on a fake GPU device, and
print what they claim; on a pipe, results go to stdout and tqdm's bars to stderr."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from test_examples import ROOT, run_example

INSTALL = "python -m pip install -e '.[test]'"


def require_extra(*modules: str) -> None:
    """Fail (never skip) where the test extra is missing: CI installs it, so a skip would hide
    examples that nobody runs."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"the examples need {', '.join(missing)}: install the test extra with "
                    f"{INSTALL}")


def number(pattern: str, out: str) -> float:
    match = re.search(pattern, out)
    assert match, f"no line matching {pattern!r} in:\n{out}"
    return float(match.group(1))


def run_quick(script: str, device: str, out_dir, *args: str) -> str:
    return run_example(script, "--quick", "--device", device, "--out", str(out_dir), *args)


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_layered_network_engine_matches_the_hand_derived_equations(device, tmp_path):
    require_extra("matplotlib", "tqdm")
    out = run_quick("layered_network.py", device, tmp_path)
    per_layer = [float(v) for v in re.findall(r"layer \d: max \|engine - hand-derived\| over all "
                                              r"steps = ([0-9.eE+-]+)", out)]
    assert len(per_layer) == 3, out
    assert max(per_layer) < 1e-12
    assert number(r"max gradient difference ([0-9.eE+-]+)", out) < 1e-12
    # the comparison means something only if the gradients are not all zero
    smallest = [float(v) for v in re.findall(r"smallest \|\|dL/dW\|\| ([0-9.eE+-]+)", out)]
    assert min(smallest) > 1e-6
    start, end = re.search(r"loss ([0-9.]+) -> ([0-9.]+)", out).groups()
    assert float(end) < 0.5 * float(start)
    assert (tmp_path / "layered_network.png").stat().st_size > 0


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_regression_closed_form_and_descent_agree_and_the_curve_is_fitted(device, tmp_path):
    require_extra("matplotlib", "tqdm")
    out = run_quick("regression.py", device, tmp_path)
    assert number(r"linear fit difference ([0-9.eE+-]+)", out) < 1e-10
    assert abs(number(r"closed form: slope ([0-9.eE+-]+)", out) - 1.5) < 0.2  # noise 0.3, n 100
    initial = number(r"initial loss ([0-9.eE+-]+)", out)
    assert number(r"final loss ([0-9.eE+-]+)", out) < 0.25 * initial
    assert number(r"rms error against the true curve ([0-9.eE+-]+)", out) < 0.2
    assert (tmp_path / "regression.png").stat().st_size > 0


@pytest.mark.parametrize("script, device", [("mlp_digits.py", "cpu"),
                                            ("cnn_digits.py", "cpu"),
                                            ("cnn_digits.py", "strict:device1")])
def test_digits_classifiers_learn(script, device, tmp_path):
    require_extra("sklearn", "matplotlib", "tqdm")
    out = run_quick(script, device, tmp_path)
    # ten classes: chance is 0.1; a few epochs reach far above it
    assert number(r"(?m)^test accuracy ([0-9.]+)$", out) > 0.7
    assert (tmp_path / script.replace(".py", ".png")).stat().st_size > 0


def test_two_devices_agree(tmp_path):
    require_extra("matplotlib", "tqdm")
    out = run_quick("two_devices.py", "cpu", tmp_path, "--other", "strict:device1")
    assert "on cpu and strict:device1" in out
    assert number(r"max loss difference ([0-9.eE+-]+)", out) < 1e-9
    assert number(r"max parameter difference ([0-9.eE+-]+)", out) < 1e-9
    assert "agree within" in out
    assert (tmp_path / "two_devices.png").stat().st_size > 0


def test_two_devices_refuses_one_device_twice(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "two_devices.py"), "--quick",
                           "--other", "cpu", "--out", str(tmp_path)],
                          cwd=ROOT, env=_env_with(ROOT), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert re.search(r"--device and --other are both cpu; choose two different devices",
                     done.stderr)


def test_digits_example_without_scikit_learn_says_what_to_install(tmp_path):
    # a package named sklearn that fails to import stands in for a missing scikit-learn
    fake = tmp_path / "fake" / "sklearn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no scikit-learn here')\n")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_digits.py"), "--quick",
                           "--out", str(tmp_path)], cwd=ROOT, env=_env_with(fake.parent, ROOT),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "mlp_digits.py needs scikit-learn, which is not installed" in done.stderr
    assert "pip install -e '.[examples]'" in done.stderr


def _env_with(*paths) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return env


# -- what the examples print on a pipe ------------------------------------------------------

def test_on_a_pipe_results_go_to_stdout_and_the_tqdm_bar_to_stderr(tmp_path):
    require_extra("matplotlib", "tqdm")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "layered_network.py"),
                           "--quick", "--out", str(tmp_path)], cwd=ROOT, env=_env_with(ROOT),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # standard output: the results, one line each, nothing of a bar
    assert "\r" not in done.stdout and "it/s" not in done.stdout, done.stdout
    assert re.search(r"(?m)^loss [0-9.]+ -> [0-9.]+$", done.stdout), done.stdout
    assert re.search(r"(?m)^plot saved to ", done.stdout), done.stdout
    # standard error: the bar of the 100 training steps, ending complete with the last loss
    states = [s for s in re.split(r"[\r\n]+", done.stderr) if s.strip()]
    assert re.match(r"train: 100%\|.*\| 100/100 \[.*, loss=[0-9.e-]+\]$", states[-1]), states
    # redrawn now and then, not after each of the 100 steps
    assert len(states) < 20, done.stderr


def test_examples_without_tqdm_say_what_to_install(tmp_path):
    # a package named tqdm that fails to import stands in for a missing tqdm
    fake = tmp_path / "fake" / "tqdm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no tqdm here')\n")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "layered_network.py"),
                           "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          env=_env_with(fake.parent, ROOT), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "layered_network.py needs tqdm, which is not installed" in done.stderr
    assert "pip install -e '.[examples]'" in done.stderr


def test_dask_logistic_fits_on_a_local_cluster_under_dasks_progress_bar(tmp_path):
    require_extra("matplotlib")
    pytest.importorskip("distributed", reason="dask.distributed is not installed "
                                              "(pip install -e '.[backends]')")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "dask_logistic.py"),
                           "--quick", "--out", str(tmp_path)], cwd=ROOT, env=_env_with(ROOT),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "on 2 worker processes" in out
    assert len(re.findall(r"(?m)^step \d+/4: loss ", out)) == 4, out
    # from zero weights the loss starts at log 2 and falls
    assert abs(number(r"initial loss ([0-9.]+)", out) - np.log(2.0)) < 1e-6
    assert number(r"final loss ([0-9.]+)", out) < 0.75 * np.log(2.0)
    assert number(r"true direction ([0-9.-]+)", out) > 0.9
    assert "100% Completed" in done.stderr  # Dask's own bar, on stderr
    assert (tmp_path / "dask_logistic.png").stat().st_size > 0


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_per_example_gradients_equal_the_loop_and_dp_sgd_trains(device, tmp_path):
    require_extra("matplotlib", "tqdm", "sklearn")
    out = run_quick("per_example_gradients.py", device, tmp_path)
    assert number(r"max \|vmap - loop of backward passes\| = ([0-9.eE+-]+)", out) < 1e-5
    # one epoch: both well above chance (10 classes)
    assert number(r"plain SGD test accuracy ([0-9.]+)", out) > 0.3
    assert number(r"DP-SGD test accuracy ([0-9.]+)", out) > 0.15
    assert (tmp_path / "per_example_gradients.png").stat().st_size > 0
