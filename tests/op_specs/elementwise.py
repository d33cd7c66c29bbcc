"""Op specs for the elementwise functions.

Binary functions run on broadcasting pairs and with Python scalars; special points (abs at 0,
ties of maximum/minimum/clip, pow at a zero base, masked singularities) are built with ``make=``
at places where central differences still agree with the rule.

Complex specs: every function the standard defines for complex numbers, holomorphic
(``exp``, ``log``, ``pow``...) and not (``abs``, ``sign``, ``real``, ``imag``, ``conj``),
their inputs' real and imaginary parts drawn from domains away from the branch cuts; mixed
real and complex arguments; complex Python scalars.
"""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twin, complex_twins

UNARY_SHAPES = [((),), ((3,),), ((2, 3),)]
BINARY_SHAPES = [((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ())]
# for variants of a function already run on BINARY_SHAPES, and for functions without gradients
FEW_BINARY_SHAPES = [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((), (2, 3))]
CLIP_SHAPES = [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1)), ((2, 3), (), ()), ((3,), (2, 1), ())]


def _pick(rng, shape, pool):
    """Draws from ``pool`` (float64), its first value guaranteed to appear."""
    out = np.array(rng.choice(np.asarray(pool, dtype=np.float64), size=shape))
    if out.size:
        out.reshape(-1)[0] = pool[0]
    return out


def _picks(*pools):
    """A ``make`` drawing argument k from ``pools[k]``."""
    return lambda rng, shapes, params: [_pick(rng, s, p) for s, p in zip(shapes, pools)]


def _ints(low, high):
    return lambda rng, shapes, params: [rng.integers(low, high, size=s) for s in shapes]


def _bools(rng, shapes, params):
    return [rng.random(size=s) < 0.5 for s in shapes]


def _complex_from(a, b):
    """``a + 1j * b`` off the graph, of the complex dtype matching the float inputs'."""
    dtype = mg.complex64 if a.dtype == mg.float32 else mg.complex128
    return mg.astype(a.detach(), dtype) + mg.astype(b.detach(), dtype) * 1j


def _with_complex_scalars(z):
    """Operators between a complex tensor and Python complex (and real) scalars."""
    return ((2j * z - 1.0) / (3 + 1j) + (1 - 2j) / z - z ** 2 + (1 + 1j) ** z
            + z ** (0.5 - 0.5j) + 4 - (-z) * (+z) + 1j)


def _real_with_complex_scalars(x):
    """A real tensor meeting Python complex scalars: complex results, real gradients."""
    return x * 1j + (2 - 1j) / x + x ** (1 + 1j) + 1j ** x - (0.5j - x) ** 2


def _complex_parts(xp, z):
    return xp.real(z), xp.imag(z), xp.conj(z), xp.abs(z)


def _signed_divisors(rng, shapes, params):
    """x1 in (-2, 2); x2 of either sign with magnitude in (0.5, 2)."""
    x1, x2 = (rng.uniform(-2, 2, size=s) for s in shapes)
    return [x1, np.where(x2 < 0, x2 - 0.5, x2 + 0.5) * 0.8]


def _np_standard_floor_divide(x1, x2):
    """The standard's floor_divide: NumPy's, but floor(x1 / x2) at an infinite operand, where
    NumPy follows Python (inf // 2 is nan, 1 // -inf is -1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isinf(x1) | np.isinf(x2), np.floor(np.divide(x1, x2)),
                        np.floor_divide(x1, x2))


def _masked_sqrt(x):
    # the double where: the discarded branch gets a safe input, so no 0 * inf = nan in backward
    positive = x > 0
    return mg.where(positive, mg.sqrt(mg.where(positive, x, 1.0)), 0.0)


def _masked_sqrt_ref(x):
    return np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0)


def _smooth(name, domain=(-2.0, 2.0), **kw):
    return OpSpec(name, getattr(mg, name), getattr(np, name), UNARY_SHAPES, domain=domain,
                  random="elementwise", **kw)


# the property tests' annotations: piecewise linear ops have second derivative 0, also at
# their special points (ties, kinks), where they are not smooth
KINKED = dict(second_order="zero")

ZERO_POOL = [0.0, -1.25, 0.75, 1.5, -0.5]   # abs, copysign at 0
TIE_POOL = [0.0, 1.0, -1.0, 0.5]            # ties for maximum/minimum, 0.5 apart otherwise
CLASSIFY_POOL = [np.nan, np.inf, -np.inf, 0.0, -1.5, 2.0]
SIGN_POOL = [-0.0, 0.0, -1.0, 1.0]

SPECS = [
    # arithmetic
    OpSpec("add", mg.add, np.add, BINARY_SHAPES, random="elementwise"),
    OpSpec("subtract", mg.subtract, np.subtract, BINARY_SHAPES, random="elementwise"),
    OpSpec("multiply", mg.multiply, np.multiply, BINARY_SHAPES, random="elementwise"),
    OpSpec("divide", mg.divide, np.divide, BINARY_SHAPES, domain=[(-2, 2), (0.5, 2)],
           random="elementwise"),
    OpSpec("divide-signed", mg.divide, np.divide, BINARY_SHAPES, make=_signed_divisors,
           covers=("divide",), random="elementwise"),
    OpSpec("negative", mg.negative, np.negative, UNARY_SHAPES, random="elementwise"),
    OpSpec("positive", mg.positive, np.positive, UNARY_SHAPES, random="elementwise"),
    OpSpec("square", mg.square, np.square, UNARY_SHAPES, random="elementwise"),
    _smooth("sqrt", domain=(0.1, 4.0)),
    OpSpec("reciprocal", mg.reciprocal, np.reciprocal, UNARY_SHAPES, domain=(0.5, 2.0),
           random="elementwise"),
    OpSpec("reciprocal-signed", mg.reciprocal, np.reciprocal, UNARY_SHAPES,
           make=lambda rng, shapes, params: _signed_divisors(rng, shapes * 2, params)[1:],
           covers=("reciprocal",), random="elementwise"),
    _smooth("abs", special=([0.0, -0.0],), **KINKED),
    OpSpec("abs-at-zero", mg.abs, np.abs, UNARY_SHAPES, make=_picks(ZERO_POOL), covers=("abs",),
           random="elementwise", **KINKED),
    OpSpec("remainder", mg.remainder, np.remainder, BINARY_SHAPES, make=_signed_divisors,
           random="elementwise", **KINKED),
    OpSpec("floor_divide", mg.floor_divide, _np_standard_floor_divide, BINARY_SHAPES,
           make=_signed_divisors, random="elementwise", **KINKED),
    OpSpec("operators-with-scalars",
           lambda x: (2.0 * x - 1.0) / 3.0 + 1.0 / x - x ** 2 + 2.0 ** x + (x % 1.5) - x // 0.5
           + 4 - (-x) * (+x),
           lambda x: (2.0 * x - 1.0) / 3.0 + 1.0 / x - x ** 2 + 2.0 ** x + (x % 1.5) - x // 0.5
           + 4 - (-x) * (+x),
           UNARY_SHAPES, domain=(0.6, 2.0),
           covers=("add", "subtract", "multiply", "divide", "pow", "remainder", "floor_divide",
                   "negative", "positive")),
    # powers, exponentials, logarithms
    _smooth("exp"),
    _smooth("expm1"),
    _smooth("log", domain=(0.1, 4.0)),
    _smooth("log1p", domain=(-0.5, 3.0)),
    _smooth("log2", domain=(0.1, 4.0)),
    _smooth("log10", domain=(0.1, 4.0)),
    # pow is smooth at exponents 0 and 1 for a positive base
    OpSpec("pow", mg.pow, np.power, BINARY_SHAPES, domain=[(0.5, 2.0), (-2.0, 2.0)],
           random="elementwise", special=([1.0, 2.0], [0.0, 1.0]), smooth_at_special=True),
    OpSpec("pow-scalar-exponent", lambda x: mg.pow(x, 3.0), lambda x: x ** 3.0, UNARY_SHAPES,
           make=_picks(ZERO_POOL), covers=("pow",), random="elementwise",
           special=([0.0],), smooth_at_special=True),
    OpSpec("pow-operator", lambda x: x ** 2, lambda x: x ** 2, UNARY_SHAPES, covers=("pow",)),
    OpSpec("pow-scalar-base", lambda x: mg.pow(2.0, x), lambda x: 2.0 ** x, UNARY_SHAPES,
           covers=("pow",)),
    # integer exponents, including 0, at bases including 0: d/dx1 of x**0 is 0, not 0 * inf
    OpSpec("pow-integer-exponents", mg.pow, np.power, FEW_BINARY_SHAPES,
           make=_picks(ZERO_POOL, [0.0, 1.0, 2.0, 3.0]), grad_args=(0,), covers=("pow",),
           random="elementwise", special=([0.0], [0.0, 1.0, 2.0]), smooth_at_special=True),
    # zero base wrt the exponent: 0**x2 is flat in x2 > 0, and log(0) is masked
    OpSpec("pow-zero-base", mg.pow, np.power, FEW_BINARY_SHAPES,
           make=lambda rng, shapes, params: [_pick(rng, shapes[0], [0.0, 0.5, 1.5, 2.0]),
                                             rng.uniform(1.0, 3.0, size=shapes[1])],
           grad_args=(1,), covers=("pow",)),
    # logaddexp is smooth at its ties (where its rule switches branch)
    OpSpec("logaddexp", mg.logaddexp, np.logaddexp, BINARY_SHAPES, random="elementwise",
           special=([0.4, -1.0], [0.4, -1.0]), smooth_at_special=True),
    OpSpec("logaddexp-ties", mg.logaddexp, np.logaddexp, FEW_BINARY_SHAPES,
           make=_picks(TIE_POOL, TIE_POOL), covers=("logaddexp",)),
    OpSpec("logaddexp-large", mg.logaddexp, np.logaddexp, FEW_BINARY_SHAPES,
           domain=(-1000.0, 1000.0), covers=("logaddexp",)),
    # trigonometric, hyperbolic
    _smooth("sin"),
    _smooth("cos"),
    _smooth("tan", domain=(-1.2, 1.2)),
    _smooth("asin", domain=(-0.9, 0.9)),
    _smooth("acos", domain=(-0.9, 0.9)),
    _smooth("atan"),
    _smooth("sinh"),
    _smooth("cosh"),
    _smooth("tanh"),
    _smooth("asinh"),
    _smooth("acosh", domain=(1.1, 3.0)),
    _smooth("atanh", domain=(-0.9, 0.9)),
    OpSpec("atan2", mg.atan2, np.arctan2, BINARY_SHAPES, random="elementwise",
           special=([0.0], [0.0])),
    OpSpec("hypot", mg.hypot, np.hypot, BINARY_SHAPES, random="elementwise",
           special=([0.0], [0.0])),
    # at the origin hypot's subgradient 0 is what central differences see
    OpSpec("hypot-origin", mg.hypot, np.hypot, FEW_BINARY_SHAPES,
           make=_picks([0.0, 1.0, -1.5], [0.0, 0.5, -2.0]), covers=("hypot",),
           second_order="skip"),
    # maximum, minimum, clip: ties split evenly, which central differences confirm
    OpSpec("maximum", mg.maximum, np.maximum, BINARY_SHAPES, random="elementwise",
           special=([0.5, 1.0], [0.5, 1.0]), **KINKED),
    OpSpec("maximum-ties", mg.maximum, np.maximum, FEW_BINARY_SHAPES,
           make=_picks(TIE_POOL, TIE_POOL), covers=("maximum",), **KINKED),
    OpSpec("maximum-scalar", lambda x: mg.maximum(x, 0.0), lambda x: np.maximum(x, 0.0),
           UNARY_SHAPES, make=_picks(TIE_POOL), covers=("maximum",), random="elementwise",
           **KINKED),
    OpSpec("minimum", mg.minimum, np.minimum, BINARY_SHAPES, random="elementwise",
           special=([0.5, 1.0], [0.5, 1.0]), **KINKED),
    OpSpec("minimum-ties", mg.minimum, np.minimum, FEW_BINARY_SHAPES,
           make=_picks(TIE_POOL, TIE_POOL), covers=("minimum",), **KINKED),
    OpSpec("minimum-scalar", lambda x: mg.minimum(1.0, x), lambda x: np.minimum(1.0, x),
           UNARY_SHAPES, make=_picks(TIE_POOL), covers=("minimum",), random="elementwise",
           **KINKED),
    OpSpec("clip", lambda x, lo, hi: mg.clip(x, lo, hi), np.clip, CLIP_SHAPES,
           domain=[(-2.0, 2.0), (-1.5, -0.5), (0.5, 1.5)], random="elementwise",
           special=([-1.0, 1.0], [-1.0], [1.0]), **KINKED),
    OpSpec("clip-ties", lambda x, lo, hi: mg.clip(x, lo, hi), np.clip, CLIP_SHAPES,
           make=_picks([-1.0, 1.0, 0.0, 2.0, -2.0], [-1.0, -0.5], [1.0, 0.5]), covers=("clip",),
           **KINKED),
    OpSpec("clip-scalar-bounds", lambda x: mg.clip(x, min=-0.5, max=1),
           lambda x: np.clip(x, -0.5, 1), UNARY_SHAPES, covers=("clip",), random="elementwise",
           special=([-0.5, 1.0],), **KINKED),
    OpSpec("clip-min-only", lambda x, lo: mg.clip(x, min=lo), lambda x, lo: np.maximum(x, lo),
           BINARY_SHAPES[:3], covers=("clip",), random="elementwise", **KINKED),
    OpSpec("clip-max-only", lambda x, hi: mg.clip(x, max=hi), lambda x, hi: np.minimum(x, hi),
           BINARY_SHAPES[:3], covers=("clip",), random="elementwise", **KINKED),
    OpSpec("clip-no-bounds", lambda x: mg.clip(x), lambda x: x, UNARY_SHAPES, covers=("clip",),
           **KINKED),
    # copysign: d/dx1 is +-1 by the signs (0 at x1 == 0), d/dx2 is 0
    OpSpec("copysign", mg.copysign, np.copysign, BINARY_SHAPES, random="elementwise",
           special=([0.0, -0.0], [0.0, -0.0]), **KINKED),
    OpSpec("copysign-signed-zeros", mg.copysign, np.copysign, FEW_BINARY_SHAPES,
           make=_picks(ZERO_POOL, SIGN_POOL), grad_args=(0,), covers=("copysign",), **KINKED),
    OpSpec("copysign-scalars", lambda x: mg.copysign(x, -1.0) + mg.copysign(2.0, x - 0.1),
           lambda x: np.copysign(x, -1.0) + np.copysign(2.0, x - 0.1), UNARY_SHAPES,
           make=_picks(ZERO_POOL), covers=("copysign",), **KINKED),
    # masked singularity: finite (zero) gradients at 0 and below; x * x keeps central
    # differences smooth at 0, while sqrt'(0) = inf would still turn 0 * inf into nan there
    OpSpec("sqrt-masked", _masked_sqrt, _masked_sqrt_ref, UNARY_SHAPES,
           make=_picks([-1.0, -0.25, 0.5, 2.0]), covers=("sqrt", "where")),
    OpSpec("sqrt-masked-at-zero", lambda x: _masked_sqrt(x) * x * x,
           lambda x: _masked_sqrt_ref(x) * x * x, UNARY_SHAPES,
           make=_picks([0.0, -1.0, 0.5, 2.0]), covers=("sqrt", "where", "multiply"),
           second_order="skip"),
    # rounding and sign: float results with a zero gradient (central differences agree away
    # from the jumps)
    _smooth("ceil", special=([0.0, 1.0],), **KINKED),
    _smooth("floor", special=([0.0, -1.0],), **KINKED),
    _smooth("round", special=([0.5, 1.5],), **KINKED),
    _smooth("trunc", special=([0.0, 1.0],), **KINKED),
    _smooth("sign", special=([0.0, -0.0],), **KINKED),
    OpSpec("rounding-int", lambda x: (mg.floor(x), mg.ceil(x), mg.round(x), mg.trunc(x)),
           lambda x: (x, x, x, x), UNARY_SHAPES, make=_ints(-5, 5), differentiable=False,
           covers=("floor", "ceil", "round", "trunc")),
    # complex parts: real input (identity) with gradients; complex input forward only here
    # (tests/test_elementwise_special.py checks the complex cotangents)
    OpSpec("real", mg.real, np.real, UNARY_SHAPES, random="elementwise"),
    OpSpec("conj", mg.conj, np.conj, UNARY_SHAPES, random="elementwise"),
    OpSpec("complex-parts", lambda a, b: _complex_parts(mg, _complex_from(a, b)),
           lambda a, b: _complex_parts(np, a + 1j * b), FEW_BINARY_SHAPES,
           differentiable=False, covers=("real", "imag", "conj", "abs")),
    # no gradient: results must not require grad even from inputs that do
    *[OpSpec(name, getattr(mg, name), getattr(np, name), FEW_BINARY_SHAPES, differentiable=False,
             random="elementwise")
      for name in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")],
    OpSpec("comparisons-ties", lambda a, b: (mg.equal(a, b), mg.less_equal(a, b),
                                             mg.greater(a, b)),
           lambda a, b: (np.equal(a, b), np.less_equal(a, b), np.greater(a, b)),
           FEW_BINARY_SHAPES, make=_picks(TIE_POOL, TIE_POOL), differentiable=False,
           covers=("equal", "less_equal", "greater")),
    OpSpec("comparisons-int", lambda a, b: (mg.less(a, b), mg.not_equal(a, b), a >= 1),
           lambda a, b: (np.less(a, b), np.not_equal(a, b), a >= 1), FEW_BINARY_SHAPES,
           make=_ints(-3, 3), differentiable=False, covers=("less", "not_equal",
                                                            "greater_equal")),
    *[OpSpec(name, getattr(mg, name), getattr(np, name), FEW_BINARY_SHAPES, make=_bools,
             differentiable=False)
      for name in ("logical_and", "logical_or", "logical_xor")],
    OpSpec("logical_not", mg.logical_not, np.logical_not, UNARY_SHAPES, make=_bools,
           differentiable=False),
    *[OpSpec(name, getattr(mg, name), getattr(np, name), FEW_BINARY_SHAPES, make=_ints(-8, 8),
             differentiable=False)
      for name in ("bitwise_and", "bitwise_or", "bitwise_xor")],
    OpSpec("bitwise-bools", lambda a, b: (a & b, a | b, a ^ b, ~a),
           lambda a, b: (a & b, a | b, a ^ b, ~a), FEW_BINARY_SHAPES, make=_bools,
           differentiable=False, covers=("bitwise_and", "bitwise_or", "bitwise_xor",
                                         "bitwise_invert")),
    OpSpec("bitwise_invert", mg.bitwise_invert, np.invert, UNARY_SHAPES, make=_ints(-8, 8),
           differentiable=False),
    OpSpec("bitwise_left_shift", mg.bitwise_left_shift, np.left_shift, FEW_BINARY_SHAPES,
           make=_ints(0, 5), differentiable=False),
    OpSpec("bitwise_right_shift", mg.bitwise_right_shift, np.right_shift, FEW_BINARY_SHAPES,
           make=_ints(0, 5), differentiable=False),
    *[OpSpec(name, getattr(mg, name), getattr(np, name), UNARY_SHAPES,
             make=_picks(CLASSIFY_POOL), differentiable=False, random="elementwise")
      for name in ("isfinite", "isinf", "isnan")],
    OpSpec("signbit", mg.signbit, np.signbit, UNARY_SHAPES, make=_picks(SIGN_POOL),
           differentiable=False, random="elementwise"),
    OpSpec("nextafter", mg.nextafter, np.nextafter, FEW_BINARY_SHAPES, differentiable=False,
           random="elementwise"),
    OpSpec("nextafter-scalar", lambda x: mg.nextafter(x, 0.0), lambda x: np.nextafter(x, 0.0),
           UNARY_SHAPES, differentiable=False, covers=("nextafter",)),
]

_BY_NAME = {s.name: s for s in SPECS}

SPECS += [
    *complex_twins(SPECS, [
        "add", "subtract", "multiply", "divide", "negative", "positive", "square", "sqrt",
        "reciprocal", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "asin",
        "acos", "sinh", "cosh", "acosh", "atanh", "pow", "pow-scalar-exponent",
        "pow-scalar-base", "real", "conj", "round"]),
    # second order on these (the subset the complex cases check to second order)
    *complex_twins(SPECS, ["abs", "exp", "sign"], second_order="fd"),
    # near their branch cuts (the imaginary axis beyond +-i) and poles (i pi / 2) otherwise
    *[complex_twin(_BY_NAME[n], domain=(-0.9, 0.9)) for n in ("atan", "asinh")],
    complex_twin(_BY_NAME["tanh"], domain=(-1.2, 1.2)),
    complex_twin(_BY_NAME["real"], name="imag-complex", fn=mg.imag, ref=np.imag,
                 covers=("imag",)),
    # mixed real and complex arguments: the real one's gradient is the real part
    complex_twin(_BY_NAME["multiply"], args=(1,), name="multiply-real-complex"),
    complex_twin(_BY_NAME["add"], args=(0,), name="add-complex-real"),
    complex_twin(_BY_NAME["divide"], args=(0,), name="divide-complex-real"),
    complex_twin(_BY_NAME["divide"], args=(1,), name="divide-real-complex"),
    complex_twin(_BY_NAME["pow"], args=(1,), name="pow-real-complex"),
    complex_twin(_BY_NAME["pow"], args=(0,), name="pow-complex-real"),
    # a negative real base of a complex power: the principal log, log|x| + i pi
    complex_twin(_BY_NAME["pow"], args=(1,), name="pow-negative-real-complex",
                 domain=[(-2.0, -0.5), (-1.0, 1.0)]),
    complex_twin(_BY_NAME["divide"], name="divide-by-conj", fn=lambda a, b: a / mg.conj(b),
                 ref=lambda a, b: a / np.conj(b), covers=("divide", "conj")),
    # Python complex scalars with complex and with real tensors
    OpSpec("operators-with-complex-scalars", _with_complex_scalars, _with_complex_scalars,
           UNARY_SHAPES, domain=(0.6, 2.0), complex=True, complex_args=(0,),
           covers=("add", "subtract", "multiply", "divide", "pow", "negative", "positive"),
           second_order="skip"),
    OpSpec("operators-real-with-complex-scalars", _real_with_complex_scalars,
           _real_with_complex_scalars, UNARY_SHAPES, domain=(0.6, 2.0), complex=True,
           covers=("add", "subtract", "multiply", "divide", "pow"), second_order="skip"),
]
