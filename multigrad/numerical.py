"""Numerical differentiation (forward and central differences) and ``gradcheck``.

Finite differences are the reference every derivative rule is tested against. They evaluate the
function on tensors without recording, so they work for any multigrad function on any device.

Complex inputs ``z = x + iy`` are perturbed in their real and imaginary parts separately, and
the results follow JAX's convention, as every rule does: the gradient of a real-valued ``f`` is
``df/dx - i df/dy``.
"""

from __future__ import annotations

import math

from .autograd import Tensor, no_grad
from .autograd._backward import grad as _reverse_grad
from .backends import as_dtype
from .ops.elementwise import real as _real
from .ops.statistical import sum as _sum

__all__ = ["default_step", "derivative", "directional", "numerical_grad", "gradcheck",
           "GradcheckError"]

_EPS = {"float32": 2.0 ** -23, "float64": 2.0 ** -52}


def default_step(dtype, method: str = "central") -> float:
    """The step that balances truncation and rounding error for a dtype.

    Central differences have error O(h**2) + O(eps/h), best at h ~ eps**(1/3); forward
    differences have O(h) + O(eps/h), best at h ~ eps**(1/2).
    """
    eps = _EPS.get(as_dtype(dtype).name.replace("complex64", "float32")
                   .replace("complex128", "float64"))
    if eps is None:
        raise TypeError(f"finite differences need a floating dtype, not {dtype}")
    return eps ** (1 / 3) if method == "central" else math.sqrt(eps)


def _check_method(method):
    if method not in ("central", "forward"):
        raise ValueError(f"method must be 'central' or 'forward', not {method!r}")


def directional(f, inputs, directions, *, method="central", step=None):
    """The derivative of ``f`` at ``inputs`` along ``directions`` by finite differences.

    ``f`` takes the inputs positionally and returns a tensor; the result has ``f``'s output
    shape. ``step`` defaults to ``default_step`` of the first input's dtype.
    """
    _check_method(method)
    inputs, directions = list(inputs), list(directions)
    h = step if step is not None else default_step(inputs[0].dtype, method)

    def at(sign):
        # fresh leaves that need gradients where the inputs did, so f may differentiate
        # internally (a gradient checked by differences of itself: second order)
        with no_grad():
            moved = [x.detach() + sign * h * u.detach() for x, u in zip(inputs, directions)]
        return f(*(m.requires_grad_() if x.requires_grad else m
                   for m, x in zip(moved, inputs))).detach()

    if method == "central":
        return (at(1) - at(-1)) / (2 * h)
    return (at(1) - at(0)) / h


def derivative(f, x, *, method="central", step=None):
    """The derivative of a scalar function of a scalar, ``f'(x)``, by finite differences (for
    complex ``x``, along the real axis: ``f'(z)`` for a holomorphic ``f``)."""
    return directional(f, [x], [x * 0 + 1], method=method, step=step)


def _is_complex(t) -> bool:
    return t.dtype.kind == "complex floating"


def numerical_grad(f, inputs, *, method="central", step=None, holomorphic=False):
    """The gradient of a scalar-valued ``f`` with respect to each input, element by element.

    ``f`` returns a real scalar; an element ``z = x + iy`` of a complex input is moved along
    its real and its imaginary part, and gets ``df/dx - i df/dy`` (JAX's convention). With
    ``holomorphic=True``, ``f`` returns a complex scalar and the result is ``f'(z)``, moving
    ``z`` along the real axis only. Costs two evaluations of ``f`` per element and part (one
    for forward differences, plus one). Returns a tuple of tensors shaped like the inputs.
    """
    _check_method(method)
    inputs = [x.detach().requires_grad_(x.requires_grad) for x in inputs]
    grads = []
    checked = False
    for k, x in enumerate(inputs):
        xp = x.device.xp
        h = step if step is not None else default_step(x.dtype, method)
        flat = xp.reshape(x.data, (-1,))
        # the basis vectors compare positions instead of writing an element: JAX's arrays
        # take no item assignment
        positions = xp.arange(x.size, device=x.device.native)
        parts = (1, 1j) if _is_complex(x) and not holomorphic else (1,)
        g = []
        for i in range(x.size):
            others = [y if j != k else None for j, y in enumerate(inputs)]

            def along(xk, others=others):
                return f(*(xk if y is None else y for y in others))

            total = None
            for part in parts:
                unit = xp.astype(positions == i, flat.dtype) * part
                u = Tensor(xp.reshape(unit, x.shape), x.device)
                d = directional(along, [x], [u], method=method, step=h)
                if not checked:
                    _check_output("numerical_grad", d, holomorphic)
                    checked = True
                d = d.data if d.ndim == 0 else xp.reshape(d.data, ())
                # df/dx - i df/dy: the part along i enters times -i
                total = d if total is None else total - 1j * d
            g.append(total)
        grads.append(Tensor(xp.reshape(xp.stack(g), x.shape) if g else xp.zeros_like(x.data),
                            x.device))
    return tuple(grads)


def _check_output(caller, out, holomorphic) -> None:
    """A real output, or a complex one with ``holomorphic``."""
    if _is_complex(out) and not holomorphic:
        raise TypeError(f"{caller}: f returned a complex value ({out.dtype.name}); the gradient "
                        "is defined for a real-valued f (return mg.real(y), mg.abs(y) ** 2...), "
                        "or pass holomorphic=True for f'(z) of a holomorphic f")
    if holomorphic and not _is_complex(out):
        raise TypeError(f"{caller}: holomorphic=True needs f to return a complex value, got "
                        f"{out.dtype.name}")


class GradcheckError(AssertionError):
    """Reverse-mode gradients disagree with finite differences."""


def gradcheck(f, *inputs, atol=None, rtol=None, step=None, raise_exception=True) -> bool:
    """Check the reverse-mode gradient of ``f`` against central differences.

    ``f`` takes the inputs positionally; a non-scalar output is reduced with a fixed random
    weighting so that every output element counts (the real part of a complex output weighted
    by complex weights, so that its real and imaginary parts count). Every floating input that
    requires gradients is checked element by element, a complex one in its real and its
    imaginary part (JAX's convention: the gradient is ``df/dx - i df/dy``). Use float64 or
    complex128 inputs: float32 central differences carry errors near 1e-3.

    Returns True, or raises ``GradcheckError`` naming the input, the worst element and both
    values (returns False instead with ``raise_exception=False``).
    """
    checked = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires gradients (use "
                         "multigrad.tensor(..., requires_grad=True))")
    dtype = inputs[checked[0]].dtype
    precise = dtype.name in ("float64", "complex128")
    atol = atol if atol is not None else (1e-6 if precise else 1e-2)
    rtol = rtol if rtol is not None else (1e-5 if precise else 1e-2)

    out = f(*inputs)
    weights = _fixed_weights(out)

    def scalar(*xs):
        y = f(*xs) * weights
        return _sum(_real(y) if _is_complex(y) else y)

    analytic = _reverse_grad(scalar(*inputs), [inputs[k] for k in checked], allow_unused=True)
    for k, a in zip(checked, analytic):
        def of_k(xk, k=k):
            return scalar(*(xk if j == k else x for j, x in enumerate(inputs)))
        n = numerical_grad(of_k, [inputs[k]], step=step)[0]
        a_host = inputs[k].device.to_host(a.data) if a is not None else 0 * n.numpy()
        n_host = n.numpy()
        err = abs(a_host - n_host) - (atol + rtol * abs(n_host))
        if err.size and err.max() > 0:
            worst = tuple(int(i) for i in _unravel(err.argmax(), err.shape))
            reverse, numeric = a_host[worst].item(), n_host[worst].item()  # plain Python numbers
            msg = (f"gradcheck: gradient of input {k} (shape {inputs[k].shape}) disagrees with "
                   f"central differences at element {worst}: reverse mode {reverse!r}, "
                   f"numerical {numeric!r} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def _unravel(flat_index: int, shape) -> tuple:
    """A flat index as a tuple of indices into ``shape`` (C order)."""
    idx = []
    for n in reversed(shape):
        flat_index, r = divmod(int(flat_index), n)
        idx.append(r)
    return tuple(reversed(idx))


def _fixed_weights(out: Tensor) -> Tensor:
    """Deterministic weights in [0.5, 1.5) of the output's shape (so no element cancels); for
    a complex output, complex weights whose imaginary parts are drawn in [0.5, 1.5) too."""
    gen = out.device.random(1234)
    real = "float32" if out.dtype.name in ("float32", "complex64") else "float64"
    xp = out.device.xp
    data = xp.astype(gen.uniform(out.shape, out.device.native_dtype(real), 0.5, 1.5),
                     out.data.dtype)
    if _is_complex(out):
        data = data + xp.astype(gen.uniform(out.shape, out.device.native_dtype(real), 0.5, 1.5),
                                out.data.dtype) * 1j
    return Tensor(data, out.device)
