"""Test fixtures: every (backend, device, dtype) this machine has, with readable ids.

``pytest --device cuda`` (or ``MULTIGRAD_TEST_DEVICE=cuda``) narrows the run to the cases whose
id contains that word; the cupy cases always appear and are skipped, with the reason, where CUDA
is missing. The summary at the end counts the skips by reason (``-rs`` lists each).

``pytest --backend NAME`` (or ``MULTIGRAD_TEST_BACKEND=NAME``; several names separated by
commas) runs the backend cases on any named device instead: ``torch:cpu``, ``jax:cpu``,
``dask``, ``torch:cuda:0``... in float64 and float32 (``--device`` still narrows them). A
library that is not installed skips its cases with the reason. What a backend cannot do is
listed, with the reason, in ``tests/backend_known_failures.py``: those cases are marked
``xfail`` (strict: one that starts passing fails the run until its entry is removed).

SciPy reads ``SCIPY_ARRAY_API`` once, when it is first imported: it is set here, before any test
imports SciPy, so that SciPy and scikit-learn take multigrad tensors in the tests that hand them
some (``tests/test_scipy_array_api.py``, ``tests/test_sklearn_array_api.py``).
"""

from __future__ import annotations

import collections
import os
import re
from dataclasses import dataclass

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import multigrad as mg

from backend_known_failures import KNOWN_FAILURES

# hypothesis (tests/test_properties.py): the same examples every run, no example database, no
# deadline (timings on shared machines vary); a few examples per spec in the normal run, many
# with ``pytest --hypothesis-profile=multigrad-long``
settings.register_profile("multigrad", derandomize=True, deadline=None, database=None,
                          max_examples=3, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("multigrad-long", parent=settings.get_profile("multigrad"),
                          max_examples=300)
settings.load_profile("multigrad")


@dataclass(frozen=True)
class Backend:
    """One (library, device, dtype) combination the tests run on."""

    id: str
    device_name: str
    dtype_name: str

    @property
    def device(self) -> mg.Device:
        return mg.get_device(self.device_name)

    @property
    def dtype(self) -> mg.DType:
        return getattr(mg, self.dtype_name)

    @property
    def precise(self) -> bool:
        return self.dtype_name == "float64"

    def tensor(self, values, requires_grad=False, dtype=None):
        """A tensor of this backend from NumPy values (floats take the backend's dtype)."""
        values = np.asarray(values)
        if dtype is None and values.dtype.kind == "f":
            dtype = self.dtype
        return mg.tensor(values, dtype=dtype, device=self.device, requires_grad=requires_grad)


BACKENDS = [
    Backend("numpy-cpu-float64", "cpu", "float64"),
    Backend("numpy-cpu-float32", "cpu", "float32"),
    Backend("strict-CPU_DEVICE-float64", "strict:CPU_DEVICE", "float64"),
    Backend("strict-device1-float32", "strict:device1", "float32"),
    Backend("strict-device1-float64", "strict:device1", "float64"),
    Backend("cupy-cuda0-float32", "cuda:0", "float32"),
    Backend("cupy-cuda0-float64", "cuda:0", "float64"),
]


def named_backends(names: str) -> list[Backend]:
    """The float64 and float32 cases of each named device (comma-separated): ids such as
    ``torch-cpu-float64``, ``dask-float32``."""
    found = []
    for name in filter(None, (n.strip() for n in names.split(","))):
        slug = name.replace(":", "-")
        found += [Backend(f"{slug}-float64", name, "float64"),
                  Backend(f"{slug}-float32", name, "float32")]
    return found


def _cuda_missing() -> str | None:
    """Why the cupy cases cannot run here, or None if they can."""
    try:
        mg.get_device("cuda:0")
    except mg.DeviceError as err:
        return str(err)
    return None


def pytest_addoption(parser):
    parser.addoption("--device", action="store", default=os.environ.get("MULTIGRAD_TEST_DEVICE"),
                     help="run only the backend cases whose id contains this word "
                          "(cpu, strict, device1, cuda, float32...)")
    parser.addoption("--backend", action="store",
                     default=os.environ.get("MULTIGRAD_TEST_BACKEND"),
                     help="run the backend cases on these named devices instead of the "
                          "built-in ones (torch:cpu, jax:cpu, dask, ...; comma-separated)")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (the cupy cases)")


def selected_backends(config, precise_only=False):
    wanted = config.getoption("--device")
    named = config.getoption("--backend")
    chosen = []
    for b in named_backends(named) if named else BACKENDS:
        if wanted and wanted not in b.id and not (wanted == "cuda" and "cupy" in b.id):
            continue
        if precise_only and not b.precise:
            continue
        marks = [pytest.mark.gpu] if b.id.startswith("cupy") else []
        chosen.append(pytest.param(b, id=b.id, marks=marks))
    return chosen


def pytest_generate_tests(metafunc):
    for name, precise in (("backend", False), ("backend64", True)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, selected_backends(metafunc.config, precise), indirect=True)


def _skip_missing(backend: Backend) -> Backend:
    if backend.id.startswith("cupy"):
        reason = _cuda_missing()
        if reason:
            pytest.skip(f"no CUDA here: {reason}")
    elif backend.device_name not in ("cpu",) and not backend.device_name.startswith("strict"):
        try:
            backend.device
        except mg.DeviceError as err:
            pytest.skip(f"no {backend.device_name} here: {err}")
    return backend


def known_failure_matches(pattern: str, nodeid: str) -> bool:
    """Whether a test node id matches a pattern of ``KNOWN_FAILURES``: ``*`` stands for any
    text, every other character for itself (brackets included, unlike fnmatch)."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), nodeid) is not None


def pytest_collection_modifyitems(config, items):
    """Mark the known failures of the named backends as strict xfails, with their reasons."""
    named = config.getoption("--backend")
    if not named:
        return
    for backend in named_backends(named):
        entries = KNOWN_FAILURES.get(backend.device_name.split(":")[0], ())
        for item in items:
            if f"[{backend.id}" not in item.nodeid and f"-{backend.id}" not in item.nodeid:
                continue
            for pattern, reason in entries:
                if known_failure_matches(pattern, item.nodeid):
                    item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                    break


@pytest.fixture
def backend(request) -> Backend:
    """Every (backend, device, dtype) case."""
    return _skip_missing(request.param)


@pytest.fixture
def backend64(request) -> Backend:
    """The float64 cases only (for checks against finite differences)."""
    return _skip_missing(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_terminal_summary(terminalreporter):
    """One line per reason for the skipped cases, most frequent first, so that ``pytest -q``
    says why it skipped what it skipped."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons = collections.Counter(
        report.longrepr[2].removeprefix("Skipped: ") if isinstance(report.longrepr, tuple)
        else str(report.longrepr) for report in skipped)
    terminalreporter.write_line(f"skipped {len(skipped)} cases, by reason (-rs lists each):")
    for reason, count in reasons.most_common(8):
        terminalreporter.write_line(f"  {count:6d}  {reason}")
    if len(reasons) > 8:
        rest = sum(count for _, count in reasons.most_common()[8:])
        terminalreporter.write_line(f"  {rest:6d}  {len(reasons) - 8} other reasons")
