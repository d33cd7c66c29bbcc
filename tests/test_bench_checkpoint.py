"""benchmarks/bench_checkpoint.py, quick sizes: the runs' gradients are bit-identical, and
checkpointing in sqrt(n) segments makes memory grow as the square root of the depth."""

from __future__ import annotations

from benchmarks.bench_checkpoint import main


def test_every_run_gives_the_same_gradients_and_checkpoints_hold_less(capsys):
    results = main(["--quick"])
    assert set(results) == {"dense", "residual"}
    for kind, (memory, times, same) in results.items():
        assert same, kind
        assert memory["sqrt(n) segments"] < memory["plain"], kind
        assert all(t > 0 for ts in times.values() for t in ts)
    # a residual layer keeps two arrays for its backward pass (its input and the tanh output),
    # one checkpointed; a dense one keeps only its input either way
    memory = results["residual"][0]
    assert memory["per-layer checkpoint"] < 0.75 * memory["plain"]
    assert capsys.readouterr().out.count("gradients bit-identical: True") == 2


def test_segments_grow_as_the_square_root_of_the_depth():
    curves = main(["--quick", "--depths", "16,64"])
    for kind, found in curves.items():
        grows = {run: found[64][run] / found[16][run] for run in found[16]}
        # four times the layers: about four times the memory kept per layer, about twice the
        # memory in sqrt(n) segments
        assert grows["plain"] > 3.0, (kind, grows)
        assert grows["sqrt(n) segments"] < 2.5, (kind, grows)


def test_one_kind_with_a_hidden_width():
    results = main(["--quick", "--layer", "residual", "--hidden", "64"])
    assert list(results) == ["residual"]
    memory, _, same = results["residual"]
    assert same and memory["plain"] > memory["per-layer checkpoint"]
