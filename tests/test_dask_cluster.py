"""A gradient on a dask.distributed LocalCluster: two worker processes on the loopback
address, shut down whatever happens. The task graph holds no multigrad object, so the
workers need nothing of multigrad."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg

da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install -e "
                                              "'.[backends]')")
pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e "
                                          "'.[backends]')")

from benchmarks.workloads.scale import local_cluster  # noqa: E402


def test_logistic_gradient_on_a_two_process_local_cluster():
    import cloudpickle

    rng = np.random.default_rng(4)
    Xn = rng.standard_normal((500, 6))
    yn = (rng.random(500) > 0.5).astype(np.float64)
    X = mg.asarray(da.from_array(Xn, chunks=(120, 6)))  # five uneven chunks
    y = mg.asarray(da.from_array(yn, chunks=120))
    w = mg.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    z = X @ w
    loss = mg.mean(mg.logaddexp(0.0, z) - y * z)
    loss.backward()
    graph = dict(loss.data.__dask_graph__()) | dict(w._grad.data.__dask_graph__())
    assert b"multigrad" not in cloudpickle.dumps(graph)

    with local_cluster() as client:  # the benchmark's: two processes on 127.0.0.1
        assert len(client.scheduler_info()["workers"]) == 2
        (value,) = mg.compute(loss)
        assert w.grad.device == "cpu"
    zn = Xn @ w.numpy()
    p = 1 / (1 + np.exp(-zn))
    np.testing.assert_allclose(float(value), np.mean(np.logaddexp(0, zn) - yn * zn), rtol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), Xn.T @ (p - yn) / 500, rtol=1e-12, atol=1e-15)
