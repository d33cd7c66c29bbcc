"""The GitHub Actions workflow runs ci/cell.sh for every backend the script knows, on every
Python version pyproject.toml's classifiers claim, plus the docs build and the benchmarks'
smoke run."""

from __future__ import annotations

import copy
import importlib.util
import re

import pytest

from test_ci_scripts import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CELL = re.compile(r"^bash ci/cell\.sh \$\{\{ matrix\.backend \}\}$")
GPU_BACKENDS = {"cupy"}


def _load_workflow() -> dict:
    if importlib.util.find_spec("yaml") is None:
        pytest.fail("the workflow check needs pyyaml: install the test extra with "
                    "python -m pip install -e '.[test]'")
    import yaml
    return yaml.safe_load(WORKFLOW.read_text())


def cell_backends(script: str) -> set[str]:
    """The backends ``ci/cell.sh`` accepts: the branches of its ``case "$backend"``."""
    body = re.search(r'case "\$backend" in\n(.*?)\nesac', script, re.S).group(1)
    return set(re.findall(r"(?m)^\s*([\w-]+)\) device=", body))


def classifier_pythons(pyproject: str) -> set[str]:
    return set(re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject))


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job.get("steps", []) if "run" in step]


def problems(workflow: dict, backends: set[str], pythons: set[str]) -> list[str]:
    """What is wrong with ``workflow``'s cells; an empty list when it matches."""
    found, cells = [], set()
    for name, job in workflow["jobs"].items():
        runs = [r for r in _runs(job) if "ci/cell.sh" in r or "pytest" in r]
        matrix = job.get("strategy", {}).get("matrix", {})
        if not runs and "backend" not in matrix:
            continue  # not a test cell (the docs, the benchmarks)
        if len(runs) != 1 or not CELL.match(runs[0]):
            found.append(f"job {name}: expected one step `bash ci/cell.sh "
                         f"${{{{ matrix.backend }}}}`, got {runs}")
        setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        if [s.get("with", {}).get("python-version") for s in setup] != ["${{ matrix.python }}"]:
            found.append(f"job {name}: setup-python must install ${{{{ matrix.python }}}}")
        labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
        for python in matrix.get("python", []):
            for backend in matrix.get("backend", []):
                cells.add((str(python), backend))
                on_gpu = "self-hosted" in labels and "gpu" in labels
                if (backend in GPU_BACKENDS) != on_gpu:
                    found.append(f"job {name}: the {backend} cell runs on {labels}; GPU cells run "
                                 "on the self-hosted runners labelled gpu, the others on "
                                 "GitHub's")
    for python, backend in sorted(cells):
        if backend not in backends:
            found.append(f"cell {backend} x {python}: ci/cell.sh has no backend {backend!r}")
        if python not in pythons:
            found.append(f"cell {backend} x {python}: Python {python} is not among "
                         f"pyproject.toml's classifiers {sorted(pythons)}")
    for backend in sorted(backends):
        ran = {python for python, b in cells if b == backend}
        if not ran:
            found.append(f"backend {backend} runs in no job")
        elif backend not in GPU_BACKENDS:  # one GPU cell is enough; CPU cells run on every Python
            found.extend(f"backend {backend} does not run on Python {python}"
                         for python in sorted(pythons - ran))
    return found


def test_the_workflow_runs_every_backend_of_cell_sh_on_every_classified_python():
    backends = cell_backends((ROOT / "ci" / "cell.sh").read_text())
    pythons = classifier_pythons((ROOT / "pyproject.toml").read_text())
    assert backends == {"numpy", "array-api-strict", "cupy", "torch-cpu", "jax-cpu", "dask"}
    assert {"3.10", "3.13"} <= pythons
    assert problems(_load_workflow(), backends, pythons) == []


@pytest.mark.parametrize("change, expected", [
    (lambda w: w["jobs"]["cpu"]["strategy"]["matrix"]["python"].remove("3.13"),
     "backend numpy does not run on Python 3.13"),
    (lambda w: w["jobs"]["cpu"]["strategy"]["matrix"]["python"].append("3.9"),
     "Python 3.9 is not among pyproject.toml's classifiers"),
    (lambda w: w["jobs"]["cpu"]["strategy"]["matrix"]["backend"].append("mxnet"),
     "ci/cell.sh has no backend 'mxnet'"),
    (lambda w: w["jobs"].pop("backends"), "backend dask runs in no job"),
    (lambda w: w["jobs"].pop("gpu"), "backend cupy runs in no job"),
    (lambda w: w["jobs"]["gpu"].update({"runs-on": "ubuntu-latest"}),
     "the cupy cell runs on ['ubuntu-latest']"),
    (lambda w: w["jobs"]["cpu"]["steps"][-1].update({"run": "python -m pytest -q"}),
     "job cpu: expected one step `bash ci/cell.sh"),
])
def test_the_check_finds_a_workflow_that_drifted(change, expected):
    backends = cell_backends((ROOT / "ci" / "cell.sh").read_text())
    pythons = classifier_pythons((ROOT / "pyproject.toml").read_text())
    workflow = copy.deepcopy(_load_workflow())
    change(workflow)
    assert any(expected in p for p in problems(workflow, backends, pythons)), \
        problems(workflow, backends, pythons)


def test_the_workflow_builds_the_docs_and_smoke_runs_the_benchmarks():
    jobs = _load_workflow()["jobs"]
    runs = {name: _runs(job) for name, job in jobs.items()}
    docs = [name for name, r in runs.items() if "python -m mkdocs build --strict" in r]
    assert docs and "python -m pip install -e '.[docs]'" in runs[docs[0]]
    assert any(r.startswith("python -m benchmarks --smoke") for rs in runs.values() for r in rs)


def test_the_old_matrix_file_is_gone_and_the_readme_points_at_the_workflow():
    assert not (ROOT / "ci" / "matrix.yml").exists()
    assert ".github/workflows/ci.yml" in (ROOT / "ci" / "README.md").read_text()
