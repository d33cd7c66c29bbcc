"""Stochastic gradient descent with momentum (heavy ball or Nesterov) and weight decay."""

from __future__ import annotations

from ..autograd import Tensor
from .optimizer import Optimizer, ParamsT, _check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum.

    With gradient :math:`g_t` (plus ``weight_decay * p`` when weight decay is on), momentum
    :math:`\mu` and dampening :math:`\tau`:

    .. math::

        b_1 = g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t, \qquad
        p_t = p_{t-1} - \mathrm{lr}\,(g_t + \mu b_t \text{ if nesterov else } b_t),

    and without momentum :math:`p_t = p_{t-1} - \mathrm{lr}\, g_t`. The momentum buffer is
    created from the first gradient, on the parameter's device.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The parameters to update, or parameter groups (see ``Optimizer``).
    lr : float
        The learning rate.
    momentum : float
        The momentum factor :math:`\mu` (0 turns momentum off).
    dampening : float
        Scales down each new gradient's share of the momentum buffer.
    weight_decay : float
        The L2 penalty: ``weight_decay * p`` is added to the gradient.
    nesterov : bool
        Nesterov's momentum (Sutskever et al., 2013); needs momentum > 0 and no dampening.
    """

    _STATE_KEYS = frozenset({"momentum_buffer"})

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _check_options(self, group: dict, where: str) -> None:
        super()._check_options(group, where)
        _check_range(group, "momentum", where)
        _check_range(group, "dampening", where, high=1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov momentum needs momentum > 0 and dampening 0, "
                             f"got momentum {group['momentum']!r} and dampening "
                             f"{group['dampening']!r}")

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            buf = g if buf is None else mu * buf + (1 - group["dampening"]) * g
            state = {**state, "momentum_buffer": buf}
            g = g + mu * buf if group["nesterov"] else buf
        return p - group["lr"] * g, state
