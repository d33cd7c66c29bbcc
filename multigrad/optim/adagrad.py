"""Adagrad (Duchi, Hazan and Singer, 2011): per-coordinate steps that shrink with the sum of
squared gradients seen so far."""

from __future__ import annotations

from ..autograd import Tensor
from ..ops import full_like, sqrt, zeros
from .optimizer import Optimizer, ParamsT, _check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad.

    With gradient :math:`g_t` (plus ``weight_decay * p`` when weight decay is on):

    .. math::

        s_t = s_{t-1} + g_t^2, \quad
        p_t = p_{t-1} - \frac{\mathrm{lr}}{1 + (t - 1)\,\mathrm{lr\_decay}}\,
              \frac{g_t}{\sqrt{s_t} + \epsilon},

    from :math:`s_0` = ``initial_accumulator_value`` everywhere (on the parameter's device).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The parameters to update, or parameter groups (see ``Optimizer``).
    lr : float
        The learning rate.
    lr_decay : float
        Divides the learning rate by ``1 + (t - 1) * lr_decay`` at step ``t``.
    weight_decay : float
        The L2 penalty, added to the gradient.
    initial_accumulator_value : float
        The starting value of the sum of squares.
    eps : float
        Added to the denominator for numerical stability.
    """

    _STATE_KEYS = frozenset({"step", "sum"})
    _COUNTERS = frozenset({"step"})

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _check_options(self, group: dict, where: str) -> None:
        super()._check_options(group, where)
        _check_range(group, "lr_decay", where)
        _check_range(group, "initial_accumulator_value", where)
        _check_range(group, "eps", where)

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        if not state:
            # the step count is a tensor, as in Adam: a compiled step reads it as data
            state = {"step": zeros((), dtype=p.dtype, device=p.device),
                     "sum": full_like(p, group["initial_accumulator_value"])}
        t = state["step"] + 1
        s = state["sum"] + g * g
        step = group["lr"] / (1 + (t - 1) * group["lr_decay"]) * g / (sqrt(s) + group["eps"])
        return p - step, {**state, "step": t, "sum": s}
