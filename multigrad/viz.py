"""Pictures of the compute graph: Graphviz DOT text, and SVG or PNG files drawn by ``dot``.

``to_dot(tensor)`` describes the graph recorded on the way to ``tensor``: one box per op (its
name, static parameters, and the shape, dtype and device of what it produced), one per leaf
tensor that requires gradients (parameters marked, and named if ``params`` names them), one
per constant array an op read, and the output. ``render(tensor, path)`` runs Graphviz's
``dot`` program on that text. The walk uses an explicit stack, so deep graphs draw too.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .autograd import LeafNode, Node, Tensor
from .backends import Device, as_dtype

__all__ = ["GraphvizNotFoundError", "render", "to_dot"]

_STYLES = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#e8e8e8"',
    "leaf": 'shape=box, style=filled, fillcolor="#cfe2f3"',
    "parameter": 'shape=box, style=filled, fillcolor="#fce5a6", penwidth=2',
    "constant": 'shape=box, style=dashed, fontcolor="#555555"',
    "output": 'shape=box, style="filled,bold", fillcolor="#d9ead3"',
}
_FORMATS = ("svg", "png", "pdf")


class GraphvizNotFoundError(RuntimeError):
    """``render`` needs Graphviz's ``dot`` program, and it is not on ``PATH``."""


def _quote(lines: list[str]) -> str:
    """A DOT string literal whose lines are ``lines``."""
    text = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return f'"{text}"'


def _describe(array, device: Device) -> str:
    return _kind(array.shape, array.dtype, device)


def _kind(shape, dtype, device: Device) -> str:
    return f"{tuple(shape)} {as_dtype(dtype).name} {device.name}"


def _param_text(params: dict) -> list[str]:
    """Short ``key=value`` lines for an op's static parameters (devices shown elsewhere, unset
    options left out)."""
    lines = []
    for key, value in params.items():
        if value is None or isinstance(value, Device):
            continue
        text = f"{key}={value!r}"
        lines.append(text if len(text) <= 40 else text[:37] + "...")
    return lines


def _op_lines(node: Node, output_kind) -> list[str]:
    """An op's name, parameters and outputs; ``output_kind`` is the ``(shape, dtype)`` of a
    single output whose node did not keep it (its rules do not read it)."""
    lines = [node.prim.name] + _param_text(node.params)
    if node.args is None:
        return lines + ["(freed by backward: pass retain_graph=True to draw more)"]
    device = node.params["device"] if node.prim.changes_device else node.device
    if node.ans is None:
        return lines + [_kind(*output_kind, device)]
    outputs = node.ans if node.prim.multi_output else (node.ans,)
    return lines + [_describe(out, device) for out in outputs]


def _is_parameter(t: Tensor) -> bool:
    from .nn import Parameter  # nn sits above viz's imports; loaded only when drawing
    return isinstance(t, Parameter)


def _leaf_lines(node: LeafNode, names: dict) -> tuple[list[str], str]:
    t = node.ref()
    if t is None:
        return ["leaf (tensor no longer exists)"], "leaf"
    kind = "parameter" if _is_parameter(t) or id(t) in names else "leaf"
    title = f"{kind} {names[id(t)]}" if id(t) in names else kind
    return [title, _describe(t.data, t.device)], kind


def to_dot(tensor: Tensor, *, params: dict[str, Tensor] | None = None) -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    Parameters
    ----------
    tensor : Tensor
        The result whose history to draw (a loss, say).
    params : dict of str to Tensor, optional
        Names for leaf tensors (``dict(model.named_parameters())``); named leaves are drawn
        as parameters. Instances of ``multigrad.nn.Parameter`` are marked even unnamed.

    Returns
    -------
    str
        A ``digraph``: data flows from leaves (top) through ops to the output (bottom). A
        backward pass without ``retain_graph=True`` frees the graph: the picture then ends at
        the first freed op, drawn without shapes.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = {id(t): name for name, t in (params or {}).items()}
    ids: dict[int, str] = {}
    lines = ["digraph multigrad {", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']

    def ident(obj) -> str:
        return ids.setdefault(id(obj), f"n{len(ids)}")

    def emit(name: str, label: list[str], kind: str) -> None:
        lines.append(f"  {name} [label={_quote(label)}, {_STYLES[kind]}];")

    root = tensor._node
    out_lines = ["output", _describe(tensor.data, tensor.device)]
    if root is None or isinstance(root, LeafNode):
        # a leaf is its own output: one box
        label, kind = (_leaf_lines(root, names) if root is not None
                       else (["constant", _describe(tensor.data, tensor.device)], "constant"))
        emit("output", ["output: " + label[0]] + label[1:], kind)
        return "\n".join(lines + ["}"]) + "\n"
    emit("output", out_lines, "output")
    index = f" [label={_quote([f'output {tensor._index}'])}]" if root.prim.multi_output else ""
    lines.append(f"  {ident(root)} -> output{index};")
    stack, seen = [root], {id(root)}
    # the (shape, dtype) of each op's output, as its consumers' edges record it: a node keeps
    # its output only when its rules read it
    kinds = {id(root): (tensor.data.shape, tensor.data.dtype)}
    while stack:
        node = stack.pop()
        if isinstance(node, LeafNode):
            emit(ident(node), *_leaf_lines(node, names))
            continue
        emit(ident(node), _op_lines(node, kinds.get(id(node))), "op")
        wired = set()
        for argpos, parent, parent_index, shape, dtype in node.edges:
            wired.add(argpos)
            kinds.setdefault(id(parent), (shape, dtype))
            label = [f"arg {argpos}"] + ([f"output {parent_index}"]
                                         if isinstance(parent, Node)
                                         and parent.prim.multi_output else [])
            lines.append(f"  {ident(parent)} -> {ident(node)} [label={_quote(label)}];")
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
        for argpos, arg in enumerate(node.args or ()):  # None once backward freed them
            if argpos not in wired and hasattr(arg, "shape"):
                name = f"{ident(node)}_c{argpos}"
                emit(name, ["constant", _describe(arg, node.device)], "constant")
                lines.append(f"  {name} -> {ident(node)} [label={_quote([f'arg {argpos}'])}];")
    return "\n".join(lines + ["}"]) + "\n"


def render(tensor: Tensor, path: str | os.PathLike, *, params: dict[str, Tensor] | None = None,
           format: str | None = None) -> str:
    """Draw the graph that produced ``tensor`` into an SVG, PNG or PDF file with Graphviz.

    Parameters
    ----------
    tensor : Tensor
        The result whose history to draw.
    path : str or os.PathLike
        The file to write.
    params : dict of str to Tensor, optional
        Names for leaf tensors, as for ``to_dot``.
    format : {"svg", "png", "pdf"}, optional
        Default: from the file's suffix.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    GraphvizNotFoundError
        Graphviz's ``dot`` program is not on ``PATH`` (the message says how to install it;
        ``to_dot`` works without it).
    """
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if fmt not in _FORMATS:
        raise ValueError(f"render: cannot tell the picture format of {path!r}; use a path "
                         f"ending in {', '.join('.' + f for f in _FORMATS)} or pass format=")
    text = to_dot(tensor, params=params)
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "render needs Graphviz's 'dot' program, which is not on PATH. Install Graphviz: "
            "'apt-get install graphviz' (Debian, Ubuntu), 'brew install graphviz' (macOS), "
            "'conda install graphviz', or from https://graphviz.org/download/. Without it, "
            "multigrad.viz.to_dot(tensor) gives the DOT text to draw elsewhere.")
    done = subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode("utf-8"),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"render: {dot} failed with exit status {done.returncode}: "
                           f"{done.stderr.decode('utf-8', 'replace').strip()}")
    return path
