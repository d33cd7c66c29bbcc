"""Pytrees: nested tuples, lists and dicts whose leaves are tensors (or anything else).

The transforms take and return such nests. ``flatten`` splits a nest into its leaves and a
``TreeDef`` describing the containers; ``unflatten`` rebuilds a nest of the same shape from new
leaves. Dicts are walked in sorted key order, so ``{"a": .., "b": ..}`` and ``{"b": .., "a": ..}``
have the same structure; named tuples keep their type. ``None`` is a leaf.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["TreeDef", "flatten", "unflatten", "tree_map", "leaf_paths"]

_LEAF = "leaf"


class TreeDef:
    """The container structure of a pytree: a kind, what rebuilds it, and the children."""

    __slots__ = ("kind", "meta", "children", "num_leaves")

    def __init__(self, kind: str, meta: Any = None, children: tuple = ()):
        self.kind = kind  # "leaf", "tuple", "list", "dict" or "namedtuple"
        self.meta = meta  # the sorted keys of a dict, the class of a named tuple
        self.children = children
        self.num_leaves = 1 if kind == _LEAF else sum(c.num_leaves for c in children)

    def __eq__(self, other) -> bool:
        return isinstance(other, TreeDef) and self.mismatch(other) is None

    def __hash__(self):
        return hash((self.kind, self.num_leaves))

    def __repr__(self) -> str:
        return f"TreeDef({_describe(self)})"

    def mismatch(self, other: "TreeDef", path: str = "") -> str | None:
        """Where and how ``other`` differs from this structure, or None if they agree."""
        if self.kind != other.kind or self.meta != other.meta:
            return f"at {path or 'the top'}: {_describe(self)} vs {_describe(other)}"
        if len(self.children) != len(other.children):
            return (f"at {path or 'the top'}: a {self.kind} of {len(self.children)} vs a "
                    f"{other.kind} of {len(other.children)}")
        for key, a, b in zip(_keys(self), self.children, other.children):
            found = a.mismatch(b, path + key)
            if found:
                return found
        return None


def _describe(tree: TreeDef) -> str:
    if tree.kind == _LEAF:
        return "a leaf"
    if tree.kind == "dict":
        return f"a dict with keys {list(tree.meta)}"
    if tree.kind == "namedtuple":
        return f"a {tree.meta.__name__} of {len(tree.children)}"
    return f"a {tree.kind} of {len(tree.children)}"


def _keys(tree: TreeDef) -> list[str]:
    """How each child is reached from its parent, as Python would index it."""
    if tree.kind == "dict":
        return [f"[{k!r}]" for k in tree.meta]
    return [f"[{i}]" for i in range(len(tree.children))]


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys of mixed types: fall back to insertion order
        return tuple(d)


def flatten(tree) -> tuple[list, TreeDef]:
    """The leaves of ``tree`` (depth first, dicts by sorted key) and its structure."""
    leaves: list = []

    def walk(node) -> TreeDef:
        if isinstance(node, dict):
            keys = _sorted_keys(node)
            return TreeDef("dict", keys, tuple(walk(node[k]) for k in keys))
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return TreeDef("namedtuple", type(node), tuple(walk(c) for c in node))
        if isinstance(node, (tuple, list)):
            return TreeDef("tuple" if isinstance(node, tuple) else "list", None,
                           tuple(walk(c) for c in node))
        leaves.append(node)
        return TreeDef(_LEAF)

    return leaves, walk(tree)


def unflatten(treedef: TreeDef, leaves) -> Any:
    """A nest of ``treedef``'s structure holding ``leaves`` in order."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"unflatten: the structure holds {treedef.num_leaves} leaves, "
                         f"got {len(leaves)}")
    it = iter(leaves)

    def build(node: TreeDef):
        if node.kind == _LEAF:
            return next(it)
        children = [build(c) for c in node.children]
        if node.kind == "dict":
            return dict(zip(node.meta, children))
        if node.kind == "namedtuple":
            return node.meta(*children)
        return tuple(children) if node.kind == "tuple" else children

    return build(treedef)


def tree_map(fn: Callable, tree) -> Any:
    """``tree`` with ``fn`` applied to every leaf."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(x) for x in leaves])


def leaf_paths(treedef: TreeDef) -> list[str]:
    """How to reach each leaf, as Python would index it: ``["[0]", "[1]['w']", ...]``."""
    paths: list[str] = []

    def walk(node: TreeDef, path: str):
        if node.kind == _LEAF:
            paths.append(path)
        for key, child in zip(_keys(node), node.children):
            walk(child, path + key)

    walk(treedef, "")
    return paths
