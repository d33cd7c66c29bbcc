"""Generate docs/coverage.md: which array API functions multigrad exports and differentiates.

    python tools/coverage.py           # rewrite docs/coverage.md
    python tools/coverage.py --check   # exit 1 if docs/coverage.md is out of date

The list of standard functions comes from array_api_strict (the pinned version implements the
newest standard, 2025.12): its main namespace and its ``linalg`` extension, without dtypes,
constants, ``Device`` and its flag functions, then, in a table of their own, the ``fft``
extension's functions (labelled ``fft.<name>``, as they live in ``multigrad.fft``). Support is
read from ``multigrad.autograd.REGISTRY``: a function backed by a primitive with VJP rules supports reverse
mode, with JVP rules forward mode; a primitive declared without rules gives results that carry no
gradient (integer or boolean results). A public function that is not itself a primitive is
"composed" of primitives, and differentiates through them.

The complex columns are read from the op table (``tests/op_specs``): a primitive that complex
specs cover has its VJP and JVP checked against central differences in the real and imaginary
parts of complex inputs; one in ``tests/op_specs/real_only.py`` refuses complex input with an
error (``tests/test_complex.py`` checks that no differentiable primitive is in neither).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "coverage.md"

#: functions networks need beyond the standard (multigrad.ops.nn adds to these)
NETWORK_FUNCTIONS = ("softmax", "log_softmax", "logsumexp", "relu", "sigmoid", "softplus", "gelu")

#: standard functions that make new arrays (leaves) or answer questions about dtypes and shapes:
#: there is nothing to differentiate
NOT_DIFFERENTIATED = {
    "arange": "creates a leaf", "empty": "creates a leaf", "empty_like": "creates a leaf",
    "eye": "creates a leaf", "full": "creates a leaf", "full_like": "creates a leaf",
    "linspace": "creates a leaf", "ones": "creates a leaf", "ones_like": "creates a leaf",
    "zeros": "creates a leaf", "zeros_like": "creates a leaf", "from_dlpack": "creates a leaf",
    "can_cast": "dtype query", "finfo": "dtype query", "iinfo": "dtype query",
    "isdtype": "dtype query", "result_type": "dtype query", "broadcast_shapes": "shape query",
    "__array_namespace_info__": "inspection",
    "fftfreq": "creates a leaf", "rfftfreq": "creates a leaf",
}


def standard_functions():
    """(main namespace functions, linalg functions) of the array API standard, sorted by name.

    Sorted because array_api_strict rebuilds ``__all__`` (in another order) whenever its flags
    change, and the table must not depend on what ran before.
    """
    import array_api_strict as xp

    def is_function(obj):
        return inspect.isfunction(obj) or inspect.isbuiltin(obj)

    main = sorted(n for n in xp.__all__
                  if is_function(getattr(xp, n, None)) and "array_api_strict_flags" not in n)
    linalg_module = sys.modules.get("array_api_strict._linalg")
    extra = [n for n, f in vars(linalg_module).items()
             if not n.startswith("_") and inspect.isfunction(f)
             and f.__module__ == "array_api_strict._linalg"] if linalg_module else []
    linalg = sorted(set(xp.linalg.__all__) | set(extra))
    return main, linalg


def fft_functions():
    """The functions of the standard's ``fft`` extension, sorted by name."""
    import array_api_strict as xp

    return sorted(xp.fft.__all__)


def _primitive_for(name, fn, registry, prefix=""):
    """The registry primitive behind a public function, or None if it is composed."""
    from multigrad.autograd import Primitive

    if isinstance(fn, Primitive):
        return fn
    for key in (prefix + name, name):
        if key in registry:
            return registry[key]
    return None


def _modes(prim):
    """(reverse, forward, batching) support of one primitive."""
    from multigrad.batching import rule_kind

    batching = _BATCHING[rule_kind(prim)]
    if prim.vjp is None:
        return "no gradient", "no tangent", batching
    reverse = "yes" if any(r is not None for r in prim.vjp) else "zero (piecewise constant)"
    forward = "yes" if any(r is not None for r in prim.jvp) else "zero (piecewise constant)"
    return reverse, forward, batching


#: how vmap batches a primitive (``multigrad.batching.rule_kind``), as the table says it
_BATCHING = {"elementwise": "elementwise", "axis": "axes shifted", "unchanged": "takes stacks",
             "stacked": "stacks (own rule)", "rule": "own rule", "loop": "loop"}


def complex_support():
    """(checked, second_order, real_only): the primitives whose derivatives the op table checks
    on complex inputs (to second order for the second set), and those that refuse complex
    input, as sets of registry names."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from op_specs import ALL_SPECS
    from op_specs.real_only import REAL_ONLY

    complex_specs = [s for s in ALL_SPECS if s.complex]
    checked = {n for s in complex_specs for n in s.covers}
    second_order = {n for s in complex_specs if s.second_order == "fd" for n in s.covers}
    return checked, second_order, set(REAL_ONLY)


def _complex_modes(prim, modes, support):
    """(reverse, forward) support of one differentiable primitive for complex input."""
    checked, _, real_only = support
    if prim.name in real_only:
        return "error (real only)", "error (real only)"
    if prim.name in checked:
        return modes
    return "not checked", "not checked"


def rows_for(names, namespace, registry, support, prefix=""):
    """One table row per function: (name, exported, primitive, reverse, forward, complex
    reverse, complex forward, batching)."""
    rows = []
    for name in names:
        fn = getattr(namespace, name, None)
        if fn is None:
            rows.append((name, "no", "", *["missing"] * 5))
            continue
        prim = _primitive_for(name, fn, registry, prefix)
        if prim is not None:
            *modes, batching = _modes(prim)
            complex_modes = (_complex_modes(prim, modes, support) if prim.vjp is not None
                             else modes)
            rows.append((name, "yes", f"`{prim.name}`", *modes, *complex_modes, batching))
        elif name in NOT_DIFFERENTIATED:
            why = f"n/a ({NOT_DIFFERENTIATED[name]})"
            rows.append((name, "yes", "", *[why] * 5))
        else:
            rows.append((name, "yes", "", *["composed"] * 5))
    return rows


def _table(rows):
    lines = ["| function | exported | primitive | reverse mode | forward mode | complex reverse "
             "| complex forward | batching (vmap) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| `{}` | {} | {} | {} | {} | {} | {} | {} |".format(*row) for row in rows]
    return lines


def render() -> str:
    """The whole of docs/coverage.md as a string."""
    import array_api_strict
    import multigrad
    from multigrad.autograd import REGISTRY
    from multigrad.batching import rule_kind
    from multigrad.ops import nn as nn_family

    main, linalg = standard_functions()
    network = list(NETWORK_FUNCTIONS) + [n for n in nn_family.__all__
                                         if n not in NETWORK_FUNCTIONS]
    support = complex_support()
    main_rows = rows_for(main, multigrad, REGISTRY, support)
    linalg_rows = rows_for(linalg, getattr(multigrad, "linalg", None), REGISTRY, support,
                           "linalg.")
    network_rows = rows_for(network, multigrad, REGISTRY, support)
    fft = fft_functions()
    fft_rows = [(f"fft.{name}", *rest) for name, *rest in
                rows_for(fft, getattr(multigrad, "fft", None), REGISTRY, support, "fft.")]
    fft_covered = sum(r[1] == "yes" for r in fft_rows)
    standard = main_rows + linalg_rows
    covered = sum(r[1] == "yes" for r in standard)
    with_rules = sum(r[3] == "yes" for r in standard)
    net_covered = sum(r[1] == "yes" for r in network_rows)
    shown = {r[2].strip("`") for r in standard + network_rows + fft_rows if r[2]}
    others = sorted(set(REGISTRY) - shown)

    out = [
        "# Coverage of the array API standard",
        "",
        "<!-- generated by tools/coverage.py: do not edit; run `python tools/coverage.py` -->",
        "",
        f"**{covered} of {len(standard)} functions covered** (array API standard "
        f"{multigrad.__array_api_version__}: {len(main)} in the main namespace and "
        f"{len(linalg)} in `linalg`, as listed by array-api-strict {array_api_strict.__version__});"
        f" {with_rules} of them are primitives with derivative rules. "
        f"{fft_covered} of {len(fft)} functions of the `fft` extension. "
        f"{net_covered} of {len(network)} network functions.",
        "",
        "Columns: *exported* means `multigrad.<name>` (or `multigrad.linalg.<name>`, "
        "`multigrad.fft.<name>`) exists; "
        "*primitive* is its entry in `multigrad.autograd.REGISTRY`; *reverse mode* and *forward "
        "mode* say whether that primitive has VJP and JVP rules. A function that is not itself a "
        "primitive is *composed* of primitives and differentiates through them. *No gradient*: "
        "the primitive is declared without rules, so its results carry none (integer or "
        "boolean results, such as comparisons and `argmax`, and ops whose derivative is not "
        "implemented). "
        "Creation functions make leaves and dtype queries return no array, so there is nothing "
        "to differentiate (n/a). *Batching* says how `multigrad.vmap` runs the primitive on a "
        "batch: *elementwise* (the batch axis in front broadcasts), *axes shifted* (its "
        "`axis=` parameters move past the batch axis), *takes stacks* (it already works on "
        "stacks of matrices), *stacks (own rule)* and *own rule* (a rule of its own); a "
        "primitive without one would *loop* over the examples. A composed function batches "
        "through its primitives; a creation function gives the same array to every example.",
        "",
        "*Complex reverse* and *complex forward*: the same for complex inputs (complex64 and "
        "complex128, JAX's convention: see [Complex numbers](complex.md)); *yes* means the op "
        "table checks its VJP and JVP on complex inputs against central differences in the real "
        "and the imaginary parts; *error (real only)*: the function is defined for real numbers "
        "only and complex input raises a TypeError naming it. Second derivatives of complex "
        "inputs are checked as well for "
        + ", ".join(f"`{n}`" for n in sorted(support[1])) + ".",
        "",
        "## Main namespace",
        "",
        *_table(main_rows),
        "",
        "## `linalg` extension",
        "",
        *_table(linalg_rows),
        "",
        "## `fft` extension",
        "",
        "The 1-D transforms are the n-D primitives over one axis, `hfft` and `ihfft` add `conj`, "
        "and the shifts are `roll`s, so those are composed.",
        "",
        *_table(fft_rows),
        "",
        "## Network functions (beyond the standard)",
        "",
        *_table(network_rows),
        "",
        "## Other primitives",
        "",
        "Registered primitives not behind a function listed above (indexing, moves between "
        "devices, helpers):",
        "",
        *([f"- `{n}` (batching: {_BATCHING[rule_kind(REGISTRY[n])]})" for n in others]
          or ["- none"]),
        "",
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/coverage.md.")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/coverage.md differs from what would be generated")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print("docs/coverage.md is out of date: run `python tools/coverage.py`")
            return 1
        print("docs/coverage.md is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
