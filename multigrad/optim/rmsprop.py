"""RMSprop (Hinton's lecture 6e, 2012), optionally centred (Graves, 2013) and with momentum."""

from __future__ import annotations

from ..autograd import Tensor
from ..ops import clip, sqrt, zeros_like
from .optimizer import Optimizer, ParamsT, _check_range

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop: steps divided by a running root mean square of the gradients.

    With gradient :math:`g_t` (plus ``weight_decay * p`` when weight decay is on):

    .. math::

        v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2, \quad
        d_t = \sqrt{v_t - \bar g_t^2} + \epsilon \text{ (centred) or } \sqrt{v_t} + \epsilon,

    where :math:`\bar g_t = \alpha \bar g_{t-1} + (1 - \alpha) g_t`; then
    :math:`p_t = p_{t-1} - \mathrm{lr}\, g_t / d_t`, or with momentum :math:`\mu`,
    :math:`b_t = \mu b_{t-1} + g_t / d_t` and :math:`p_t = p_{t-1} - \mathrm{lr}\, b_t`. All
    averages start at zero on the parameter's device.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The parameters to update, or parameter groups (see ``Optimizer``).
    lr : float
        The learning rate.
    alpha : float
        The decay rate of the running averages, in [0, 1].
    eps : float
        Added to the denominator for numerical stability.
    weight_decay : float
        The L2 penalty, added to the gradient.
    momentum : float
        The momentum factor (0 turns momentum off).
    centered : bool
        Divide by an estimate of the gradient's standard deviation instead of its RMS.
    """

    _STATE_KEYS = frozenset({"square_avg", "grad_avg", "momentum_buffer"})

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _check_options(self, group: dict, where: str) -> None:
        super()._check_options(group, where)
        _check_range(group, "alpha", where, high=1.0)
        _check_range(group, "eps", where)
        _check_range(group, "momentum", where)

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        alpha = group["alpha"]
        v = alpha * state.get("square_avg", zeros_like(p)) + (1 - alpha) * (g * g)
        new_state = {**state, "square_avg": v}
        if group["centered"]:
            g_avg = alpha * state.get("grad_avg", zeros_like(p)) + (1 - alpha) * g
            new_state["grad_avg"] = g_avg
            # v - g_avg**2 >= 0 in exact arithmetic; rounding must not make the root NaN
            v = clip(v - g_avg * g_avg, min=0.0)
        step = g / (sqrt(v) + group["eps"])
        if group["momentum"]:
            step = group["momentum"] * state.get("momentum_buffer", zeros_like(p)) + step
            new_state["momentum_buffer"] = step
        return p - group["lr"] * step, new_state
