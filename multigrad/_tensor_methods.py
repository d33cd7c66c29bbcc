"""Tensor methods: the namespace's functions on ``self``, and what to call instead.

Each method for the common reductions, shape functions and elementwise functions
(``x.sum(axis=0)``, ``x.reshape(2, 3)``, ``x.exp()``) calls the namespace's function of the same
name, with its keywords (``axis=``, not PyTorch's ``dim=``), so it records and differentiates
like that function (and a compiled step sees it); the reductions also take the axis
positionally, as NumPy's methods do, and NumPy's functions that call an object's methods work
on tensors through them (``numpy.sum(t)`` is ``t.sum()``, a tensor). For any other name, the
``AttributeError`` says what to call instead, spelled as after ``import multigrad as mg``
(``mg.linalg.vector_norm(x)``; ``x.reshape(...)`` for PyTorch's ``view``...).

NumPy's ufuncs do not take tensors: the operators between an ndarray and a tensor give a tensor
(``ndarray + tensor``), any other ufunc (``numpy.exp(t)``) raises a TypeError naming multigrad's
function.
"""

from __future__ import annotations

from .autograd import Tensor
from .ops import (elementwise, indexing, linalg, manipulation, nn, searching, sorting,
                  statistical, utility)

__all__: list = []  # installs methods on Tensor; exports nothing


# -- methods: the namespace's functions on self ------------------------------------------------

def _method(fn, name: str, axis_first: bool = False):
    """``x.name(...)`` as ``fn(x, ...)``; with ``axis_first`` one positional argument is the
    axis (``x.sum(0)``, as NumPy's methods take it)."""
    def method(self, *args, **kwargs):
        if "dim" in kwargs:
            raise TypeError(f"Tensor.{name}: multigrad calls it axis= (the array API's name), "
                            "not dim=")
        if kwargs:
            kwargs = _numpy_keywords(name, kwargs)
        if axis_first and args:
            if len(args) > 1 or "axis" in kwargs:
                raise TypeError(f"Tensor.{name}: takes at most one positional argument (the "
                                "axis); pass the others by keyword")
            kwargs["axis"] = args[0]
            args = ()
        return fn(self, *args, **kwargs)
    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = f"``multigrad.{name}(x, ...)`` of this tensor (see that function)."
    return method


def _numpy_keywords(name: str, kwargs: dict) -> dict:
    """NumPy's functions call an object's method of the same name (``numpy.sum(t)`` is
    ``t.sum(axis=None, out=None)``, ``numpy.std(t)`` passes ``ddof=0``): take those calls,
    leaving out the keywords NumPy fills with their defaults."""
    if kwargs.get("out") is not None:
        raise TypeError(f"Tensor.{name}: multigrad functions take no out= (a result written "
                        "into another array could change values the tape saved)")
    kwargs = {k: v for k, v in kwargs.items() if not (k in ("out", "dtype") and v is None)}
    if "ddof" in kwargs:
        kwargs["correction"] = kwargs.pop("ddof")
    return kwargs


_REDUCTIONS = {
    "sum": statistical.sum, "prod": statistical.prod, "mean": statistical.mean,
    "var": statistical.var, "std": statistical.std, "max": statistical.max,
    "min": statistical.min, "cumulative_sum": statistical.cumulative_sum,
    "cumulative_prod": statistical.cumulative_prod, "argmax": searching.argmax,
    "argmin": searching.argmin, "count_nonzero": searching.count_nonzero,
    "all": utility.all, "any": utility.any, "logsumexp": nn.logsumexp, "softmax": nn.softmax,
    "log_softmax": nn.log_softmax, "sort": sorting.sort, "argsort": sorting.argsort,
    "flip": manipulation.flip, "diff": utility.diff,
}

_OTHERS = {
    # shape and dtype
    "squeeze": manipulation.squeeze, "expand_dims": manipulation.expand_dims,
    "broadcast_to": manipulation.broadcast_to, "moveaxis": manipulation.moveaxis,
    "roll": manipulation.roll, "repeat": manipulation.repeat, "tile": manipulation.tile,
    "astype": manipulation.astype, "take": indexing.take,
    "take_along_axis": indexing.take_along_axis, "matmul": linalg.matmul,
    # elementwise
    "clip": elementwise.clip, "maximum": elementwise.maximum, "minimum": elementwise.minimum,
    "pow": elementwise.pow, "atan2": elementwise.atan2, "hypot": elementwise.hypot,
    "logaddexp": elementwise.logaddexp, "copysign": elementwise.copysign,
    "relu": nn.relu, "sigmoid": nn.sigmoid, "softplus": nn.softplus, "gelu": nn.gelu,
}
_OTHERS.update({name: getattr(elementwise, name) for name in (
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "conj", "cos", "cosh",
    "exp", "expm1", "floor", "imag", "isfinite", "isinf", "isnan", "log", "log1p", "log2",
    "log10", "logical_not", "negative", "positive", "real", "reciprocal", "round", "sign",
    "signbit", "sin", "sinh", "sqrt", "square", "tan", "tanh", "trunc")})

for _name, _fn in _REDUCTIONS.items():
    setattr(Tensor, _name, _method(_fn, _name, axis_first=True))
for _name, _fn in _OTHERS.items():
    setattr(Tensor, _name, _method(_fn, _name))


def _shape_args(args: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _reshape(self, *shape, copy=None, order="C") -> Tensor:
    """``multigrad.reshape(x, shape)``: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))`` (``order``
    only as NumPy's ``numpy.reshape(t, shape)`` passes it: "C")."""
    if order != "C":
        raise ValueError(f"Tensor.reshape: only C order, not {order!r}")
    return manipulation.reshape(self, _shape_args(shape), copy=copy)


def _permute_dims(self, *axes) -> Tensor:
    """``multigrad.permute_dims(x, axes)``: ``x.permute_dims(1, 0)`` or ``((1, 0))``."""
    return manipulation.permute_dims(self, _shape_args(axes))


Tensor.reshape = _reshape
Tensor.permute_dims = _permute_dims

# names PyTorch users reach for, and what multigrad calls them
_RENAMED = {
    "view": "x.reshape(...)", "permute": "x.permute_dims(...)",
    "transpose": "x.permute_dims(...) or x.mT (the last two axes)",
    "unsqueeze": "x.expand_dims(axis=...)", "flatten": "x.reshape(-1)",
    "numel": "x.size", "dim": "x.ndim", "norm": "mg.linalg.vector_norm(x)",
    "clone": "mg.asarray(x, copy=True)", "cpu": "x.to('cpu')", "cuda": "x.to('cuda')",
    "float": "x.astype(mg.float32)", "double": "x.astype(mg.float64)",
    "long": "x.astype(mg.int64)", "int": "x.astype(mg.int32)",
    "bool": "x.astype(mg.bool)", "type": "x.astype(dtype)",
    "zero_": "mg.zeros_like(x) (or x.grad = None, for a gradient)",
    "amax": "x.max(...)", "amin": "x.min(...)", "cumsum": "x.cumulative_sum(...)",
    "cumprod": "x.cumulative_prod(...)", "dot": "mg.vecdot(x, y)",
}
_FUNCTIONS: dict = {}


def _function_names() -> dict:
    """{name: "mg.name"} of every public function, the extensions' too (made once)."""
    if not _FUNCTIONS:
        import multigrad
        for prefix, namespace in (("mg.special", multigrad.special),
                                  ("mg.fft", multigrad.fft),
                                  ("mg.linalg", multigrad.linalg),
                                  ("mg", multigrad)):
            _FUNCTIONS.update({name: f"{prefix}.{name}" for name in namespace.__all__
                               if callable(getattr(namespace, name, None))})
    return _FUNCTIONS


def _getattr(self, name: str):
    """Only for names Tensor lacks: an AttributeError that says what to call instead."""
    message = f"'Tensor' object has no attribute {name!r}"
    if name.startswith("__"):  # protocols probed with hasattr: answer fast
        raise AttributeError(message)
    if name in _RENAMED:
        hint = _RENAMED[name]
        alias = " (with import multigrad as mg)" if "mg." in hint else ""
        raise AttributeError(f"{message}; multigrad calls it {hint}{alias}")
    function = _function_names().get(name)
    if function is not None:
        raise AttributeError(f"{message}; call the function instead: {function}(x) (with "
                             "import multigrad as mg)")
    raise AttributeError(message)


Tensor.__getattr__ = _getattr


# -- NumPy's ufuncs ------------------------------------------------------------------------------

# the ufuncs behind the operators, so that ndarray op tensor (and the reflected forms) work
_OPERATOR_UFUNCS = {
    "add": elementwise.add, "subtract": elementwise.subtract,
    "multiply": elementwise.multiply, "divide": elementwise.divide,
    "true_divide": elementwise.divide, "floor_divide": elementwise.floor_divide,
    "remainder": elementwise.remainder, "power": elementwise.pow, "matmul": linalg.matmul,
    "bitwise_and": elementwise.bitwise_and, "bitwise_or": elementwise.bitwise_or,
    "bitwise_xor": elementwise.bitwise_xor, "left_shift": elementwise.bitwise_left_shift,
    "right_shift": elementwise.bitwise_right_shift, "less": elementwise.less,
    "less_equal": elementwise.less_equal, "greater": elementwise.greater,
    "greater_equal": elementwise.greater_equal, "equal": elementwise.equal,
    "not_equal": elementwise.not_equal,
}
# NumPy's names that differ from the standard's
_UFUNC_NAMES = {"absolute": "abs", "arccos": "acos", "arcsin": "asin", "arctan": "atan",
                "arctan2": "atan2", "arccosh": "acosh", "arcsinh": "asinh",
                "arctanh": "atanh", "conjugate": "conj", "invert": "bitwise_invert"}
# the reductions and scans of ufuncs that are functions of their own
_UFUNC_METHODS = {("add", "reduce"): "sum", ("multiply", "reduce"): "prod",
                  ("maximum", "reduce"): "max", ("minimum", "reduce"): "min",
                  ("logical_and", "reduce"): "all", ("logical_or", "reduce"): "any",
                  ("add", "accumulate"): "cumulative_sum",
                  ("multiply", "accumulate"): "cumulative_prod"}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy's ufunc protocol: ``ndarray op tensor`` is multigrad's operator (a tensor); any
    other use of a ufunc on a tensor is a TypeError naming multigrad's function."""
    name = getattr(ufunc, "__name__", str(ufunc))
    op = _OPERATOR_UFUNCS.get(name)
    if op is not None and method == "__call__" and not kwargs and len(inputs) == 2:
        return op(*inputs)
    ours = _UFUNC_METHODS.get((name, method), _UFUNC_NAMES.get(name, name))
    function = _function_names().get(ours)
    call = f"the NumPy ufunc {name}" + ("" if method == "__call__" else f".{method}")
    hint = (f"call {function}(x) instead (it differentiates), or convert explicitly with "
            "x.numpy()" if function is not None
            else "convert explicitly with x.numpy() (outside the graph)")
    raise TypeError(f"{call} does not take multigrad tensors (NumPy would leave the graph): "
                    f"{hint}. SciPy's special functions take tensors when SCIPY_ARRAY_API=1 "
                    "is set before SciPy is imported (they call mg.special's)")


Tensor.__array_ufunc__ = _array_ufunc
