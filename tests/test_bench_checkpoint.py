"""benchmarks/bench_checkpoint.py, quick sizes: both layer kinds, same gradients, less memory."""

from __future__ import annotations

from benchmarks.bench_checkpoint import main


def test_checkpointing_cuts_memory_and_keeps_gradients_bit_identical(capsys):
    results = main(["--quick"])
    assert set(results) == {"dense", "residual"}
    cut = {}
    for kind, (memory, median, same) in results.items():
        assert same, kind
        cut[kind] = memory["plain"] / memory["per-layer checkpoint"]
        assert cut[kind] > 1, kind
        assert all(seconds > 0 for seconds in median.values())
    # a residual layer keeps six arrays for its backward pass, a dense one three; both keep one
    # when checkpointed
    assert cut["residual"] > cut["dense"]
    assert capsys.readouterr().out.count("gradients bit-identical: True") == 2


def test_one_kind_with_a_hidden_width():
    results = main(["--quick", "--layer", "residual", "--hidden", "64"])
    assert list(results) == ["residual"]
    memory, _, same = results["residual"]
    assert same and memory["plain"] > memory["per-layer checkpoint"]
