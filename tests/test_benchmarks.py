"""The benchmark harness runs end to end (tiny sizes: it proves the harness, measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks import _env, _report, _timing
from benchmarks.run import ROOT, main, plan

import multigrad as mg


def test_smoke_run_writes_every_output(tmp_path, capfd):
    status = main(["--smoke", "--device", "cpu,strict:device1", "--peers", "numpy",
                   "--out", str(tmp_path)])
    assert status == 0
    run = json.loads((tmp_path / "results.json").read_text())
    measured = {(c["workload"], c["device"], c["threads"]) for c in run["cases"]}
    for device in ("cpu", "strict:device1"):
        for workload in ("tape overhead", "MLP step", "deep graph", "peak memory"):
            assert (workload, device, 1) in measured
        assert ("MLP step", device, 2) in measured  # the second thread count
    spellings = {"reference", "relu compiled"} | {
        f"{name}{mode}" for name in ("maximum", "where", "clip") for mode in ("", " compiled")}
    for case in run["cases"]:
        expected = {"reference", "multigrad", "multigrad compiled"}
        if case["workload"] == "deep graph" or case["metric"] == "forward with recording":
            # a million ops compiled, or a forward that records but does not go back: left
            # out, with the reason
            expected.discard("multigrad compiled")
            assert case["skipped"].get("multigrad compiled")
        elif case["workload"] == "ReLU spellings":
            expected = spellings
        elif case["workload"] == "scale (Dask)":  # the lazy systems and NumPy in memory
            expected = ({"reference", "multigrad"} if case["metric"].startswith("tasks")
                        else {"reference", "multigrad", "numpy in memory"})
        assert set(case["samples"]) == expected, case["workload"]
        assert all(v > 0 for values in case["samples"].values() for v in values)
    assert [w["threads"] for w in run["workers"]] == [1, 2, 1, 2]
    table = (tmp_path / "results.md").read_text()
    assert "| tape overhead | forward + backward | cpu | 1 | multigrad |" in table
    assert "tape overhead, forward + backward, vs hand-written" in table
    out = capfd.readouterr().out
    assert "round 2/2" in out  # progress while it runs
    for name in ("torch", "autograd", "jax"):
        assert f"{name}: skipped" not in out  # not asked for, so not reported


def test_missing_peer_is_skipped_not_an_error(monkeypatch):
    real = _env.importlib.util.find_spec
    monkeypatch.setattr(_env.importlib.util, "find_spec",
                        lambda name: None if name == "jax" else real(name))
    chosen, skipped = _env.choose_peers(["numpy", "jax"])
    assert chosen == ["numpy"]
    assert "not installed" in skipped["jax"]


def test_unknown_peer_is_refused():
    with pytest.raises(SystemExit, match="unknown peer 'tensorflow'"):
        _env.choose_peers(["tensorflow"])


def test_unknown_device_is_refused():
    with pytest.raises(SystemExit, match="unknown device 'tpu'"):
        main(["--smoke", "--device", "tpu"])


def test_plan_runs_every_workload_at_the_first_thread_count_only():
    jobs = plan([mg.get_device("cpu")], [1, 2], ["tape", "mlp", "deep"])
    assert jobs == [{"device": "cpu", "threads": 1, "workloads": ["tape", "mlp", "deep"]},
                    {"device": "cpu", "threads": 2, "workloads": ["mlp"]}]


def test_thread_environment_pins_every_pool():
    env = _env.thread_environment(2, {"PATH": "/bin"})
    assert all(env[name] == "2" for name in _env.THREAD_VARIABLES)
    assert "XLA_FLAGS" not in env  # XLA's default is the machine's cores
    assert "intra_op_parallelism_threads=1" in _env.thread_environment(1, {})["XLA_FLAGS"]


def test_check_rejects_a_wrong_gradient():
    np = pytest.importorskip("numpy")
    good = [np.float32(2.0), np.array([1.0, -3.0])]
    bad = [np.float32(2.0), np.array([1.0, -3.01])]
    errors, failed = _timing.check({"reference": good, "same": list(good), "bad": bad},
                                   "reference")
    assert errors["same"] == 0.0
    assert "relative error 3.33e-03" in failed["bad"]


def test_targets_use_per_round_ratios_between_the_named_systems():
    case = {"workload": "tape overhead", "metric": "forward + backward", "device": "cpu",
            "threads": 1, "samples": {"reference": [1.0, 1.0, 1.0],
                                      "multigrad": [3.0, 3.5, 3.0],
                                      "torch": [4.0, 7.0, 6.0]},
            "skipped": {}}
    found = {t["target"]: t for t in _report.targets([case], {"cpu": "numpy"})}
    vs_torch = found["tape overhead, forward + backward, vs PyTorch eager"]
    assert vs_torch["ratio"] == pytest.approx(0.5)  # median of 0.75, 0.5, 0.5
    assert vs_torch["status"] == "met"
    assert found["tape overhead, forward + backward, vs hand-written"]["ratio"] == 3.0


def test_runs_as_a_script():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--help"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0
    assert "--peers" in done.stdout
