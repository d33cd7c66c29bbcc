"""Checks on what users' own code hands the engine: the forward and rules of a primitive
declared outside multigrad, and the ``forward``, ``backward`` and ``jvp`` of a ``Function``.

multigrad's own ops are trusted and run unchecked, so the per-op path gains nothing. A user op's
forward and rules are wrapped once, when ``defprimitive`` declares it, by checkers that know the
op's name and each argument's position and name; ``Function`` calls ``check_array`` itself. A
result the engine cannot take (None, something that is not an array, an array of another
library or device, a shape that cannot be summed back to its argument's, a derivative that is
not floating-point) raises TypeError or ValueError naming the op, the argument, what was
expected and what came, before the engine uses it.
"""

from __future__ import annotations

import inspect

from ..backends import MixedDeviceError, as_dtype, device_of
from ._tensor import Tensor

__all__ = ["check_array", "checked_op"]

_SCALARS = (int, float, complex, bool)


def _describe(value) -> str:
    """``value``'s kind for a message: "None", "a float", "a numpy.ndarray on cpu"..."""
    if value is None:
        return "None"
    if isinstance(value, Tensor):
        return f"a multigrad Tensor on {value.device.name}"
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    try:
        return f"a {name} on {device_of(value).name}"
    except Exception:  # not an array of any library multigrad knows
        return f"a {name}"


def _sums_to(got: tuple, want: tuple) -> bool:
    """Whether the engine can reduce a cotangent of shape ``got`` to an argument of shape
    ``want``: by summing the dimensions broadcasting added or stretched, or, for a cotangent of
    fewer dimensions, by broadcasting it up (see ``_backward._unbroadcast``)."""
    if len(got) < len(want):
        return _broadcasts(got, want)
    return all(w == g or w == 1 for g, w in zip(got[len(got) - len(want):], want))


def _broadcasts(got: tuple, want: tuple) -> bool:
    """Whether an array of shape ``got`` broadcasts to shape ``want``."""
    return len(got) <= len(want) and all(
        g == w or g == 1 for g, w in zip(got, want[len(want) - len(got):]))


def check_array(value, subject: str, device, *, tensor: bool, ref: str = "", shape=None,
                fits: str = "exact", dtype=None, floating: bool = True,
                hint: str = "") -> None:
    """Raise unless ``value`` is an array the engine can take where ``subject`` says.

    Parameters
    ----------
    value
        What the user's code returned (never None: the caller says what None means there).
    subject : str
        Names it in messages, starting with the op: ``"my_op: the cotangent from the VJP rule
        for argument 1 (y)"``.
    device : Device
        Where it must live.
    tensor : bool
        A multigrad ``Tensor`` is expected (rules under ``create_graph`` and in forward mode,
        and every ``Function`` method); otherwise a raw array of ``device``'s library.
    ref : str
        What it is compared with (``"the argument"``), for messages.
    shape : tuple, optional
        The shape it is checked against, as ``fits`` says: ``"exact"``, ``"sum"`` (a cotangent
        the engine sums back to ``shape``) or ``"broadcast"`` (a tangent it broadcasts to it).
    dtype : DType, optional
        The dtype it must have.
    floating : bool
        Without ``dtype``: it must have a floating-point dtype (a derivative).
    hint : str
        Appended to a message about the kind of value (how to make the right one).
    """
    if tensor:
        if not isinstance(value, Tensor):
            raise TypeError(f"{subject} is {_describe(value)}, not a multigrad Tensor{hint}")
        got_device, raw = value.device, value.data
    else:
        if isinstance(value, Tensor):
            raise TypeError(f"{subject} is a multigrad Tensor, not an array of "
                            f"{device.library}: this code runs on raw arrays with xp, the "
                            f"array library's namespace{hint}")
        try:
            got_device = device_of(value)
        except Exception:  # array_api_compat raises TypeError, or worse, for non-arrays
            raise TypeError(f"{subject} is {_describe(value)}, not an array of "
                            f"{device.library} on {device.name}{hint}") from None
        raw = value
    if got_device is not device:
        if not tensor and got_device.library != device.library:
            raise TypeError(f"{subject} is {_describe(value)}, not an array of "
                            f"{device.library} on {device.name} like {ref or 'its inputs'}"
                            f"{hint}")
        raise MixedDeviceError(f"{subject} is on {got_device.name}, not on {device.name} like "
                               f"{ref or 'its inputs'}")
    got_shape = tuple(raw.shape)
    if shape is not None:
        if fits == "exact" and got_shape != shape:
            raise ValueError(f"{subject} has shape {got_shape} but {ref} has shape {shape}")
        if fits == "sum" and not _sums_to(got_shape, shape):
            raise ValueError(f"{subject} has shape {got_shape}, which cannot be summed back to "
                             f"{ref}'s shape {shape}")
        if fits == "broadcast" and not _broadcasts(got_shape, shape):
            raise ValueError(f"{subject} has shape {got_shape}, which does not broadcast to "
                             f"{ref}'s shape {shape}")
    if dtype is not None:
        if as_dtype(raw.dtype) != dtype:
            raise TypeError(f"{subject} has dtype {as_dtype(raw.dtype).name} but {ref} has "
                            f"dtype {dtype.name}")
    elif floating and raw.dtype not in device.grad_dtypes:
        raise TypeError(f"{subject} has dtype {as_dtype(raw.dtype).name}; a derivative must "
                        "be floating-point")


def argument_names(forward) -> tuple:
    """The names of ``forward(xp, *arrays)``'s array parameters, as far as its signature
    tells (none for ``*arrays``)."""
    try:
        parameters = list(inspect.signature(forward).parameters.values())[1:]
    except (TypeError, ValueError):  # builtins without a signature
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in positional)


def _label(pos: int, names: tuple) -> str:
    return f"argument {pos} ({names[pos]})" if pos < len(names) else f"argument {pos}"


def _is_array(a) -> bool:
    # Python scalars by exact type: NumPy's 0-d results (numpy.float64) subclass float
    return a is not None and type(a) not in _SCALARS


def checked_forward(name: str, forward, n_rules, multi_output: bool, changes_device: bool,
                    names: tuple):
    """``forward`` checking that the op got one rule per array argument (``n_rules`` of them,
    or None for a variadic or non-differentiable op) and that it returns what the op declares:
    one array, or a tuple of arrays with ``multi_output``, of the inputs' library and device."""
    def checked(xp, *arrays, **params):
        if n_rules is not None:
            beyond = [k for k in range(n_rules, len(arrays)) if _is_array(arrays[k])]
            if beyond or len(arrays) < n_rules:
                which = (f"an array as {_label(beyond[0], names)}" if beyond
                         else f"{len(arrays)} positional argument(s)")
                raise TypeError(f"{name}: called with {which}, but the op declares "
                                f"{n_rules} rule(s), one per array argument: give vjp= and "
                                "jvp= one rule (or None) for each")
        out = forward(xp, *arrays, **params)
        device = (params["device"] if changes_device
                  else device_of(next(a for a in arrays if _is_array(a))))
        hint = ": forward runs on raw arrays, computed with xp from its arguments"
        if multi_output:
            if type(out) is not tuple:
                raise TypeError(f"{name}: forward returned {_describe(out)}; an op declared "
                                "with multi_output=True returns a tuple of arrays")
            for k, o in enumerate(out):
                check_array(o, f"{name}: output {k} of forward", device, tensor=False,
                            floating=False, hint=hint)
            return out
        if isinstance(out, (tuple, list)):
            raise TypeError(f"{name}: forward returned a {type(out).__name__}; an op returns "
                            "one array (declare multi_output=True for an op with several "
                            "outputs, which returns a tuple)")
        check_array(out, f"{name}: the result of forward", device, tensor=False,
                    floating=False, hint=hint)
        return out

    return checked


_ZERO_HINT = ("; return zeros (xp.zeros_like of the argument) for a zero derivative, or "
              "write None in place of the rule, which the engine then never calls")


def checked_vjp(name: str, rule, argpos, names: tuple):
    """A VJP rule checking its cotangent: not None, of the argument's kind (a raw array, or
    a Tensor under create_graph), library and device, floating-point, and of a shape the
    engine can sum back to the argument's. ``argpos`` is None for a variadic op's one rule."""
    def checked(xp, g, ans, *args, **params):
        ct = rule(xp, g, ans, *args, **params)
        pos = params["argnum"] if argpos is None else argpos
        arg = args[pos]
        label = _label(pos, names)
        if ct is None:
            raise TypeError(f"{name}: the VJP rule for {label} returned None{_ZERO_HINT}")
        recording = isinstance(arg, Tensor)
        check_array(ct, f"{name}: the cotangent from the VJP rule for {label}",
                    arg.device if recording else device_of(arg), tensor=recording,
                    ref="the argument", shape=tuple(arg.shape), fits="sum",
                    hint=(": under create_graph rules get multigrad tensors and xp is "
                          "multigrad; compute the result with xp") if recording else
                    ": compute it with xp from the rule's arguments")
        return ct

    return checked


def checked_jvp(name: str, rule, argpos, names: tuple, multi_output: bool):
    """A JVP rule checking its contribution to each output's tangent: not None, a Tensor (JVP
    rules run on tensors) on the output's device, floating-point, broadcasting to the output's
    shape; a tuple of those (None for an output it leaves alone) with ``multi_output``."""
    def checked(xp, t, ans, *args, **params):
        result = rule(xp, t, ans, *args, **params)
        label = _label(params["argnum"] if argpos is None else argpos, names)
        if result is None:
            raise TypeError(f"{name}: the JVP rule for {label} returned None{_ZERO_HINT}")
        outs = ans if multi_output else (ans,)
        if multi_output:
            if not isinstance(result, (tuple, list)) or len(result) != len(outs):
                raise TypeError(f"{name}: the JVP rule for {label} returned "
                                f"{_describe(result)}; expected a tuple of {len(outs)} "
                                "tangents, one per output (None for an output it does not "
                                "change)")
            contributions = result
        else:
            contributions = (result,)
        for k, (c, o) in enumerate(zip(contributions, outs)):
            if c is None and multi_output:
                continue
            check_array(c, f"{name}: the tangent from the JVP rule for {label}"
                        + (f", output {k}" if multi_output else ""), o.device, tensor=True,
                        ref="the output", shape=o.shape, fits="broadcast",
                        hint=": JVP rules get multigrad tensors and xp is multigrad; compute "
                             "the result with xp")
        return result

    return checked


def checked_op(name: str, forward, vjp, jvp, variadic: bool, multi_output: bool,
               changes_device: bool, linear) -> tuple:
    """A user op's ``(forward, vjp, jvp)`` with every callable wrapped by its checker
    (a forward given by name is the namespace's own function, and ``None`` and ``linear``
    entries are the engine's: those stay as they are)."""
    names = argument_names(forward) if callable(forward) else ()
    rules = vjp if vjp is not None else jvp
    n_rules = None if variadic or rules is None else len(rules)
    if callable(forward):
        forward = checked_forward(name, forward, n_rules, multi_output, changes_device, names)

    def position(k):
        return None if variadic else k

    if vjp is not None:
        vjp = tuple(r if r is None else checked_vjp(name, r, position(k), names)
                    for k, r in enumerate(vjp))
    if jvp is not None:
        jvp = tuple(r if r is None or r is linear else
                    checked_jvp(name, r, position(k), names, multi_output)
                    for k, r in enumerate(jvp))
    return forward, vjp, jvp
