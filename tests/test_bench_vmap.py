"""benchmarks/bench_vmap.py, quick sizes and multigrad alone: every system's result agrees
with the others' before timing (the run stops otherwise), and each is timed."""

from __future__ import annotations

from benchmarks.bench_vmap import main


def test_every_workload_checks_and_times_its_systems(capsys):
    results = main(["--quick", "--peers", ""])
    assert list(results) == ["per-example gradients", "jacobians", "hessian"]
    assert set(results["per-example gradients"]) == {
        "multigrad vmap(grad)", "multigrad one batched gradient", "multigrad loop of gradients"}
    assert set(results["jacobians"]) == {"jacrev (batched)", "jacrev row by row",
                                         "jacfwd (batched)", "jacfwd column by column"}
    for table in results.values():
        assert all(median > 0 and ratio > 0 for median, ratio in table.values())
    assert capsys.readouterr().out.count("largest relative difference") == 4


def test_the_workloads_run_on_another_device_without_peers_that_lack_it(capsys):
    # a strict device: multigrad's inputs live there (no NumPy conversion allowed), and a
    # peer is compared only on a device of its own of the same kind, never on the host
    results = main(["--quick", "--peers", "torch,jax", "--device", "strict:device1"])
    assert set(results["per-example gradients"]) == {
        "multigrad vmap(grad)", "multigrad one batched gradient", "multigrad loop of gradients"}
    assert set(results["hessian"]) == {"multigrad hessian"}
    assert "multigrad on strict:device1" in capsys.readouterr().out
