"""multigrad.viz: the DOT text of a graph (ops, shapes, dtypes, devices, leaves and parameters),
and render's use of Graphviz's ``dot``, or its error where ``dot`` is missing."""

from __future__ import annotations

import re
import shutil
import stat
import sys

import pytest

import multigrad as mg
from multigrad import viz
from test_placement import no_host_transfers


def parse(dot: str):
    """(labels by node name, list of (source, target, edge label)) of DOT text from to_dot."""
    labels = {name: label.split("\\n")
              for name, label in re.findall(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M)}
    edges = re.findall(r'^  (\w+) -> (\w+)(?: \[label="([^"]*)"\])?;', dot, re.M)
    return labels, edges


def small_graph(device="cpu", dtype=mg.float64):
    """sum(exp(x @ w) * c): a leaf x, a parameter w and a constant c."""
    x = mg.tensor([[0.1, 0.2]], dtype=dtype, device=device, requires_grad=True)
    w = mg.nn.Parameter(mg.ones((2, 3), dtype=dtype, device=device))
    c = mg.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device)
    return mg.sum(mg.exp(x @ w) * c), x, w


def test_to_dot_names_ops_shapes_dtypes_devices_leaves_and_parameters(backend):
    y, x, w = small_graph(backend.device, backend.dtype)
    with no_host_transfers():
        dot = viz.to_dot(y)
    assert dot.startswith("digraph multigrad {\n") and dot.endswith("}\n")
    labels, edges = parse(dot)
    where = f"{backend.dtype_name} {backend.device.name}"
    ops = {labels[n][0]: labels[n] for n in labels if "rounded" in _style(dot, n)}
    assert set(ops) == {"sum", "multiply", "exp", "matmul"}
    assert ops["matmul"][-1] == f"(1, 3) {where}" and ops["sum"][-1] == f"() {where}"
    assert labels["output"] == ["output", f"() {where}"]
    kinds = sorted(label[0] for label in labels.values() if label[0] in
                   ("leaf", "parameter", "constant"))
    assert kinds == ["constant", "leaf", "parameter"]
    leaf = next(label for label in labels.values() if label[0] == "leaf")
    parameter = next(label for label in labels.values() if label[0] == "parameter")
    assert leaf[1] == f"(1, 2) {where}" and parameter[1] == f"(2, 3) {where}"
    # every box but the output feeds exactly one op here, and every op reaches the output
    assert len(edges) == len(labels) - 1
    assert {source for source, _, _ in edges} == set(labels) - {"output"}


def _style(dot: str, name: str) -> str:
    return re.search(rf"^  {name} \[label=.*$", dot, re.M).group(0)


def test_named_parameters_reused_inputs_and_multi_output_ops():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a, b = mg.meshgrid(x, x)
    labels, edges = parse(viz.to_dot(mg.sum(a * b * x[0]), params={"scale": x}))
    # x appears once, named, though four ops read it
    assert [label[0] for label in labels.values()].count("parameter scale") == 1
    meshgrid = next(n for n, label in labels.items() if label[0] == "meshgrid")
    assert labels[meshgrid][1:] == ["indexing='xy'"] + ["(2, 2) float64 cpu"] * 2
    assert sorted(label for source, _, label in edges if source == meshgrid) == [
        "arg 0\\noutput 0", "arg 1\\noutput 1"]


def test_freed_values_and_lone_tensors():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.sum(mg.sin(x))
    y.backward()
    labels, _ = parse(viz.to_dot(y))
    assert sorted(labels) == ["n0", "output"]  # backward cut the graph after its first op
    assert labels["n0"][-1] == "(freed by backward: pass retain_graph=True to draw more)"
    assert parse(viz.to_dot(x))[0] == {"output": ["output: leaf", "(2,) float64 cpu"]}
    assert parse(viz.to_dot(mg.ones((3,))))[0] == {"output": ["output: constant",
                                                              "(3,) float64 cpu"]}


def test_a_deep_graph_is_walked_without_recursion():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3 * sys.getrecursionlimit()):
        y = y * 1.0
    labels, edges = parse(viz.to_dot(y))
    assert len(labels) == 3 * sys.getrecursionlimit() + 2 and len(edges) == len(labels) - 1


def test_to_dot_needs_a_tensor():
    with pytest.raises(TypeError, match="to_dot: expected a Tensor, got list"):
        viz.to_dot([1.0])


# -- render ---------------------------------------------------------------------------------

def _fake_dot(folder, body: str):
    """A ``dot`` program on a private PATH: a Python script with ``body``."""
    script = folder / "dot"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_render_without_dot_says_how_to_get_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH where no dot exists
    y, _, _ = small_graph()
    with pytest.raises(viz.GraphvizNotFoundError,
                       match=r"'dot' program, which is not on PATH.*apt-get install graphviz"
                             r".*https://graphviz.org/download/.*to_dot"):
        viz.render(y, tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


def test_render_hands_the_dot_text_to_dot(tmp_path, monkeypatch):
    # the fake dot writes its arguments, then the text it read, to the file after -o
    body = ("out = sys.argv[sys.argv.index('-o') + 1]\n"
            "open(out, 'w').write(' '.join(sys.argv[1:]) + '\\n' + sys.stdin.read())")
    monkeypatch.setenv("PATH", str(_fake_dot(tmp_path, body)))
    y, _, _ = small_graph()
    path = tmp_path / "graph.PNG"
    assert viz.render(y, path) == str(path)
    args, text = path.read_text().split("\n", 1)
    assert args == f"-Tpng -o {path}" and text == viz.to_dot(y)


def test_render_reports_dot_failures_and_unknown_formats(tmp_path, monkeypatch):
    body = "sys.stderr.write('syntax error in line 1'); sys.exit(3)"
    monkeypatch.setenv("PATH", str(_fake_dot(tmp_path, body)))
    y, _, _ = small_graph()
    with pytest.raises(RuntimeError, match="failed with exit status 3: syntax error in line 1"):
        viz.render(y, tmp_path / "graph.svg")
    with pytest.raises(ValueError, match=r"cannot tell the picture format of .*graph.txt"):
        viz.render(y, tmp_path / "graph.txt")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_draws_an_svg_with_graphviz(tmp_path):
    y, _, _ = small_graph()
    viz.render(y, tmp_path / "graph.svg")
    assert "<svg" in (tmp_path / "graph.svg").read_text()
