"""The registry is complete: every primitive has a spec, a rule per array argument in both modes,
and a documented public function.

Positional arguments of a primitive are its arrays (static parameters are keywords), so the
number of positional arguments seen when the op table runs is the number of rules each mode
needs; the rules' signatures are checked against the forward's.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import multigrad as mg
from multigrad.autograd import LINEAR, REGISTRY
from multigrad import _array_object
from multigrad.autograd import _primitive
from multigrad.backends import as_dtype
from op_specs import ALL_SPECS

PRIMITIVES = sorted(REGISTRY)
FLOATING = ("float32", "float64", "complex64", "complex128")


def _covered() -> set:
    return {name for spec in ALL_SPECS for name in spec.covers}


@pytest.fixture(scope="module")
def positional_counts():
    """{primitive name: set of calls} seen while running the op table forward and through a
    create_graph backward pass (where rules call primitives too); a call is a tuple with one
    entry per positional argument: True where that argument is a floating tensor or array."""
    seen: dict[str, set] = {}
    original = _primitive.apply

    def recording(prim, *args, **params):
        seen.setdefault(prim.name, set()).add(tuple(_may_carry_gradient(a) for a in args))
        return original(prim, *args, **params)

    rng = np.random.default_rng(0)
    # calling a primitive is apply, and forward mode and the operators call apply directly
    _primitive.apply = _primitive.Primitive.__call__ = _array_object.apply = recording
    try:
        for spec in ALL_SPECS:
            for shapes, params, _ in spec.cases():
                try:
                    arrays = spec.inputs(rng, shapes, params)
                    xs = [mg.tensor(a, requires_grad=spec.differentiable and a.dtype.kind == "f")
                          for a in arrays]
                    outs = spec.fn(*xs, **params)
                    outs = outs if isinstance(outs, tuple) else (outs,)
                    live = [o for o in outs if o.requires_grad]
                    wrt = [x for x in xs if x.requires_grad]
                    if live and wrt:
                        total = sum(mg.sum(o) for o in live)
                        mg.autograd.grad(total, wrt, create_graph=True, allow_unused=True)
                except Exception:  # a broken op fails in test_op_gradients; here we only count
                    pass
    finally:
        _primitive.apply = _primitive.Primitive.__call__ = _array_object.apply = original
    return seen


def _may_carry_gradient(a) -> bool:
    """A floating tensor or array (Python scalars, None and integer index arrays cannot)."""
    dtype = getattr(a, "dtype", None)
    return dtype is not None and as_dtype(dtype).name in FLOATING


def test_registry_is_not_empty():
    assert len(REGISTRY) > 10
    for name, prim in REGISTRY.items():
        assert prim.name == name


@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_primitive_has_a_spec(name):
    assert name in _covered(), (
        f"primitive {name!r} is covered by no OpSpec: add one to tests/op_specs/<family>.py "
        f"(or list {name!r} in the covers= of a spec that exercises it)")


def test_specs_cover_only_registered_primitives():
    unknown = sorted(_covered() - set(REGISTRY))
    assert not unknown, f"OpSpec covers= names no registered primitive: {unknown}"


def _forward_params(prim):
    """The forward's parameters after ``xp``; a forward declared by a function's name has that
    function's signature in the standard (array_api_strict's follow the spec's)."""
    if prim.kernel_name is not None:
        import array_api_strict
        return list(inspect.signature(getattr(array_api_strict, prim.kernel_name))
                    .parameters.values())
    params = list(inspect.signature(prim.forward).parameters.values())
    assert params and params[0].name == "xp", (
        f"{prim.name}: the forward's first parameter must be the namespace xp")
    return params[1:]


def _rule_call(prim, n_rules, forward_params):
    """The positional and keyword arguments a rule of ``prim`` is called with, after
    ``(xp, g or t, ans)``, as the forward's signature gives them."""
    kinds = inspect.Parameter
    positional = [p.name for p in forward_params
                  if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p.name for p in forward_params if p.kind is kinds.KEYWORD_ONLY]
    star = any(p.kind is kinds.VAR_POSITIONAL for p in forward_params)
    if prim.variadic:  # forward(xp, *arrays, axis): two arrays stand for any number
        n_arrays, keywords, extra = 2, positional + keyword_only, {"argnum": 0}
    elif star:  # forward(xp, x, *index_arrays, key): the named arrays, then keywords
        n_arrays, keywords, extra = len(positional), keyword_only, {}
    else:  # forward(xp, x1, x2, axis): the first n_rules are arrays, the rest parameters
        n_arrays, keywords, extra = n_rules, positional[n_rules:] + keyword_only, {}
    return ("array",) * n_arrays, {**dict.fromkeys(keywords), **extra}


@pytest.mark.parametrize("name", PRIMITIVES)
def test_rules_match_the_forward(name):
    prim = REGISTRY[name]
    if prim.vjp is None:
        assert prim.jvp is None, f"{name}: a JVP without a VJP (declare both modes or neither)"
        return
    assert prim.jvp is not None, f"{name}: a VJP without a JVP (declare both modes)"
    assert len(prim.vjp) == len(prim.jvp), (
        f"{name}: {len(prim.vjp)} VJP rule(s) but {len(prim.jvp)} JVP rule(s)")
    for rule in prim.vjp:
        assert rule is None or (callable(rule) and rule is not LINEAR), (
            f"{name}: a VJP entry must be a rule or None, not {rule!r}")
    for rule in prim.jvp:
        assert rule is None or rule is LINEAR or callable(rule), (
            f"{name}: a JVP entry must be a rule, LINEAR or None, not {rule!r}")
    assert any(r is not None for r in prim.vjp), (
        f"{name}: every VJP rule is None; declare vjp=None for a non-differentiable op")

    forward_params = _forward_params(prim)
    kinds = inspect.Parameter
    star = any(p.kind is kinds.VAR_POSITIONAL for p in forward_params)
    n_rules = len(prim.vjp)
    if prim.variadic:
        assert n_rules == 1, f"variadic {name}: exactly one rule per mode"
        assert star, f"variadic {name}: the forward must take *arrays"
    elif not star:
        # (a forward ending in *arrays takes integer index arrays, as getitem's does, which
        # never carry gradients: test_one_rule_per_array_argument checks that they do not)
        positional = [p for p in forward_params
                      if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
        assert len(positional) >= n_rules, (
            f"{name}: {n_rules} rules per mode but the forward takes only "
            f"{len(positional)} argument(s) after xp")
    arrays, kwargs = _rule_call(prim, n_rules, forward_params)
    for mode, rules in (("VJP", prim.vjp), ("JVP", prim.jvp)):
        for k, rule in enumerate(rules):
            if rule is None or rule is LINEAR:
                continue
            try:
                inspect.signature(rule).bind("xp", "g", "ans", *arrays, **kwargs)
            except TypeError as err:
                pytest.fail(f"{name}: {mode} rule {k} cannot be called as rule(xp, g/t, ans, "
                            f"*arrays, **params) with {len(arrays)} arrays and params "
                            f"{sorted(kwargs)}: {err}")


@pytest.mark.parametrize("name", PRIMITIVES)
def test_one_rule_per_array_argument(name, positional_counts):
    prim = REGISTRY[name]
    if prim.vjp is None or prim.variadic:
        return
    calls = positional_counts.get(name)
    assert calls, f"{name} was not called while running the op table (see the spec test)"
    n_rules = len(prim.vjp)
    for call in calls:
        assert len(call) >= n_rules, (
            f"{name} was called with {len(call)} positional (array) argument(s) but has "
            f"{n_rules} VJP and JVP rules: one per array argument, static parameters as keywords")
        assert not any(call[n_rules:]), (
            f"{name} was called with a floating array at position {call.index(True, n_rules)}, "
            f"past its {n_rules} rule(s): every argument that may carry a gradient needs a VJP "
            "and a JVP entry (only integer index arrays may go without)")


def _public(name):
    for namespace in (mg, mg.linalg, mg.fft, mg.special):
        fn = getattr(namespace, name, None)
        if fn is not None:
            return fn
    return None


@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_primitive_has_a_documented_public_function(name):
    fn = _public(name)
    assert fn is not None, (
        f"primitive {name!r} has no public function multigrad.{name}, multigrad.linalg.{name}, "
        f"multigrad.fft.{name} or multigrad.special.{name}")
    assert callable(fn)
    doc = inspect.getdoc(fn)
    assert doc and doc.strip(), f"multigrad.{name} has no docstring"
    assert any(name in ns.__all__ for ns in (mg, mg.linalg, mg.fft, mg.special)), (
        f"multigrad.{name} is not listed in __all__")


@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_primitive_has_a_batching_rule(name):
    prim = REGISTRY[name]
    assert mg.batching.rule_kind(prim) != "loop", (
        f"primitive {name!r} has no batching rule, so vmap (and the batched jacrev, jacfwd "
        "and hessian) would run it once per example: give it one in ops/_batching.py or "
        "ops/_batching_indexing.py (most follow a convention: elementwise, axis, stacked)")


def _standard_functions():
    """(name, array_api_strict's function, multigrad's) for the standard's functions that
    multigrad defines as Python functions (primitives take their arrays as ``*args``)."""
    import array_api_strict as xs
    for prefix, reference, ours in (("", xs, mg), ("linalg.", xs.linalg, mg.linalg),
                                    ("fft.", xs.fft, mg.fft)):
        for name in reference.__all__:
            theirs, mine = getattr(reference, name), getattr(ours, name, None)
            if inspect.isfunction(theirs) and inspect.isfunction(mine):
                yield pytest.param(theirs, mine, id=prefix + name)


def _parameters(f):
    """(name, kind, default) of each parameter; array_api_strict's "not given" sentinel (an
    enum member) reads as multigrad's None."""
    return [(p.name, p.kind, None if type(p.default).__name__ == "Undef" else p.default)
            for p in inspect.signature(f).parameters.values()]


@pytest.mark.parametrize("theirs, mine", list(_standard_functions()))
def test_functions_have_the_standards_signature(theirs, mine):
    # names, positional-only and keyword-only markers, and defaults (tril's k=0, var's
    # correction=0.0, cholesky's upper=False...) as the reference implementation declares them
    assert _parameters(mine) == _parameters(theirs)


def _standard_primitives():
    """(name, array_api_strict's function, multigrad's) for the standard's functions that
    are multigrad primitives (``exp``, ``add``, ``linalg.det``...)."""
    import array_api_strict as xs
    for prefix, reference, ours in (("", xs, mg), ("linalg.", xs.linalg, mg.linalg)):
        for name in reference.__all__:
            mine = getattr(ours, name, None)
            if isinstance(mine, _primitive.Primitive):
                yield pytest.param(getattr(reference, name), mine, id=prefix + name)


@pytest.mark.parametrize("theirs, mine", list(_standard_primitives()))
def test_primitives_show_the_standards_signature(theirs, mine):
    # help(mg.exp) and inspect said (*args, **params). The arrays are positional-only, so
    # their names are not part of a call; a forward named after a namespace function that is
    # not a NumPy ufunc (real, round) shows **params, the keywords it would pass on
    kinds = inspect.Parameter
    shown = [(None if kind is kinds.POSITIONAL_ONLY else name, kind, default)
             for name, kind, default in _parameters(mine) if kind is not kinds.VAR_KEYWORD]
    assert shown == [(None if kind is kinds.POSITIONAL_ONLY else name, kind, default)
                     for name, kind, default in _parameters(theirs)]


def test_a_users_primitive_shows_its_forwards_signature():
    op = mg.defprimitive("scaled_by", lambda xp, x, w, *, scale=2.0: x * w * scale,
                         vjp=(lambda xp, g, ans, x, w, *, scale: g * w * scale, None),
                         jvp=(lambda xp, t, ans, x, w, *, scale: t * w * scale, None))
    assert str(inspect.signature(op)) == "(x, w, /, *, scale=2.0)"
    # a parameter the forward lets be positional is a keyword in the call
    op = mg.defprimitive("shifted", lambda xp, x, shift=1.0: x + shift,
                         vjp=(lambda xp, g, ans, x, shift: g,),
                         jvp=(lambda xp, t, ans, x, shift: t,))
    assert str(inspect.signature(op)) == "(x, /, *, shift=1.0)"
    assert op(mg.asarray([1.0]), shift=3.0).numpy().tolist() == [4.0]
    with pytest.raises(TypeError):
        inspect.signature(op).bind(mg.asarray([1.0]), 3.0)
