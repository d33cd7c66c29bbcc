"""Adam (Kingma and Ba, 2015), with AMSGrad (Reddi et al., 2018), and AdamW (Loshchilov and
Hutter, 2019), whose weight decay is decoupled from the gradient."""

from __future__ import annotations

from ..autograd import Tensor
from ..ops import maximum, sqrt, zeros, zeros_like
from .optimizer import Optimizer, ParamsT, _check_range

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam: steps scaled by running estimates of the gradient's first two moments.

    With gradient :math:`g_t` (plus ``weight_decay * p`` when weight decay is on):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1} - \mathrm{lr}\, \frac{m_t / (1 - \beta_1^t)}
              {\sqrt{v_t / (1 - \beta_2^t)} + \epsilon},

    from :math:`m_0 = v_0 = 0` (zeros on the parameter's device). With ``amsgrad``, the running
    maximum :math:`\hat v_t = \max(\hat v_{t-1}, v_t)` replaces :math:`v_t` in the step.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The parameters to update, or parameter groups (see ``Optimizer``).
    lr : float
        The learning rate.
    betas : (float, float)
        The decay rates :math:`\beta_1, \beta_2` of the two moment estimates, in [0, 1).
    eps : float
        Added to the denominator for numerical stability.
    weight_decay : float
        The L2 penalty, added to the gradient (``AdamW`` decouples it instead).
    amsgrad : bool
        Use the running maximum of the second moment (AMSGrad).
    """

    _STATE_KEYS = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    _COUNTERS = frozenset({"step"})

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _check_options(self, group: dict, where: str) -> None:
        super()._check_options(group, where)
        _check_range(group, "eps", where)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair of floats, got {betas!r}")
        for i, beta in enumerate(betas):
            _check_range({f"betas[{i}]": beta}, f"betas[{i}]", where, high=1.0, high_open=True)

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        beta1, beta2 = group["betas"]
        if not state:
            state = {"step": zeros((), dtype=p.dtype, device=p.device),
                     "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}
        t = state["step"] + 1
        m = beta1 * state["exp_avg"] + (1 - beta1) * g
        v = beta2 * state["exp_avg_sq"] + (1 - beta2) * (g * g)
        new_state = {**state, "step": t, "exp_avg": m, "exp_avg_sq": v}
        if group["amsgrad"]:
            v = maximum(state.get("max_exp_avg_sq", v), v)
            new_state["max_exp_avg_sq"] = v
        # the step count is a tensor on the parameter's device, as are the bias corrections:
        # a compiled step then reads it as data, rather than a Python value that changes
        # on every call
        m_hat = m * (1 / (1 - beta1 ** t))
        v_hat = v * (1 / (1 - beta2 ** t))
        return p - group["lr"] * m_hat / (sqrt(v_hat) + group["eps"]), new_state


class AdamW(Adam):
    r"""Adam with decoupled weight decay.

    Each step first shrinks the parameter, :math:`p \leftarrow p\,(1 - \mathrm{lr} \cdot
    \mathrm{weight\_decay})`, then takes Adam's step from the plain gradient, so the decay is
    not rescaled by the moment estimates. Parameters as for ``Adam``; ``weight_decay``
    defaults to 0.01.
    """

    _decoupled_decay = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        if group["weight_decay"]:
            p = p * (1 - group["lr"] * group["weight_decay"])
        return super()._update(p, g, state, group)
